// Shared cache of GET /nodes. The tree, the datacenter summary and the task
// panel all read node lists; this keeps them consistent and avoids duplicate
// requests. Subscribers are told about every fresh result (or failure).

import { api } from './api.js';

let cache = null;      // last successful list, sorted by name
let cacheTime = 0;
let inflight = null;
const subscribers = new Set();

function notify(nodes, error) {
  for (const fn of subscribers) {
    try { fn(nodes, error); } catch (err) { console.debug('nodes subscriber failed', err); }
  }
}

/**
 * Resolve to the node list, using the cache when younger than maxAge ms.
 * Rejects with an ApiError (subscribers are told too).
 */
export function loadNodes({ maxAge = 2000 } = {}) {
  if (cache && Date.now() - cacheTime < maxAge) return Promise.resolve(cache);
  if (inflight) return inflight;
  inflight = api('/nodes')
    .then((list) => {
      cache = (Array.isArray(list) ? list : [])
        .filter((n) => n && typeof n.node === 'string')
        .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
      cacheTime = Date.now();
      notify(cache, null);
      return cache;
    })
    .catch((err) => {
      notify(cache, err);
      throw err;
    })
    .finally(() => { inflight = null; });
  return inflight;
}

/** fn(nodes|null, error|null) on every refresh; returns an unsubscribe function. */
export function subscribeNodes(fn) {
  subscribers.add(fn);
  if (cache) fn(cache, null);
  return () => subscribers.delete(fn);
}

export const isOnline = (n) => n && n.status === 'online';
