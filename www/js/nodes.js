// Shared cache of GET /nodes. The tree, the datacenter summary and the task
// panel all read node lists; this keeps them consistent and avoids duplicate
// requests. Subscribers are told about every fresh result (or failure).

import { api, seg } from './api.js';
import { cachedList } from './cached-list.js';

const nodes = cachedList('/nodes', {
  label: 'nodes',
  // sorted by name
  normalize: (list) => list.filter((n) => n && typeof n.node === 'string')
    .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true })),
});

/**
 * Resolve to the node list, using the cache when younger than maxAge ms.
 * Rejects with an ApiError (subscribers are told too).
 */
export const loadNodes = (opts) => nodes.load(opts);

/** fn(nodes|null, error|null) on every refresh; returns an unsubscribe function. */
export const subscribeNodes = (fn) => nodes.subscribe(fn);

export const isOnline = (n) => n && n.status === 'online';

/**
 * Offer a node's bridges (GET /nodes/{node}/network?type=any_bridge) as suggestions of a field
 * (form.js, with a `list`): they only suggest, so a node that cannot list them leaves a free text field.
 */
export async function offerBridges(fld, node, { signal } = {}) {
  try {
    const list = await api(`/nodes/${seg(node)}/network`, { params: { type: 'any_bridge' }, signal });
    fld.setOptions((Array.isArray(list) ? list : []).map((b) => b.iface).filter(Boolean).sort());
  } catch (e) {
    if (e.name !== 'AbortError') console.debug('bridges:', e.message);
  }
}
