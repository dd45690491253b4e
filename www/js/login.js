// Login, session renewal and logout.
//
// The daemon authenticates every API call by the ticket in the PVEAuthCookie
// cookie (the browser sends it with each request, the event stream included)
// and every write additionally by the CSRFPreventionToken header (api.js).
// Tickets live 2 hours, so we trade the ticket for a fresh one every 15 min.
//
// The ticket itself lives only in the cookie; sessionStorage keeps the user
// name, CSRF token and capabilities (the login answer's `cap`, which views and
// buttons are offered by) so that a reload of this tab keeps the session while the
// ticket is valid. While nobody is logged in, the modal login dialog covers the
// (hidden) console and cannot be dismissed.
//
// A user with second factors gets a partial ticket first (NeedTFA): it names what may follow —
// an authenticator app code, a recovery key, a security key (WebAuthn, with the request options).
// The form then offers those: the code field, and "Use security key", which starts at once when
// the key is the only way on. A security key's challenge is good for one answer: after a refusal
// the form goes back to the password.
//
// An OpenID Connect realm (type openid in the realm list) takes no password here: choosing one hides
// user name and password, and "Log in with <realm>" sends the browser to the realm's provider, which
// sends it back with a code in the query (openid-login.js). That answer is finished as a password's is.

import { api, ApiError, errorText, setCsrfToken } from './api.js';
import { h, setText, replaceChildren } from './dom.js';
import { finishAtServer, goToProvider, pendingRealm, takeProviderAnswer } from './openid-login.js';
import { getAssertion, ticketChallenge, webauthnErrorText, webauthnUnavailable } from './webauthn.js';

const COOKIE = 'PVEAuthCookie';
const STORE_KEY = 'corral.session';
const RENEW_MS = 15 * 60 * 1000;
const RETRY_MS = 60 * 1000; // renewal failed without an answer (network): try again soon
const EXPIRED = 'Your session has expired — please log in again';
// Used when GET /access/domains fails; the login request will then report the real problem.
const FALLBACK_REALMS = [
  { realm: 'pam', comment: 'Linux PAM standard authentication' },
  { realm: 'pve', comment: 'Corral authentication server' },
];

let ui = null;          // elements + callbacks from initAuth()
let session = null;     // {username, csrf} while logged in
let generation = 0;     // bumped on every login/logout, so late renewal replies are dropped
let loginAt = -Infinity; // performance.now() of the latest login: older requests' 401s are stale
let renewTimer = null;
let busy = false;
let realmsLoaded = false;
let realmsSeq = 0;       // the latest realm list request (an older answer is dropped)
let wantedRealm = null;  // realm to preselect once the list is there
let realmTypes = new Map(); // realm → type, from the list
let opener = null;       // focused before the dialog opened
let challenge = null;    // {username, ticket, offer}: the password was right, a second factor is due
let keyRequest = null;   // AbortController of the security key request under way
let keyHint = '';        // what the line below "Use security key" says while nothing runs

// --- cookie and storage ------------------------------------------------------

function readTicket() {
  for (const part of document.cookie.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === COOKIE) {
      try { return decodeURIComponent(part.slice(i + 1).trim()) || null; } catch { return null; }
    }
  }
  return null;
}

// Secure only over HTTPS: a browser drops a Secure cookie set by a plain-HTTP page.
const cookieAttrs = () => `; path=/; SameSite=Strict${location.protocol === 'https:' ? '; Secure' : ''}`;

function writeTicket(ticket) {
  // A session cookie, as PVE's own console sets it; the ticket expires on the server anyway.
  document.cookie = `${COOKIE}=${encodeURIComponent(ticket)}${cookieAttrs()}`;
}

