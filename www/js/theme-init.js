// Classic (non-module) script loaded synchronously in <head>: apply a stored
// theme before first paint. The toggle logic lives in theme.js.
try {
  var t = localStorage.getItem('corral.theme');
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
} catch (e) { /* storage disabled: follow prefers-color-scheme */ }
