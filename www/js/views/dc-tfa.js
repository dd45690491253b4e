// Datacenter → Two-factor: every user's second factors (TOTP, WebAuthn, recovery keys, …) from
// GET /access/tfa, each with Edit (description, enabled; not for recovery keys) and Delete. Add TOTP
// confirms a key made here with the authenticator app's code; Add recovery keys shows the server's new
// keys once; Add WebAuthn registers a security key in this browser; WebAuthn settings sets the datacenter's relying party
// (datacenter.cfg `webauthn`), without which no key can be registered or used. A line above the list says
// how WebAuthn is set up (GET /cluster/options, when the caller may read it). The dialogs are tfa-dialogs.js.

import { api, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { formDialog } from '../dialog.js';
import { formatTimestamp } from '../format.js';
import { sessionUser } from '../login.js';
import { accessView, listPanel, showError, yesNo } from './access-common.js';
import { actionButton, rowAction } from './firewall-parts.js';
import { TYPE_LABEL, addRecoveryDialog, addTotpDialog, addWebauthnDialog, editTfaDialog, passwordField, webauthnConfig, webauthnSettingsDialog } from './tfa-dialogs.js';

export const mountDcTfa = accessView((panel, signal) => {
  let config;        // datacenter.cfg's webauthn ({rp, id, origin}), null when unset, undefined when unknown
  const note = h('p', { class: 'muted small tfa-note', dataset: { role: 'webauthn-note' }, hidden: true });
  const list = listPanel(panel, {
    what: 'second factors', caption: 'Second factors',
    columns: ['User', 'Type', { label: 'Description', optional: true }, { label: 'Created', optional: true }, 'Enabled'],
    buttons: [
      actionButton('add-totp', 'Add TOTP', 'phone-key', () => add(addTotpDialog), true),
      actionButton('add-recovery', 'Add recovery keys', 'lock', () => add(addRecoveryDialog)),
      actionButton('add-webauthn', 'Add WebAuthn', 'key', () => add((o) => addWebauthnDialog({ ...o, configured: config === undefined ? null : !!config }))),
      actionButton('webauthn-settings', 'WebAuthn settings', 'cog', () => settings()),
      actionButton('reload', 'Reload', 'refresh', () => refresh()),
    ],
    before: [note],
  });

  async function loadConfig() {
    try {
      config = webauthnConfig(await api('/cluster/options', { signal }));
    } catch (e) {
      if (e.name === 'AbortError') return;
      config = undefined; // not ours to read (Sys.Audit on /): the dialogs find out from the server
    }
    note.hidden = config === undefined;
    note.dataset.configured = config ? '1' : '0';
    setText(note, config
      ? `WebAuthn: relying party “${config.rp || '?'}”, ID ${config.id || '?'}${config.origin ? `, origin ${config.origin}` : ''}.`
      : 'WebAuthn is not set up: security keys can be neither registered nor used until “WebAuthn settings” names the relying party.');
  }

  async function refresh() {
    try {
      const users = await api('/access/tfa', { signal });
      const rows = [];
      let locked = 0;
      for (const u of (Array.isArray(users) ? users : []).filter((x) => x && x.userid).sort((a, b) => a.userid.localeCompare(b.userid))) {
        if (Number(u['totp-locked']) || Number(u['tfa-locked-until']) * 1000 > Date.now()) locked += 1;
        for (const e of Array.isArray(u.entries) ? u.entries : []) {
          const label = TYPE_LABEL[e.type] || e.type || '?';
          rows.push(h('tr', { dataset: { userid: u.userid, tfaid: e.id, type: e.type } },
            h('th', { scope: 'row' }, u.userid),
            h('td', null, label),
            h('td', { class: 'optional desc-cell' }, e.description || ''),
            h('td', { class: 'optional nowrap' }, e.created ? formatTimestamp(e.created) : ''),
            h('td', { dataset: { role: 'enabled' } }, yesNo(e.enable)),
            h('td', { class: 'row-actions' },
              e.type === 'recovery' ? null : rowAction('edit', 'Edit', 'edit', () => edit(u.userid, e), `Edit ${label} of ${u.userid}`),
              rowAction('delete', 'Delete', 'trash', () => remove(u.userid, e), `Delete ${label} of ${u.userid}`))));
        }
      }
      list.show(rows, `${rows.length} second factor${rows.length === 1 ? '' : 's'}${locked ? `, ${locked} user${locked === 1 ? '' : 's'} locked out` : ''}`,
        'No user has a second factor.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  /** Open an Add dialog with the users the caller may choose from (the caller alone when the list is not theirs to read). */
  async function add(dialog) {
    let users = [];
    try {
      const all = await api('/access/users', { signal });
      users = (Array.isArray(all) ? all : []).map((u) => u?.userid).filter(Boolean).sort();
    } catch {
      // only the caller's own factors, then
    }
    if (signal.aborted) return;
    if (await dialog({ users }) && !signal.aborted) refresh();
  }

  async function settings() {
    if (await webauthnSettingsDialog(config || null) && !signal.aborted) loadConfig();
  }

  async function edit(userid, e) {
    if (await editTfaDialog(userid, e) && !signal.aborted) refresh();
  }

  function remove(userid, e) {
    const password = passwordField(userid === sessionUser() ? 'Your own password, as a confirmation.'
      : `Your own password (not ${userid}'s), as a confirmation.`);
    return formDialog({
      title: `Delete a second factor of ${userid}?`, fields: [password], submitLabel: 'Delete', className: 'danger-dialog',
      intro: `The ${TYPE_LABEL[e.type] || e.type} entry${e.description ? ` "${e.description}"` : ''} of ${userid} is deleted; if it was the last one, ${userid} logs in with the password alone.`,
      onSubmit: async () => {
        const body = password.input.value ? { password: password.input.value } : undefined;
        await api(`/access/tfa/${seg(userid)}/${seg(e.id)}`, { method: 'DELETE', body });
        refresh();
      },
    });
  }

  loadConfig();
  refresh();
});
