// Thin wrapper around fetch() for the PVE-style REST API at /api2/json.
//
// Success responses are `{"data": …}`; failures carry an HTTP status and
// `{"data": null, "message": "…"}` or `{"data": null, "errors": {param: why}}`.
// Every call resolves to the envelope's `data` or rejects with an ApiError,
// so callers only need a single try/catch.

export const API_BASE = '/api2/json';

// CSRF token for state-changing requests, set by the login flow (login.js)
// and cleared on logout.
let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** The session's CSRF token, for requests api() does not make (uploads with progress). */
export const currentCsrfToken = () => csrfToken;

export class ApiError extends Error {
  constructor(status, message, errors = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 = network failure / no HTTP response
    this.errors = errors; // {param: reason} for parameter validation errors
  }
}

/** Build an API URL: path segments are already encoded by the caller (see `seg`). */
export function apiUrl(path, params) {
  let url = API_BASE + path;
  if (params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null) qs.set(k, String(v));
    }
    const s = qs.toString();
    if (s) url += '?' + s;
  }
  return url;
}

/** Encode one path segment (node names, UPIDs, …). */
export const seg = (s) => encodeURIComponent(String(s));

export function messageFrom(status, statusText, body) {
  if (body && typeof body === 'object') {
    if (body.errors && typeof body.errors === 'object') {
      const parts = Object.entries(body.errors).map(([k, v]) => `${k}: ${v}`);
      if (parts.length) return (body.message ? body.message.trim() + ' — ' : '') + parts.join('; ');
    }
    if (body.message) return String(body.message).trim();
  }
  return `HTTP ${status}${statusText ? ' ' + statusText : ''}`;
}

/**
 * Call the API and return the envelope's `data`.
 * @param {string} path     e.g. `/nodes/${seg(node)}/status`
 * @param {object} [opts]   {method, params (query), body (object, sent form-encoded; an array repeats its key), signal, raw, quiet401}
 *                          raw: resolve to the whole envelope (e.g. for `total`).
 *                          quiet401: a 401 is an ordinary error with the server's message, not
 *                          "session gone" (the login request answers 401 for a wrong password).
 */
export async function api(path, { method = 'GET', params, body, signal, raw = false, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, signal, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrfToken) headers.CSRFPreventionToken = csrfToken;
    if (body) {
      // Same encoding as the PVE web UI; the server also accepts JSON. An array is the
      // parameter given once per item (PVE's array parameters, e.g. an SDN subnet's dhcp-range).
      init.body = new URLSearchParams(
        Object.entries(body).filter(([, v]) => v !== undefined && v !== null)
          .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, String(x)]) : [[k, String(v)]])),
      );
    }
  }

  let res;
  // When the request left: a 401 for a request sent before the latest login is stale news.
  const sent = performance.now();
  try {
    res = await fetch(apiUrl(path, params), init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'Cannot reach the server — check that corrald is running.');
  }

  let json = null;
  try {
    json = await res.json();
  } catch (err) {
    if (signal && signal.aborted) throw err;
    // Non-JSON body (proxy error page, empty reply, …): handled below.
  }

  if (res.status === 401 && !quiet401) {
    window.dispatchEvent(new CustomEvent('corral:unauthorized', { detail: { path, sent } }));
    throw new ApiError(401, 'Authentication required — please log in again.');
  }
  if (!res.ok) {
    throw new ApiError(res.status, messageFrom(res.status, res.statusText, json),
      json && json.errors ? json.errors : null);
  }
  if (!json || typeof json !== 'object' || !('data' in json)) {
    throw new ApiError(res.status, 'Unexpected response from the server (no JSON data).');
  }
  return raw ? json : json.data;
}

/** A human-readable message for any error thrown by api(). */
export function errorText(err) {
  if (err instanceof ApiError) return err.status ? `${err.message} (${err.status})` : err.message;
  return (err && err.message) || String(err);
}
