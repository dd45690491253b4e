// File uploads with progress: fetch() cannot report how much of a request
// body has gone out, XMLHttpRequest can. Same envelope and errors as api().

import { ApiError, apiUrl, currentCsrfToken, messageFrom } from './api.js';

/**
 * POST multipart/form-data to an API path; resolves to the envelope's data.
 * onProgress(sent, total) as the body goes out; `signal` aborts (an AbortError).
 */
export function uploadForm(path, form, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const sent = performance.now(); // (as api() does: a 401 to a request older than the login is stale)
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl(path));
    xhr.setRequestHeader('Accept', 'application/json');
    const token = currentCsrfToken();
    if (token) xhr.setRequestHeader('CSRFPreventionToken', token);
    xhr.upload.addEventListener('progress', (ev) => { if (ev.lengthComputable) onProgress?.(ev.loaded, ev.total); });
    xhr.addEventListener('load', () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { /* not JSON: below */ }
      if (xhr.status === 401) {
        window.dispatchEvent(new CustomEvent('corral:unauthorized', { detail: { path, sent } }));
        reject(new ApiError(401, 'Authentication required — please log in again.'));
      } else if (xhr.status < 200 || xhr.status >= 300) {
        reject(new ApiError(xhr.status, messageFrom(xhr.status, xhr.statusText, json), json && json.errors ? json.errors : null));
      } else if (!json || typeof json !== 'object' || !('data' in json)) {
        reject(new ApiError(xhr.status, 'Unexpected response from the server (no JSON data).'));
      } else {
        resolve(json.data);
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'The upload failed: the connection to the server broke off.')));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    if (signal) {
      if (signal.aborted) { reject(new DOMException('aborted', 'AbortError')); return; }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}
