// Logins through an OpenID Connect realm (login.js drives them; the realm list names each realm's type).
//
// The way there: POST /access/openid/auth-url (realm, redirect-url) answers the provider's login address,
// and the browser goes there. The redirect URL is this console's origin, nothing more: the provider must
// know it exactly (it is the client's registered redirect URI), and sends the browser back to it with
// `?state=…&code=…` in the query. The way back: POST /access/openid/login with the state, the code and the
// same redirect URL answers as POST /access/ticket does. The code is good for one answer, so the query
// is taken out of the address bar at once. The realm is kept in this tab's storage meanwhile, to be
// chosen again on the form when the login fails.

import { api } from './api.js';

const REALM_KEY = 'corral.openid-realm';

/** The realm an OpenID login of this tab went out for (null when none). */
export function pendingRealm() {
  try { return sessionStorage.getItem(REALM_KEY); } catch { return null; }
}

/** Go to the provider of OpenID realm `realm` (resolves only when that fails: the page is left otherwise). */
export async function goToProvider(realm) {
  const url = await api('/access/openid/auth-url', {
    method: 'POST', quiet401: true, body: { realm, 'redirect-url': location.origin },
  });
  let target = null;
  try { target = new URL(url); } catch { /* not an address */ }
  if (!target || !['https:', 'http:'].includes(target.protocol)) throw new Error('The server sent no provider address.');
  try { sessionStorage.setItem(REALM_KEY, realm); } catch { /* storage disabled: the form starts at the default realm */ }
  location.href = target.href;
  await new Promise(() => {}); // the page goes away
}

/**
 * The provider's answer in the address bar, taken out of it (history.replaceState): {state, code} or
 * {error} (the provider refused: its error_description or error), null when the page was opened otherwise.
 */
export function takeProviderAnswer() {
  const q = new URLSearchParams(location.search);
  const state = q.get('state');
  const code = q.get('code');
  const error = q.get('error');
  if (!state || (!code && !error)) return null;
  history.replaceState(history.state, '', location.pathname + location.hash);
  if (!code) return { error: q.get('error_description') || error };
  return { state, code };
}

/** POST /access/openid/login: the ticket answer (as POST /access/ticket's). */
export function finishAtServer({ state, code }) {
  return api('/access/openid/login', {
    method: 'POST', quiet401: true, body: { state, code, 'redirect-url': location.origin },
  });
}
