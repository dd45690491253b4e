// Shared cache of GET /nodes. The tree, the datacenter summary and the task
// panel all read node lists; this keeps them consistent and avoids duplicate
// requests. Subscribers are told about every fresh result (or failure).

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
