// A list the console fetches from one API path and shares between views:
// kept for a while, one request in flight at a time, and subscribers told of
// every fresh result (or failure). nodes.js and resources.js are built on it.

import { api } from './api.js';

/**
 * cachedList(path, {label, normalize, skip, fallback}) → {load, subscribe, cached, age, patch}
 * - normalize(array): the list to keep (filtered, sorted) from the answer (an array, [] for anything else)
 * - skip(): true while the path is known not to answer: load() then resolves to the cache (or []) unasked
 * - fallback(err): a list to keep in place of a failure, or null to fail
 */
export function cachedList(path, { label, normalize = (list) => list, skip = () => false, fallback = () => null }) {
  let cache = null;      // last successful list
  let cacheTime = 0;
  let inflight = null;
  const subscribers = new Set();

  function notify(list, error) {
    for (const fn of subscribers) {
      try { fn(list, error); } catch (err) { console.debug(`${label} subscriber failed`, err); }
    }
  }

  function keep(list) {
    cache = list;
    cacheTime = Date.now();
    notify(cache, null);
    return cache;
  }

  return {
    /** Resolve to the list, from the cache when younger than maxAge ms; rejects with an ApiError (subscribers are told too). */
    load({ maxAge = 2000 } = {}) {
      if (cache && Date.now() - cacheTime < maxAge) return Promise.resolve(cache);
      if (skip()) return Promise.resolve(cache || []);
      if (inflight) return inflight;
      inflight = api(path)
        .then((list) => keep(normalize(Array.isArray(list) ? list : [])))
        .catch((err) => {
          const alt = fallback(err);
          if (alt) return keep(alt);
          notify(cache, err);
          throw err;
        })
        .finally(() => { inflight = null; });
      return inflight;
    },
    /** fn(list|null, error|null) on every refresh; returns an unsubscribe function. */
    subscribe(fn) {
      subscribers.add(fn);
      if (cache) fn(cache, null);
      return () => subscribers.delete(fn);
    },
    /** Change the cached list in place of asking again (an event said what changed); no-op before the first list. */
    patch(fn) {
      if (!cache) return;
      cache = fn(cache);
      notify(cache, null);
    },
    /** The last list, or null before the first one (no request). */
    cached: () => cache,
    /** Milliseconds since the last list came (very large before the first). */
    age: () => Date.now() - cacheTime,
  };
}
