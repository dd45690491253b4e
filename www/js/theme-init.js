// Classic (non-module) script loaded synchronously in <head>: set
// <html data-theme> before first paint (stored choice, else the system
// preference). theme.js keeps it up to date afterwards.
(function () {
  var t = null;
  try { t = localStorage.getItem('corral.theme'); } catch (e) { /* storage disabled */ }
  if (t !== 'light' && t !== 'dark') {
    t = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  document.documentElement.dataset.theme = t;
})();
