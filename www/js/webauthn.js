// WebAuthn (security keys) between the browser and PVE's wire format, for the TFA view (registration)
// and the login form (the second factor).
//
// The server sends its options as JSON whose binary fields (challenge, user.id, credential ids) are
// base64url without padding; the browser wants ArrayBuffers there, and its answer holds ArrayBuffers the
// server wants back as base64url. The options' challenge string is kept as the server sent it: the server
// finds its pending state by that exact text (PVE's AddWebauthn.js and TfaWindow.js do the same).

/** "AbC-_x" (base64url, padding optional) → Uint8Array. */
export function fromB64url(text) {
  const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** ArrayBuffer (or view) → base64url without padding; null stays null. */
export function toB64url(buf) {
  if (buf === null || buf === undefined) return null;
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Why WebAuthn cannot run on this page ('' when it can). */
export function webauthnUnavailable() {
  if (!window.isSecureContext) return 'WebAuthn needs the console over HTTPS with a certificate the browser trusts.';
  if (!window.PublicKeyCredential || !navigator.credentials) return 'This browser does not offer WebAuthn (security keys).';
  return '';
}

/**
 * A browser error from navigator.credentials.* as a sentence. `rpId`: the relying party ID the server
 * asked for (named when the browser refuses it for this page).
 */
export function webauthnErrorText(err, rpId = '') {
  switch (err?.name) {
    case 'NotAllowedError':
      return 'The security key did not answer: the request was cancelled or timed out.';
    case 'InvalidStateError':
      return 'This security key is registered already.';
    case 'SecurityError':
      return `The browser refused the relying party ID "${rpId}" for this page (${location.hostname}): `
        + 'WebAuthn needs the console opened by that domain name (not an IP address), over trusted HTTPS.';
    case 'NotSupportedError':
      return 'The security key supports none of the algorithms the server accepts.';
    case 'AbortError':
      return 'The security key request was stopped.';
    default:
      return `The security key failed: ${err?.message || String(err)}`;
  }
}

/**
 * Registration: the server's challenge (the JSON text of {publicKey: creation options}) → the key's answer
 * as the second POST /access/tfa/{userid} takes it: {challenge, value}. Rejects with the browser's error.
 */
export async function createCredential(challengeText, signal) {
  const { publicKey } = JSON.parse(challengeText);
  const challenge = publicKey.challenge;
  const options = {
    ...publicKey,
    challenge: fromB64url(challenge),
    user: { ...publicKey.user, id: fromB64url(publicKey.user.id) },
    excludeCredentials: (publicKey.excludeCredentials || []).map((c) => ({ type: c.type, id: fromB64url(c.id) })),
  };
  const cred = await navigator.credentials.create({ publicKey: options, signal });
  const value = {
    id: cred.id, type: cred.type, rawId: toB64url(cred.rawId),
    response: { attestationObject: toB64url(cred.response.attestationObject), clientDataJSON: toB64url(cred.response.clientDataJSON) },
  };
  return { challenge, value: JSON.stringify(value) };
}

/**
 * Login: the request options of the partial ticket ({publicKey: …}) → the password of the second
 * POST /access/ticket: "webauthn:" + the JSON of the key's answer. Rejects with the browser's error.
 */
export async function getAssertion(request, signal) {
  const { publicKey } = request;
  const challenge = publicKey.challenge;
  const options = {
    ...publicKey,
    challenge: fromB64url(challenge),
    allowCredentials: (publicKey.allowCredentials || []).map((c) => ({ type: c.type, id: fromB64url(c.id) })),
  };
  const cred = await navigator.credentials.get({ publicKey: options, signal });
  const r = cred.response;
  const answer = {
    id: cred.id, type: cred.type, challenge, rawId: toB64url(cred.rawId),
    response: {
      authenticatorData: toB64url(r.authenticatorData), clientDataJSON: toB64url(r.clientDataJSON), signature: toB64url(r.signature),
      ...(r.userHandle ? { userHandle: toB64url(r.userHandle) } : {}),
    },
  };
  return `webauthn:${JSON.stringify(answer)}`;
}

/**
 * What a partial ticket ("PVE:!tfa!<JSON, ':' as %3A>:<hex time>::<signature>") offers:
 * {totp, recovery: [indices], webauthn: {publicKey} | null}; null when it is not one.
 */
export function ticketChallenge(ticket) {
  const parts = String(ticket || '').split(':');
  if (parts.length < 3 || !parts[1].startsWith('!tfa!')) return null;
  try {
    const c = JSON.parse(decodeURIComponent(parts[1].slice('!tfa!'.length)));
    return {
      totp: !!c.totp,
      recovery: Array.isArray(c.recovery) ? c.recovery : [],
      webauthn: c.webauthn && c.webauthn.publicKey ? c.webauthn : null,
      yubico: !!c.yubico,
    };
  } catch {
    return null;
  }
}
