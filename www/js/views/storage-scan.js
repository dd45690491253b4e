// Suggestions for the storage dialog's fields from GET /nodes/{node}/scan/…: volume groups, thin
// pools, ZFS pools, NFS exports, SMB shares, iSCSI targets. A scan runs on one node (this one, or
// the one picked as Scan node). Its answer only suggests: the field stays free text, so a node
// that cannot scan (a tool missing, a server unreachable) still lets one type the name.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { field } from '../form.js';
import { loadNodes } from '../nodes.js';

/** The Scan node select, filled with the online nodes; the one answering this console first chosen. */
export function scanNodeField() {
  const f = field({ label: 'Scan node', name: 'scan-node', type: 'select', hint: 'The node whose disks and network the suggestions come from.' });
  f.ready = (async () => {
    try {
      const names = (await loadNodes({ maxAge: 10000 })).filter((n) => n.status !== 'offline').map((n) => n.node);
      let local = null;
      if (names.length > 1) {
        // In a cluster, /cluster/status marks the node that answered (the one the console talks to).
        const status = await api('/cluster/status').catch(() => []);
        local = (Array.isArray(status) ? status : []).find((x) => x && x.type === 'node' && Number(x.local))?.name;
      }
      f.setOptions(names);
      if (names.length) f.set(names.includes(local) ? local : names[0]);
      else f.setError('No node is online to scan.');
    } catch (e) {
      f.setError(`Could not load the node list: ${errorText(e)}`);
    }
  })();
  return f;
}

/**
 * Offer each [descriptor, field] of `scans` (see storage-types.js) what its scan finds on the node of
 * `nodeField`. A scan runs when its field gets focus, when a field it needs changes and when the
 * node changes; one that needs nothing runs at once. A note under the field says what came back.
 */
export function offerScans(scans, byName, nodeField) {
  for (const [d, f] of scans) {
    const s = d.scan;
    const needs = s.needs || Object.keys(s.params || {});
    const note = h('p', { class: 'field-hint scan-note', 'aria-live': 'polite' });
    f.el.append(note);
    let asked = null;
    let seq = 0;
    const scan = async (force = false) => {
      const node = nodeField.get();
      const params = {};
      for (const [param, name] of Object.entries(s.params || {})) {
        const v = byName[name]?.get();
        if (v) params[param] = v;
      }
      if (!node || needs.some((p) => !params[p])) return;
      const key = JSON.stringify([node, params]);
      if (key === asked && !force) return;
      asked = key;
      const my = ++seq;
      setText(note, `Scanning ${node}…`);
      try {
        const list = await api(`/nodes/${seg(node)}/scan/${s.path}`, { params });
        if (my !== seq) return;
        const found = [...new Set((Array.isArray(list) ? list : []).map((x) => x && x[s.key]).filter(Boolean))].sort();
        f.setOptions(found);
        setText(note, found.length ? `${found.length} found on ${node}: pick one or type a name.` : `None found on ${node}.`);
      } catch (e) {
        if (my !== seq) return;
        f.setOptions([]);
        setText(note, `Could not scan ${node}: ${errorText(e)}`);
      }
    };
    f.input.addEventListener('focus', () => scan());
    for (const name of Object.values(s.params || {})) byName[name]?.input.addEventListener('change', () => scan());
    nodeField.input.addEventListener('change', () => scan(true));
    if (!needs.length) nodeField.ready.then(() => scan());
  }
}