function clearTicket() {
  document.cookie = `${COOKIE}=${cookieAttrs()}; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

function loadStored() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE_KEY));
    if (!s || typeof s.username !== 'string' || typeof s.csrf !== 'string') return null;
    return { username: s.username, csrf: s.csrf, cap: s.cap && typeof s.cap === 'object' ? s.cap : null };
  } catch {
    return null; // storage disabled or garbage
  }
}

function store(s) {
  try {
    if (s) sessionStorage.setItem(STORE_KEY, JSON.stringify({ username: s.username, csrf: s.csrf, cap: s.cap }));
    else sessionStorage.removeItem(STORE_KEY);
  } catch {
    // storage disabled: the session lasts for this page view only
  }
}

/** "PVE:alice@pve:6553F100::…" → {user, age ms} (age null when unreadable). */
function ticketInfo(ticket) {
  const parts = String(ticket || '').split(':');
  const issued = parseInt(parts[2], 16);
  return { user: parts[1] || '', age: Number.isFinite(issued) ? Date.now() - issued * 1000 : null };
}

// --- session -------------------------------------------------------------------

/** Adopt a fresh ticket + CSRF token (login or renewal), with what the user may do (`cap`). */
function adopt(data) {
  writeTicket(data.ticket);
  setCsrfToken(data.CSRFPreventionToken);
  const cap = data.cap && typeof data.cap === 'object' ? data.cap : session?.cap ?? null;
  session = { username: data.username || session?.username, csrf: data.CSRFPreventionToken, cap };
  store(session);
}

function scheduleRenewal(delay) {
  if (renewTimer) clearTimeout(renewTimer);
  renewTimer = setTimeout(renew, Math.min(RENEW_MS, Math.max(0, delay)));
}

/** POST /access/ticket with the current ticket as password → a new ticket, valid 2 h from now. */
async function requestRenewal(username, ticket) {
  const data = await api('/access/ticket', {
    method: 'POST', body: { username, password: ticket }, quiet401: true,
  });
  if (!data || !data.ticket || !data.CSRFPreventionToken) throw new ApiError(0, 'The server sent no ticket.');
  return data;
}

async function renew() {
  renewTimer = null;
  const gen = generation;
  const ticket = readTicket();
  if (!session) return;
  if (!ticket) { expire(); return; } // cookie gone: logged out in another tab
  try {
    const data = await requestRenewal(session.username, ticket);
    if (gen !== generation) return;
    adopt(data);
    scheduleRenewal(RENEW_MS);
  } catch (err) {
    if (gen !== generation) return;
    if (err instanceof ApiError && err.status === 401) {
      expire();
    } else {
      console.debug('ticket renewal failed, retrying soon:', errorText(err));
      scheduleRenewal(RETRY_MS);
    }
  }
}

/** The session is valid: show the console. */
function enter() {
  generation++;
  loginAt = performance.now();
  const age = ticketInfo(readTicket()).age;
  scheduleRenewal(age === null ? RENEW_MS : RENEW_MS - age);
  showUser();
  if (ui.dialog.open) ui.dialog.close(); // session is set, so the close guard lets it go
  document.body.classList.remove('auth-locked');
  if (opener && opener !== document.body && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  opener = null;
  ui.onLogin(session.username);
}

/** Forget everything about the session (cookie, storage, CSRF token) and lock the console. */
function endSession() {
  const was = session;
  generation++;
  if (renewTimer) clearTimeout(renewTimer);
  renewTimer = null;
  session = null;
  clearTicket();
  setCsrfToken(null);
  store(null);
  showUser();
  document.body.classList.add('auth-locked');
  // Other dialogs (a task log) show the previous session's data.
  for (const d of document.querySelectorAll('dialog[open]')) if (d !== ui.dialog) d.close();
  if (was) ui.onLogout();
  return was;
}

function expire() {
  const was = endSession();
  showLogin({ message: EXPIRED, username: was?.username });
}

/** The logged-in user ("root@pam"), or null while nobody is. */
export const sessionUser = () => (session ? session.username : null);

/**
 * Whether the session holds privilege `priv` in group `group` of the login answer's `cap`, as PVE groups
 * them: `dc` has Sys.Audit and Sys.Modify on / (`hasCap('dc', 'Sys.Audit')`), `nodes` the Sys.* of the nodes,
 * and so on. A view or button offered by it is a convenience: the API checks every call itself. Unknown
 * capabilities (a session resumed from an older console's storage) count as held until the next renewal.
 */
export function hasCap(group, priv) {
  if (!session) return false;
  if (!session.cap) return true;
  return !!Number(session.cap[group]?.[priv]);
}

/** Changes when another user logs in or the user's capabilities change: content.js then rebuilds the tab strip. */
export function sessionStamp() {
  if (!session) return '';
  const cap = session.cap || {};
  const held = Object.keys(cap).sort().map((g) => `${g}:${Object.keys(cap[g] || {}).filter((p) => Number(cap[g][p])).sort().join(',')}`);
  return `${session.username} ${held.join(';')}`;
}

/** The header's Log out button. Tickets are stateless: forgetting ours is all a logout takes. */
export function logout() {
  endSession();
  showLogin();
}

function showUser() {
  ui.sessionBox.hidden = !session;
  setText(ui.userEl, session ? session.username : '');
  ui.userEl.title = session ? session.username : ''; // may be cut off at phone width
  ui.logoutBtn.title = session ? `Log out ${session.username}` : '';
}

// --- dialog ------------------------------------------------------------------------

function setError(text) {
  setText(ui.errorText, text || '');
  ui.error.hidden = !text;
}

function setNotice(text) {
  setText(ui.noticeText, text || '');
  ui.notice.hidden = !text;
}

/** Whether the chosen realm logs in through an OpenID Connect provider. */
const openidChosen = () => realmTypes.get(ui.realm.value) === 'openid';

function setBusy(on, what = 'Logging in…') {
  busy = on;
  ui.submit.disabled = on;
  ui.form.setAttribute('aria-busy', String(on));
  // readOnly rather than disabled: disabling would throw focus out of the field.
  ui.username.readOnly = on;
  ui.password.readOnly = on;
  ui.realm.disabled = on;
  ui.keyButton.disabled = on;
  replaceChildren(ui.submit, on
    ? [h('span', { class: 'spinner', 'aria-hidden': 'true' }), what]
    : (openidChosen() ? `Log in with ${ui.realm.value}` : 'Log in'));
}

/** Show the form the chosen realm needs: user name and password, or the provider's button alone. */
function applyRealmKind() {
  const openid = openidChosen();
  const hadFocus = document.activeElement === ui.username || document.activeElement === ui.password;
  for (const input of [ui.username, ui.password]) input.closest('.field').hidden = openid;
  ui.form.dataset.kind = openid ? 'openid' : 'password';
  if (!busy) setBusy(false);
  if (openid && hadFocus) ui.submit.focus();
}

function fillRealms(list) {
  const realms = list.filter((r) => r && typeof r.realm === 'string');
  const usable = realms.length ? realms : FALLBACK_REALMS;
  // After a logout the realm picked before stays picked (unless a realm is wanted, or it is gone).
  const current = ui.realm.value;
  const preferred = usable.find((r) => r.realm === wantedRealm) || usable.find((r) => r.realm === current)
    || usable.find((r) => r.default) || usable.find((r) => r.realm === 'pam') || usable[0];
  replaceChildren(ui.realm, usable.map((r) => h('option', {
    value: r.realm, selected: r === preferred,
  }, r.comment ? `${r.realm} — ${r.comment}` : r.realm))); // realm first: long comments get cut off
  ui.realm.value = preferred.realm;
  realmTypes = new Map(usable.map((r) => [r.realm, r.type]));
  applyRealmKind();
}

/** GET /access/domains into the realm list, each time the form opens: realms come and go (Datacenter → Realms). */
async function loadRealms() {
  if (realmsLoaded && wantedRealm && [...ui.realm.options].some((o) => o.value === wantedRealm)) ui.realm.value = wantedRealm;
  const seq = ++realmsSeq;
  try {
    const list = await api('/access/domains', { quiet401: true });
    // A newer load answers instead; a login under way (or done) keeps the list it was made with.
    if (seq !== realmsSeq || ((busy || session) && ui.realm.options.length)) return;
    realmsLoaded = true;
    fillRealms(Array.isArray(list) ? list : []);
  } catch (err) {
    console.debug('could not load realms:', errorText(err));
    if (!ui.realm.options.length) fillRealms([]);
  }
}

/**
 * Open the login dialog (a no-op apart from the message while it is open).
 * username: prefill after an expiry ("alice@pve" → "alice" + realm pve); realm: the realm to choose.
 */
function showLogin({ message = null, username = null, realm = null } = {}) {
  document.body.classList.add('auth-locked');
  forgetSecondFactor();
  setNotice(message);
  setError(null);
  setBusy(false);
  ui.password.value = '';
  // Expiry: the same user will most likely log in again. Otherwise (logout) start empty.
  const at = username ? username.lastIndexOf('@') : -1;
  ui.username.value = at > 0 ? username.slice(0, at) : (username || '');
  wantedRealm = at > 0 ? username.slice(at + 1) : realm;
  loadRealms();
  if (!ui.dialog.open) {
    if (!opener) opener = document.activeElement;
    ui.dialog.showModal();
  }
  if (openidChosen()) ui.submit.focus();
  else (ui.username.value ? ui.password : ui.username).focus();
}

/** The answer of a first login step (password or OpenID): a partial ticket asks for the second factor. */
function takeAnswer(data, username) {
  if (data && data.NeedTFA && data.ticket) {
    setBusy(false);
    askSecondFactor(data.username || username, data.ticket);
    return;
  }
  finishLogin(data);
}

/** A full ticket came back: take it and open the console (throws when there is none). */
function finishLogin(data) {
  if (!data || !data.ticket || !data.CSRFPreventionToken) throw new ApiError(0, 'The server sent no ticket.');
  forgetSecondFactor();
  adopt(data);
  setBusy(false);
  setNotice(null);
  ui.password.value = '';
  enter();
}

const OTP_LABELS = {
  both: 'Second factor: code from your authenticator app, or a recovery key',
  totp: 'Second factor: code from your authenticator app',
  recovery: 'Second factor: a recovery key',
};

/**
 * Ask for the second factor after a right password (the server answered NeedTFA): what the partial
 * ticket offers. A security key as the only way on is asked for at once.
 */
function askSecondFactor(username, ticket) {
  const offer = ticketChallenge(ticket) || { totp: true, recovery: [], webauthn: null, yubico: false };
  challenge = { username, ticket, offer };
  const codes = offer.totp || offer.yubico ? (offer.recovery.length ? 'both' : 'totp') : (offer.recovery.length ? 'recovery' : null);
  const field = document.getElementById('login-otp-field');
  field.hidden = !codes;
  if (codes) setText(field.querySelector('label'), OTP_LABELS[codes]);
  const input = document.getElementById('login-otp');
  input.value = '';
  ui.keyBox.hidden = !offer.webauthn;
  keyHint = offer.webauthn ? (codes ? 'Or use a security key registered for you.' : 'Use a security key registered for you.') : '';
  setText(ui.keyStatus, keyHint);
  if (!codes && !offer.webauthn) {
    // PVE's case too: the user's factors are all of a kind this node cannot ask for (WebAuthn not set up).
    restartLogin('A second factor is required, but none of yours can be used here (WebAuthn is not set up on this node?). '
      + 'Ask an administrator.');
    return;
  }
  if (codes) input.focus(); else ui.keyButton.focus();
  if (offer.webauthn && !codes) useSecurityKey();
}

function forgetSecondFactor() {
  challenge = null;
  keyRequest?.abort();
  keyRequest = null;
  const field = document.getElementById('login-otp-field');
  if (field) field.hidden = true;
  if (ui?.keyBox) { ui.keyBox.hidden = true; setText(ui.keyStatus, ''); }
}

/** Back to the password: a new partial ticket (and security key challenge) is needed. */
function restartLogin(message) {
  forgetSecondFactor();
  setBusy(false);
  setError(message);
  ui.password.value = '';
  ui.password.focus();
}

async function submitSecondFactor() {
  const code = document.getElementById('login-otp').value.trim();
  if (!code && challenge.offer.webauthn) { await useSecurityKey(); return; }
  if (!code) { setError('Enter the code.'); return; }
  // recovery keys look like xxxx-xxxx-xxxx-xxxx; app codes are digits
  const answer = code.includes('-') ? `recovery:${code}` : `totp:${code}`;
  setError(null);
  setBusy(true);
  try {
    const data = await api('/access/ticket', {
      method: 'POST', quiet401: true,
      body: { username: challenge.username, 'tfa-challenge': challenge.ticket, password: answer },
    });
    finishLogin(data);
  } catch (err) {
    setBusy(false);
    setError(`Second factor rejected: ${err instanceof ApiError && err.status ? err.message : errorText(err)}`);
    document.getElementById('login-otp').focus();
  }
}

/** "Use security key": the browser asks the key (WebAuthn), the answer goes to POST /access/ticket. */
async function useSecurityKey() {
  if (!challenge?.offer.webauthn || busy) return;
  const why = webauthnUnavailable();
  if (why) { setError(why); return; }
  const mine = challenge;
  const ctrl = new AbortController();
  keyRequest?.abort();
  keyRequest = ctrl;
  setError(null);
  setBusy(true);
  setText(ui.keyStatus, 'Touch your security key…');
  let password;
  try {
    password = await getAssertion(mine.offer.webauthn, ctrl.signal);
  } catch (err) {
    if (ctrl.signal.aborted || challenge !== mine) return; // logged out, or a new login began
    keyRequest = null;
    setBusy(false);
    setText(ui.keyStatus, keyHint);
    setError(webauthnErrorText(err, mine.offer.webauthn.publicKey.rpId));
    ui.keyButton.focus();
    return;
  }
  keyRequest = null;
  if (challenge !== mine) return;
  setText(ui.keyStatus, 'Checking the key\'s answer…');
  try {
    const data = await api('/access/ticket', {
      method: 'POST', quiet401: true,
      body: { username: mine.username, 'tfa-challenge': mine.ticket, password },
    });
    if (challenge !== mine) return;
    finishLogin(data);
  } catch (err) {
    if (challenge !== mine) return;
    const why = err instanceof ApiError && err.status ? err.message : errorText(err);
    restartLogin(`Security key refused: ${why}. Log in again with your password for a new challenge.`);
  }
}

/** An OpenID login step failed: say why, with the provider's button ready again. */
function providerFailed(err) {
  setBusy(false);
  setError(`Login failed: ${err instanceof ApiError && err.status ? err.message : errorText(err)}`);
  ui.submit.focus();
}

/** "Log in with <realm>": off to the realm's provider (the page is left when that works). */
async function loginWithProvider() {
  setError(null);
  setBusy(true, 'Opening the provider…');
  try {
    await goToProvider(ui.realm.value);
  } catch (err) {
    providerFailed(err);
  }
}

/** The page was opened by the provider's redirect: the code (or its refusal) goes to the server. */
async function returnFromProvider(answer) {
  clearTicket(); // a ticket of an earlier session gives way to the one asked for
  store(null);
  showLogin({ realm: pendingRealm() });
  if (answer.error) { setError(`Login failed: the provider says: ${answer.error}`); return; }
  setBusy(true);
  try {
    takeAnswer(await finishAtServer(answer), '');
  } catch (err) {
    providerFailed(err);
  }
}

async function submit(ev) {
  ev.preventDefault();
  if (busy) return;
  if (challenge) { await submitSecondFactor(); return; }
  if (openidChosen()) { await loginWithProvider(); return; }
  const username = ui.username.value.trim();
  const password = ui.password.value;
  if (!username) { setError('Enter your user name.'); ui.username.focus(); return; }
  if (!password) { setError('Enter your password.'); ui.password.focus(); return; }
  const body = { username, password };
  // "alice@pve" names its realm already (the server would append the selected one).
  if (!username.includes('@')) body.realm = ui.realm.value;

  setError(null);
  setBusy(true);
  try {
    // Failures are answered after ~3 s (brute-force brake) — hence the busy state.
    takeAnswer(await api('/access/ticket', { method: 'POST', body, quiet401: true }), username);
  } catch (err) {
    setBusy(false);
    setError(`Login failed: ${err instanceof ApiError && err.status ? err.message : errorText(err)}`);
    ui.password.value = '';
    ui.password.focus();
  }
}

// --- start-up ------------------------------------------------------------------------

/**
 * Wire the dialog and header, then either resume a stored session or ask for a login.
 * opts: {dialog, sessionBox, userEl, logoutBtn, onLogin(username), onLogout()}
 *   onLogin runs after every successful login (and once for a resumed session);
 *   onLogout when a session ends (logout or expiry).
 */
export async function initAuth(opts) {
  const d = opts.dialog;
  const q = (sel) => d.querySelector(sel);
  ui = {
    ...opts,
    form: q('form'),
    username: q('[name="username"]'),
    password: q('[name="password"]'),
    realm: q('[name="realm"]'),
    submit: q('[type="submit"]'),
    notice: q('.login-notice'),
    noticeText: q('.login-notice span'),
    error: q('.login-error'),
    errorText: q('.login-error span'),
    keyBox: q('#login-webauthn'),
    keyButton: q('#login-webauthn-button'),
    keyStatus: q('#login-webauthn-status'),
  };
  ui.form.addEventListener('submit', submit);
  ui.realm.addEventListener('change', applyRealmKind);
  ui.keyButton.addEventListener('click', () => useSecurityKey());
  ui.logoutBtn.addEventListener('click', logout);

  // No session → the dialog must stay: Esc neither cancels nor closes it. (Chromium may
  // force-close a modal on a repeated Esc despite preventDefault, hence the close guard.)
  d.addEventListener('cancel', (ev) => { if (!session) ev.preventDefault(); });
  d.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !session) ev.preventDefault(); });
  d.addEventListener('close', () => { if (!session && !d.open) d.showModal(); });

  // Any 401 means the ticket is gone (expired, server key rotated, logged out elsewhere).
  window.addEventListener('corral:unauthorized', (ev) => {
    if (!session) return; // the dialog is up already
    const sent = ev.detail && Number.isFinite(ev.detail.sent) ? ev.detail.sent : Infinity;
    if (sent < loginAt) return; // answer to a request made with the previous ticket
    expire();
  });

  document.body.classList.add('auth-locked');
  showUser();

  const answer = takeProviderAnswer();
  if (answer) { await returnFromProvider(answer); return; }
  const ticket = readTicket();
  const stored = loadStored();
  if (!ticket) {
    store(null);
    showLogin();
    return;
  }
  if (stored) setCsrfToken(stored.csrf);
  try {
    await api('/version', { quiet401: true }); // GET: needs the cookie only
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      endSession();
      showLogin(stored ? { message: EXPIRED, username: stored.username } : {});
      return;
    }
    if (!stored) { showLogin(); return; }
    // Server unreachable: assume the session holds; the views show the error, and
    // the first 401 brings the dialog up.
    console.debug('session check failed:', errorText(err));
  }
  if (stored) {
    session = stored;
    enter();
    return;
  }
  // A valid cookie but nothing in this tab's storage (e.g. a new tab): the ticket
  // names its user, and renewing it yields the CSRF token this tab lacks.
  try {
    const data = await requestRenewal(ticketInfo(ticket).user, ticket);
    adopt(data);
    enter();
  } catch (err) {
    console.debug('could not adopt the existing ticket:', errorText(err));
    endSession();
    showLogin();
  }
}
