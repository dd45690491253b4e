// Routes live in the URL hash so reload, back/forward and bookmarks work:
//   #dc[/tab]            Datacenter
//   #node/<name>[/tab]   a node
// A route's `key` is also the resource tree key of the selected object.
// Unknown or missing tabs are resolved to the object's first tab by content.js.

/** "#node/pve1/tasks" → {type:'node', node:'pve1', tab:'tasks', key:'node/pve1'} */
export function parseRoute(hash) {
  const parts = String(hash || '').replace(/^#\/?/, '').split('/').map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  if (parts[0] === 'node' && parts[1]) {
    return { type: 'node', node: parts[1], key: `node/${parts[1]}`, tab: parts[2] };
  }
  return { type: 'dc', key: 'dc', tab: parts[0] === 'dc' ? parts[1] : undefined };
}

/** Tree key (+ optional tab) → location hash. */
export function hashFor(key, tab) {
  const [type, ...rest] = key.split('/');
  const path = [type, ...rest.map(encodeURIComponent)];
  if (tab) path.push(tab);
  return '#' + path.join('/');
}

/** Navigate (adds a history entry; the hashchange listener renders). */
export function navigate(key, tab) {
  const hash = hashFor(key, tab);
  if (location.hash !== hash) location.hash = hash;
}
