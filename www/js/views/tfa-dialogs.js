// The dialogs of Datacenter → Two-factor: Add WebAuthn (register a security key: POST /access/tfa/{userid}
// twice — the server's creation options, then the key's answer), WebAuthn settings (datacenter.cfg's
// `webauthn` relying party through PUT /cluster/options) and Edit (description and enabled, PUT
// /access/tfa/{userid}/{id}).
//
// Changing anybody's second factors takes the caller's own password (PVE re-authenticates every such
// call), except for root@pam; the dialogs ask for it as the Delete confirmation does.

import { api, ApiError, seg } from '../api.js';
import { h } from '../dom.js';
import { formDialog } from '../dialog.js';
import { field, rule } from '../form.js';
import { sessionUser } from '../login.js';
import { formatPropString, parsePropString } from '../propstring.js';
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
  const me = sessionUser();
  const offered = [...new Set([me, ...users].filter(Boolean))];
  const user = field({ label: 'User', name: 'userid', type: 'select', options: offered, value: me,
    hint: 'Whose key this is; the key is asked for in this browser.' });
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
