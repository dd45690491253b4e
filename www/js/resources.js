// Shared cache of GET /cluster/resources: every guest (qemu/lxc), storage and
// node of the cluster in one list. The tree and the guest views read it; the
// views use it to find which node a guest lives on.
//
// A server without the endpoint (501) is not an error: the console then shows
// nodes only and asks again after a while, so a daemon that gains the endpoint
// on upgrade is picked up without a reload.

import { ApiError } from './api.js';
import { onTaskEvent, eventMode } from './events.js';
import { debounce } from './poll.js';
import { cachedList } from './cached-list.js';

const RETRY_UNSUPPORTED_MS = 5 * 60 * 1000;

let unsupportedUntil = 0;

/** True while the server is known not to serve /cluster/resources. */
export const resourcesUnsupported = () => Date.now() < unsupportedUntil;

const resources = cachedList('/cluster/resources', {
  label: 'resources',
  normalize: (list) => list.filter((r) => r && typeof r.type === 'string'),
  skip: resourcesUnsupported,
  fallback: (err) => {
    if (!(err instanceof ApiError) || err.status !== 501) return null;
    unsupportedUntil = Date.now() + RETRY_UNSUPPORTED_MS;
    return [];
  },
});

/**
 * Resolve to the resource list (cached when younger than maxAge ms); [] when the
 * server lacks the endpoint. Rejects with an ApiError on other failures.
 */
export const loadResources = (opts) => resources.load(opts);

/** fn(list|null, error|null) on every refresh; returns an unsubscribe function. */
export const subscribeResources = (fn) => resources.subscribe(fn);

export const isGuest = (r) => r && (r.type === 'qemu' || r.type === 'lxc') && Number.isFinite(Number(r.vmid));

/** The cached entry of a guest, or null (no request). */
export function cachedGuest(type, vmid) {
  return (resources.cached() || []).find((r) => r.type === type && Number(r.vmid) === Number(vmid)) || null;
}

/** The entry of a guest, reloading the list when it is not (or no longer) there. */
export async function findGuest(type, vmid, { maxAge = 10000 } = {}) {
  const hit = cachedGuest(type, vmid);
  if (hit && resources.age() < maxAge) return hit;
  await loadResources({ maxAge: 0 });
  return cachedGuest(type, vmid);
}

/** Every VMID in use (from the cache), for a fallback when /cluster/nextid is missing. */
export const usedVmids = () => new Set((resources.cached() || []).filter(isGuest).map((r) => Number(r.vmid)));

/** Apply a resource event to the cached list: the row replaces (merges into) its entry, or joins it. */
function applyResource(kind, row) {
  if (!row || typeof row.id !== 'string') return;
  resources.patch((list) => {
    const at = list.findIndex((r) => r.id === row.id);
    if (kind === 'resource-removed') return at < 0 ? list : list.filter((_, i) => i !== at);
    if (typeof row.type !== 'string') return list;
    const next = list.slice();
    if (at < 0) next.push(row);
    else next[at] = { ...row, pool: row.pool ?? list[at].pool }; // the pool is the list's own addition
    return next;
  });
}

// While the stream is live, resource events keep the list current; when it is
// not (polling, or a resync), refresh soon after a task ends.
const soon = debounce(() => { if (resources.cached()) loadResources({ maxAge: 0 }).catch(() => { /* shown by subscribers */ }); }, 400);
onTaskEvent((kind, data) => {
  if (kind === 'resource' || kind === 'resource-removed') applyResource(kind, data);
  else if (kind === 'resync' || (kind === 'task-finished' && eventMode() !== 'live')) soon();
});
