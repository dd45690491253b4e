// The dialogs of Datacenter → Two-factor: Add TOTP (a secret made in this browser, confirmed by the app's
// current code: POST /access/tfa/{userid} type=totp), Add recovery keys (type=recovery; the keys are shown
// once), Add WebAuthn (register a security key: POST /access/tfa/{userid} twice — the server's creation
// options, then the key's answer), WebAuthn settings (datacenter.cfg's `webauthn` relying party through PUT
// /cluster/options) and Edit (description and enabled, PUT /access/tfa/{userid}/{id}).
//
// Changing anybody's second factors takes the caller's own password (PVE re-authenticates every such
// call), except for root@pam; the dialogs ask for it as the Delete confirmation does.

import { api, ApiError, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { formDialog, modal } from '../dialog.js';
import { field, rule } from '../form.js';
import { sessionUser } from '../login.js';
import { formatPropString, parsePropString } from '../propstring.js';
import { copyValue, nextId } from '../ui.js';
import { createCredential, webauthnErrorText, webauthnUnavailable } from '../webauthn.js';

export const TYPE_LABEL = { totp: 'TOTP', webauthn: 'WebAuthn', u2f: 'U2F', recovery: 'Recovery keys', yubico: 'Yubico OTP' };

/** The caller's password field; root@pam is not asked (PVE does not re-authenticate root). */
export function passwordField(hint) {
  const root = sessionUser() === 'root@pam';
  return field({ label: 'Your password', name: 'password', type: 'password', autocomplete: 'current-password', required: !root,
    hint: root ? 'Not needed for root@pam.' : hint });
}

/** The password as the API takes it: left out when empty (root@pam). */
const withPassword = (body, password) => (password.input.value ? { ...body, password: password.input.value } : body);

/** datacenter.cfg's webauthn as GET /cluster/options gives it (an object; a property string from older servers) → {rp, id, origin, …}. */
export function webauthnConfig(options) {
  const v = options?.webauthn;
  if (!v) return null;
  return typeof v === 'object' ? v : parsePropString(String(v));
}

const isIpLiteral = (host) => /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[');

/**
 * WebAuthn settings: the relying party's name, ID (a domain the console is reached by) and origin,
 * prefilled from this page when unset. `current`: webauthnConfig() of GET /cluster/options. Resolves
 * to true when saved.
 */
export function webauthnSettingsDialog(current) {
  const here = location.hostname;
  const rp = field({ label: 'Name', name: 'rp', required: true, value: current?.rp ?? here,
    hint: 'The relying party\'s name, as the browser shows it while asking for the key.' });
  const id = rule(field({ label: 'ID', name: 'id', required: true, value: current?.id ?? (isIpLiteral(here) ? '' : here),
    placeholder: 'pve.example.com', hint: 'A domain name the console is opened by (not an IP address). Changing it makes '
      + 'the keys registered so far unusable.' }), (v) => (isIpLiteral(v) || /[\s/:]/.test(v) ? 'A bare domain name, without scheme, port or path.' : null));
  const origin = rule(field({ label: 'Origin', name: 'origin', value: current?.origin ?? location.origin, wide: true,
    placeholder: location.origin, hint: 'The console\'s address, https:// with host and port. Empty: the address each request came to.' }),
  (v) => (/^https:\/\/[^/\s]+$|^http:\/\/localhost(:\d+)?$/.test(v) ? null : 'https://host:port, without a path.'));
  const remove = current ? field({ label: 'Remove the WebAuthn settings', name: 'delete', type: 'checkbox',
    hint: 'Security keys can then neither be registered nor used to log in.' }) : null;
  const fields = [rp, id, origin, ...(remove ? [remove] : [])];
  if (remove) {
    remove.input.addEventListener('change', () => { for (const f of [rp, id, origin]) f.input.disabled = remove.get(); });
  }
  return formDialog({
    title: 'WebAuthn settings',
    className: 'webauthn-settings-dialog',
    intro: (isIpLiteral(here) ? `This page is opened by an IP address (${here}); WebAuthn needs a domain name. ` : '')
      + 'Security keys work only over HTTPS with a certificate the browser trusts.',
    fields,
    submitLabel: 'Save',
    onSubmit: async () => {
      if (remove?.get()) {
        await api('/cluster/options', { method: 'PUT', body: { delete: 'webauthn' } });
        return;
      }
      const keep = current && current['allow-subdomains'] !== undefined ? { 'allow-subdomains': current['allow-subdomains'] } : {};
      const value = formatPropString({ ...keep, id: id.get(), origin: origin.get(), rp: rp.get() });
      try {
        await api('/cluster/options', { method: 'PUT', body: { webauthn: value } });
      } catch (e) {
        // The server names the property string's part: "webauthn: …id…" lands beside that field.
        if (e instanceof ApiError && e.errors?.webauthn) {
          const why = String(e.errors.webauthn);
          const part = [id, origin, rp].find((f) => why.includes(f.name)) || rp;
          throw new ApiError(e.status, e.message, { [part.name]: why });
        }
        throw e;
      }
    },
  });
}

/**
 * Add WebAuthn: a description, whose factor (`users`: the user ids offered, the caller first) and the
 * caller's password; then the browser asks the key. `configured`: whether the datacenter has a relying
 * party (null: unknown). Resolves to true when registered.
 */
export function addWebauthnDialog({ users = [], configured = null } = {}) {
  const user = userField(users, 'Whose key this is; the key is asked for in this browser.');
  const description = field({ label: 'Description', name: 'description', required: true, placeholder: 'e.g. YubiKey on my keyring',
    hint: 'Shown in this list, to tell the keys apart.' });
  description.input.maxLength = 255;
  const password = passwordField('Your own password, as a confirmation.');
  const unavailable = webauthnUnavailable();
  return formDialog({
    title: 'Add WebAuthn',
    className: 'webauthn-add-dialog',
    intro: configured === false
      ? 'WebAuthn is not set up: set the relying party first with “WebAuthn settings” in this view\'s toolbar.'
      : (unavailable || 'After Register, touch the security key when the browser asks for it.'),
    fields: [user, description, password],
    submitLabel: 'Register',
    onSubmit: async (_, { setStatus }) => {
      if (unavailable) throw new Error(unavailable);
      const userid = user.get();
      const path = `/access/tfa/${seg(userid)}`;
      let first;
      try {
        first = await api(path, { method: 'POST', body: withPassword({ type: 'webauthn', description: description.get() }, password) });
      } catch (e) {
        if (e instanceof ApiError && /no webauthn configuration/i.test(e.message)) {
          throw new Error('WebAuthn is not set up on this datacenter: set the relying party with “WebAuthn settings” '
            + 'in this view\'s toolbar first.');
        }
        throw e;
      }
      if (!first?.challenge) throw new Error('The server sent no WebAuthn challenge.');
      setStatus('Touch your security key…');
      let answer;
      try {
        answer = await createCredential(first.challenge);
      } catch (e) {
        const rpId = (() => { try { return JSON.parse(first.challenge).publicKey.rp.id; } catch { return ''; } })();
        throw new Error(webauthnErrorText(e, rpId));
      }
      setStatus('Registering…');
      await api(path, { method: 'POST', body: withPassword({ type: 'webauthn', description: description.get(), ...answer }, password) });
    },
  });
}

/** Edit one entry's description and whether it counts. Resolves to true when saved. */
export function editTfaDialog(userid, entry) {
  const label = TYPE_LABEL[entry.type] || entry.type;
  const description = field({ label: 'Description', name: 'description', value: entry.description || '' });
  description.input.maxLength = 255;
  const enable = field({ label: 'Enabled', name: 'enable', type: 'checkbox', value: entry.enable === undefined || Number(entry.enable) === 1,
    hint: 'Off: the entry stays, but logging in neither asks for nor takes it.' });
  const password = passwordField('Your own password, as a confirmation.');
  return formDialog({
    title: `Edit ${label} of ${userid}`,
    className: 'tfa-edit-dialog',
    fields: [description, enable, password],
    body: h('div', { class: 'form-grid' }, description.el, enable.el, password.el),
    submitLabel: 'Save',
    onSubmit: async () => {
      await api(`/access/tfa/${seg(userid)}/${seg(entry.id)}`, { method: 'PUT',
        body: withPassword({ description: description.get(), enable: enable.get() ? 1 : 0 }, password) });
    },
  });
}

/** Whose factor a dialog adds: the caller first and chosen, then `users` (those an administrator may pick). */
function userField(users, hint) {
  const me = sessionUser();
  return field({ label: 'User', name: 'userid', type: 'select', options: [...new Set([me, ...users].filter(Boolean))], value: me, hint });
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation) as RFC 4648 base32 without padding. */
export function newTotpSecret() {
  let bits = '';
  for (const b of crypto.getRandomValues(new Uint8Array(20))) bits += b.toString(2).padStart(8, '0');
  return bits.match(/.{5}/g).map((five) => BASE32[parseInt(five, 2)]).join('');
}

/** The key as authenticator apps take it: otpauth://totp/<issuer>:<user>?secret=…&issuer=… (SHA-1, 6 digits, 30 s). */
export function totpUri(issuer, userid, secret) {
  const i = encodeURIComponent(issuer);
  return `otpauth://totp/${i}:${encodeURIComponent(userid)}?secret=${secret}&issuer=${i}`;
}

/** A read-only field with a Copy button beside its input (the text stays selected when the browser may not copy). */
function copyable(f, what) {
  f.input.readOnly = true;
  f.input.classList.add('mono');
  const text = h('span', null, 'Copy');
  const copy = h('button', { type: 'button', class: 'btn', 'aria-label': `Copy the ${what}`, dataset: { copy: f.name } }, icon('copy'), text);
  copy.addEventListener('click', async () => setText(text, (await copyValue(f.input)) ? 'Copied' : 'Selected'));
  const row = h('div', { class: 'secret-row' });
  f.input.replaceWith(row);
  row.append(f.input, copy);
  return f;
}

/** Debian's qrcode-generator as the node serves it (/qrcode-generator/), loaded once; null where it is missing. */
let qrLibrary = null;
function loadQrLibrary() {
  qrLibrary ??= new Promise((resolve) => {
    const script = h('script', { src: '/qrcode-generator/qrcode.js' });
    script.addEventListener('load', () => resolve(window.qrcode || null));
    script.addEventListener('error', () => resolve(null));
    document.head.append(script);
  });
  return qrLibrary;
}

/** The key URI as a QR code for the app's camera; the box stays hidden without the library. */
async function drawQr(box, text) {
  const make = await loadQrLibrary();
  if (!make) return;
  const code = make(0, 'M');
  code.addData(text);
  code.make();
  box.innerHTML = code.createSvgTag({ cellSize: 4, margin: 8, scalable: true, alt: 'QR code of the key URI' });
  box.hidden = false;
}

/**
 * Add TOTP: whose app (`users` as for WebAuthn), a description, the issuer the app shows, the secret made
 * here (as text, as the otpauth URI and as its QR code), the app's current code and the caller's password.
 * The server keeps the key only when the code matches it. Resolves to true when added.
 */
export function addTotpDialog({ users = [] } = {}) {
  const user = userField(users, 'Whose authenticator app this is.');
  const description = field({ label: 'Description', name: 'description', placeholder: 'e.g. phone app', wide: true });
  description.input.maxLength = 255;
  const issuer = field({ label: 'Issuer', name: 'issuer', required: true, value: 'Corral', hint: 'The name the app shows with the code.' });
  const secret = copyable(field({ label: 'Secret', name: 'secret', value: newTotpSecret(), wide: true,
    hint: 'Type this key into the app (time-based, 6 digits, every 30 seconds)…' }), 'secret');
  const uri = copyable(field({ label: 'Key URI', name: 'totp', wide: true, hint: '…or scan the code below with it, or give it this address.' }), 'key URI');
  const code = field({ label: 'Current code', name: 'value', required: true, inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '\\s*\\d{6}\\s*', placeholder: '123456', hint: 'The 6 digits the app shows now: they prove it holds the key.' });
  const password = passwordField('Your own password, as a confirmation.');
  const qr = h('div', { class: 'totp-qr', dataset: { role: 'totp-qr' }, hidden: true });
  uri.el.append(qr);
  const update = () => {
    uri.set(totpUri(issuer.get() || 'Corral', user.get(), secret.get()));
    drawQr(qr, uri.get());
  };
  user.input.addEventListener('change', update);
  issuer.input.addEventListener('input', update);
  update();
  const fields = [user, issuer, description, secret, uri, code, password];
  return formDialog({
    title: 'Add TOTP',
    className: 'totp-add-dialog',
    intro: 'Add the key to an authenticator app, then enter the code it shows. The key is kept only when the code matches.',
    fields,
    submitLabel: 'Add',
    onSubmit: async () => {
      const body = { type: 'totp', totp: uri.get(), value: code.get(), ...(description.get() ? { description: description.get() } : {}) };
      await api(`/access/tfa/${seg(user.get())}`, { method: 'POST', body: withPassword(body, password) });
    },
  });
}

/**
 * Add recovery keys: whose, and the caller's password; the server makes the keys (refused while the user
 * still has some left) and they are shown once. Resolves to true when made.
 */
export async function addRecoveryDialog({ users = [] } = {}) {
  const user = userField(users, 'Whose recovery keys these are.');
  const password = passwordField('Your own password, as a confirmation.');
  let made = null;
  const done = await formDialog({
    title: 'Add recovery keys',
    className: 'recovery-add-dialog',
    intro: 'A set of one-time keys, each good for one login when no other second factor is at hand. They are shown '
      + 'once, right after they are made.',
    fields: [user, password],
    submitLabel: 'Make keys',
    onSubmit: async () => {
      const answer = await api(`/access/tfa/${seg(user.get())}`, { method: 'POST', body: withPassword({ type: 'recovery' }, password) });
      made = { userid: user.get(), keys: Array.isArray(answer?.recovery) ? answer.recovery : [] };
    },
  });
  if (done && made) await recoveryKeysDialog(made.userid, made.keys);
  return done;
}

/** The one time the recovery keys are visible: a monospace list, a Copy button, a warning. */
function recoveryKeysDialog(userid, keys) {
  return new Promise((resolve) => {
    const id = nextId('recovery');
    const list = h('textarea', { id, readonly: true, spellcheck: 'false', rows: Math.max(keys.length, 1), class: 'mono recovery-keys' });
    list.value = keys.join('\n');
    const status = h('span', { class: 'dialog-status muted', 'aria-live': 'polite' });
    const copy = h('button', { type: 'button', class: 'btn', dataset: { copy: 'recovery' } }, icon('copy'), 'Copy');
    copy.addEventListener('click', async () => {
      setText(status, (await copyValue(list)) ? 'Copied.' : 'Copy them by hand: they are selected.');
    });
    const done = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Done');
    const m = modal({
      title: `Recovery keys of ${userid}`,
      className: 'secret-dialog recovery-keys-dialog',
      body: [
        h('div', { class: 'notice notice-warn', role: 'alert' }, icon('alert'),
          h('span', null, 'Keep these keys somewhere safe now: they are shown only this once. Each logs in once in place of '
            + 'the app\'s code; when they run out, delete the entry and make new ones.')),
        h('div', { class: 'field' }, h('label', { for: id }, `${keys.length} recovery keys`), h('div', { class: 'secret-row' }, list, copy)),
      ],
      foot: [status, h('span', { class: 'spacer' }), done],
      onSubmit: () => m.close(),
      onClose: () => { list.value = ''; resolve(); },
    });
    list.focus();
    list.select();
  });
}
