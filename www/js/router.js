// Routes live in the URL hash so reload, back/forward and bookmarks work:
//   #dc[/tab[/sub]]            Datacenter
//   #node/<name>[/tab[/sub]]   a node (sub: e.g. the storage a Storage tab shows)
//   #qemu/<vmid>[/tab[/sub]]   a virtual machine
//   #lxc/<vmid>[/tab[/sub]]    a container
// (sub: the sub-tab of a tab with a strip of its own, e.g. Firewall → Rules)
// A route's `key` is also the resource tree key of the selected object (and,
// for guests, the `id` that /cluster/resources gives them). Guests are named by
// VMID alone because they move between nodes; views look the node up.
// Unknown or missing tabs are resolved to the object's first tab by content.js.

const GUEST_TYPES = new Set(['qemu', 'lxc']);

/** "#node/pve1/tasks" → {type:'node', node:'pve1', tab:'tasks', key:'node/pve1'} */
export function parseRoute(hash) {
  const parts = String(hash || '').replace(/^#\/?/, '').split('/').map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  if (parts[0] === 'node' && parts[1]) {
    return { type: 'node', node: parts[1], key: `node/${parts[1]}`, tab: parts[2], sub: parts[3] || undefined };
  }
  if (GUEST_TYPES.has(parts[0]) && /^\d+$/.test(parts[1] || '')) {
    return { type: parts[0], vmid: Number(parts[1]), key: `${parts[0]}/${Number(parts[1])}`, tab: parts[2], sub: parts[3] || undefined };
  }
  const dc = parts[0] === 'dc';
  return { type: 'dc', key: 'dc', tab: dc ? parts[1] : undefined, sub: (dc && parts[2]) || undefined };
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
