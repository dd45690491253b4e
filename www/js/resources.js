// Shared cache of GET /cluster/resources: every guest (qemu/lxc), storage and
// node of the cluster in one list. The tree and the guest views read it; the
// views use it to find which node a guest lives on.
//
// A server without the endpoint (501) is not an error: the console then shows
// nodes only and asks again after a while, so a daemon that gains the endpoint
// on upgrade is picked up without a reload.

import { api, ApiError } from './api.js';
import { onTaskEvent } from './events.js';
import { debounce } from './poll.js';

const RETRY_UNSUPPORTED_MS = 5 * 60 * 1000;

let cache = null;       // last successful list
let cacheTime = 0;
let inflight = null;
let unsupportedUntil = 0;
const subscribers = new Set();

function notify(list, error) {
  for (const fn of subscribers) {
    try { fn(list, error); } catch (err) { console.debug('resources subscriber failed', err); }
  }
}

/** True while the server is known not to serve /cluster/resources. */
export const resourcesUnsupported = () => Date.now() < unsupportedUntil;

/**
 * Resolve to the resource list (cached when younger than maxAge ms); [] when the
 * server lacks the endpoint. Rejects with an ApiError on other failures.
 */
export function loadResources({ maxAge = 2000 } = {}) {
  if (cache && Date.now() - cacheTime < maxAge) return Promise.resolve(cache);
  if (resourcesUnsupported()) return Promise.resolve(cache || []);
  if (inflight) return inflight;
  inflight = api('/cluster/resources')
    .then((list) => {
      cache = (Array.isArray(list) ? list : []).filter((r) => r && typeof r.type === 'string');
      cacheTime = Date.now();
      notify(cache, null);
      return cache;
    })
    .catch((err) => {
      if (err instanceof ApiError && err.status === 501) {
        unsupportedUntil = Date.now() + RETRY_UNSUPPORTED_MS;
        cache = [];
        cacheTime = Date.now();
        notify(cache, null);
        return cache;
      }
      notify(cache, err);
      throw err;
    })
    .finally(() => { inflight = null; });
  return inflight;
}

/** fn(list|null, error|null) on every refresh; returns an unsubscribe function. */
export function subscribeResources(fn) {
  subscribers.add(fn);
  if (cache) fn(cache, null);
  return () => subscribers.delete(fn);
}

export const isGuest = (r) => r && (r.type === 'qemu' || r.type === 'lxc') && Number.isFinite(Number(r.vmid));

/** The cached entry of a guest, or null (no request). */
export function cachedGuest(type, vmid) {
  return (cache || []).find((r) => r.type === type && Number(r.vmid) === Number(vmid)) || null;
}

/** The entry of a guest, reloading the list when it is not (or no longer) there. */
export async function findGuest(type, vmid, { maxAge = 10000 } = {}) {
  const hit = cachedGuest(type, vmid);
  if (hit && Date.now() - cacheTime < maxAge) return hit;
  await loadResources({ maxAge: 0 });
  return cachedGuest(type, vmid);
}

/** Every VMID in use (from the cache), for a fallback when /cluster/nextid is missing. */
export const usedVmids = () => new Set((cache || []).filter(isGuest).map((r) => Number(r.vmid)));

// Guests appear, vanish and change state through tasks: refresh soon after one ends.
const soon = debounce(() => { if (cache) loadResources({ maxAge: 0 }).catch(() => { /* shown by subscribers */ }); }, 400);
onTaskEvent((kind) => { if (kind === 'task-finished' || kind === 'resync') soon(); });
