// Live notifications from GET /api2/json/events (server-sent events), cluster-wide.
//
// Subscribers receive (kind, data):
//   'task-started' / 'task-finished'  data = {upid, node, type, id, user, status?}
//   'resource'          data = a row of /cluster/resources whose state or configuration changed
//   'resource-removed'  data = {id, type, node, vmid?, storage?}
//   'resync'  the stream could not resume (or a polling tick fired): refresh everything.
// Every event has an id; a stream that drops resumes after the last one seen
// (the browser sends Last-Event-ID, and a new stream asks with ?since=), so
// nothing is missed and nothing needs reloading. If the stream fails, we fall
// back to a 'resync' every 5 s and try the stream again every 30 s.

import { API_BASE } from './api.js';

const POLL_MS = 5000;
const RETRY_MS = 30000;
const EVENTS = ['task-started', 'task-finished', 'resource', 'resource-removed'];

const listeners = new Set();
const modeListeners = new Set();
let source = null;
let pollTimer = null;
let retryTimer = null;
let mode = 'connecting'; // 'connecting' | 'live' | 'polling'
let missed = false;       // stopped meanwhile (logged out): resync when the stream opens again
let lastId = null;        // the resume point: the id of the last event seen

/** The connection mode now: 'connecting', 'live' or 'polling'. */
export const eventMode = () => mode;

export function onTaskEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** fn(mode) now and whenever the connection mode changes. */
export function onEventMode(fn) {
  modeListeners.add(fn);
  fn(mode);
  return () => modeListeners.delete(fn);
}

function emit(kind, data) {
  for (const fn of listeners) {
    try { fn(kind, data); } catch (err) { console.debug('task event listener failed', err); }
  }
}

function setMode(m) {
  if (m === mode) return;
  mode = m;
  for (const fn of modeListeners) {
    try { fn(m); } catch (err) { console.debug('mode listener failed', err); }
  }
}

function startPolling() {
  setMode('polling');
  if (!pollTimer) pollTimer = setInterval(() => { if (!document.hidden) emit('resync'); }, POLL_MS);
}

function stopPolling() {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

function connect() {
  retryTimer = null;
  if (typeof EventSource === 'undefined') { startPolling(); return; }
  let es;
  try {
    const since = lastId && !missed ? `?since=${encodeURIComponent(lastId)}` : '';
    es = new EventSource(`${API_BASE}/events${since}`, { withCredentials: true });
  } catch {
    startPolling();
    scheduleRetry();
    return;
  }
  source = es;

  es.addEventListener('open', () => {
    stopPolling();
    setMode('live');
  });

  // the server's first event: whether it resumed where we left off
  es.addEventListener('ready', (ev) => {
    let data = {};
    try { data = JSON.parse(ev.data) || {}; } catch { /* treated as not resumed */ }
    const resumed = data.missed !== undefined;
    const first = lastId === null && !missed;
    missed = false;
    if (data.id) lastId = data.id;
    if (data.resync || (!resumed && !first)) emit('resync'); // catch up on anything missed meanwhile
  });

  for (const name of EVENTS) {
    es.addEventListener(name, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { return; }
      if (ev.lastEventId) lastId = ev.lastEventId;
      if (data && typeof data === 'object') emit(name, data);
    });
  }

  es.addEventListener('error', () => {
    // CONNECTING: the browser retries by itself; poll meanwhile.
    // CLOSED: fatal (HTTP error, wrong content type) — retry later ourselves.
    startPolling();
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      if (source === es) source = null;
      scheduleRetry();
    }
  });
}

function scheduleRetry() {
  if (!retryTimer) retryTimer = setTimeout(connect, RETRY_MS);
}

/** Open the stream at start-up (again after stopEvents()); a no-op while it is open. */
export function startEvents() {
  if (source || retryTimer || pollTimer) return;
  connect();
}

/**
 * Close the stream and stop the polling fallback — the session ended. The
 * server authenticated the stream when it opened, so it would otherwise go on
 * delivering the previous user's task events.
 */
export function stopEvents() {
  if (source) source.close();
  source = null;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  stopPolling();
  missed = true;
  lastId = null; // the next user starts afresh
  setMode('connecting');
}
