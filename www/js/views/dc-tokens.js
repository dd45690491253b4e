// Datacenter → API Tokens: one user's tokens (chosen above the table), adding
// one — its secret is shown once, right after, with a copy button — and
// removing them.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog, modal } from '../dialog.js';
import { copyValue, nextId } from '../ui.js';
import {
  accessView, dateToEpoch, expiryText, listPanel, rowButton, showError, toolButton, yesNo,
} from './access-common.js';

let lastUser = null; // the user chosen last, kept while the console stays open

export const mountDcTokens = accessView((panel, signal) => {
  const userId = nextId('tok-user');
  const userSelect = h('select', { id: userId, name: 'userid' });
  const addBtn = toolButton('Add token', 'plus', add, true);
  addBtn.disabled = true;
  const list = listPanel(panel, {
    what: 'API tokens', caption: 'API tokens',
    columns: ['Token ID', 'Privilege separation', 'Expires', { label: 'Comment', optional: true }],
    buttons: [addBtn, toolButton('Reload', 'refresh', () => refresh())],
    before: [h('div', { class: 'field inline-field' }, h('label', { for: userId }, 'User'), userSelect)],
  });
  userSelect.addEventListener('change', () => { lastUser = userSelect.value; refresh(); });

  const user = () => userSelect.value;

  async function loadUsers() {
    try {
      const users = await api('/access/users', { signal });
      const ids = (Array.isArray(users) ? users : []).map((u) => u && u.userid).filter(Boolean).sort();
      userSelect.replaceChildren(...ids.map((id) => h('option', { value: id }, id)));
      if (lastUser && ids.includes(lastUser)) userSelect.value = lastUser;
      addBtn.disabled = !ids.length;
      refresh();
    } catch (e) {
      showError(list.err)(e);
    }
  }

  async function refresh() {
    const u = user();
    if (!u) { list.show([], 'No users.', 'No users.'); return; }
    list.loading();
    try {
      const tokens = await api(`/access/users/${seg(u)}/token`, { signal });
      if (u !== user()) return; // another user was chosen meanwhile
      const rows = (Array.isArray(tokens) ? tokens : []).filter((t) => t && t.tokenid)
        .sort((a, b) => a.tokenid.localeCompare(b.tokenid))
        .map((t) => h('tr', { dataset: { tokenid: t.tokenid } },
          h('th', { scope: 'row' }, `${u}!${t.tokenid}`),
          h('td', null, yesNo(t.privsep)),
          h('td', { class: 'nowrap' }, expiryText(t.expire)),
          h('td', { class: 'optional desc-cell' }, t.comment || ''),
          h('td', { class: 'row-actions' },
            rowButton('Remove', 'trash', () => remove(u, t.tokenid), `Remove token ${u}!${t.tokenid}`))));
      list.show(rows, `${rows.length} token${rows.length === 1 ? '' : 's'} of ${u}`, `${u} has no API tokens.`);
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  function add() {
    const u = user();
    const id = field({ label: 'Token ID', name: 'tokenid', required: true, pattern: '[A-Za-z][A-Za-z0-9._\\-]*', hint: `The token is named ${u}!<ID>.` });
    const privsep = field({ label: 'Privilege separation', name: 'privsep', type: 'checkbox', value: true,
      hint: 'On: the token has only the permissions given to the token itself. Off: it has all of the user\'s.' });
    const expire = field({ label: 'Expires', name: 'expire', type: 'date', hint: 'Empty: when the user expires.' });
    const comment = field({ label: 'Comment', name: 'comment', wide: true });
    let answer = null;
    return formDialog({
      title: `Add an API token for ${u}`, fields: [id, privsep, expire, comment], submitLabel: 'Add',
      onSubmit: async () => {
        const body = { privsep: privsep.get() ? 1 : 0 };
        if (comment.get()) body.comment = comment.get();
        const exp = dateToEpoch(expire.get());
        if (exp) body.expire = exp;
        answer = await api(`/access/users/${seg(u)}/token/${seg(id.get())}`, { method: 'POST', body });
        refresh();
      },
    }).then((done) => {
      if (done && answer) showSecret(answer['full-tokenid'] || `${u}!${id.get()}`, answer.value);
      return done;
    });
  }

  async function remove(u, tokenid) {
    const ok = await confirmDialog({
      title: `Remove token ${u}!${tokenid}?`,
      message: `Token ${u}!${tokenid} stops working at once, and its permissions are removed.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/access/users/${seg(u)}/token/${seg(tokenid)}`, { method: 'DELETE' });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  loadUsers();
});

/** The one time the secret is visible: read-only fields and a copy button. */
function showSecret(fullId, secret) {
  const idId = nextId('tok-id');
  const secId = nextId('tok-secret');
  const idInput = h('input', { id: idId, type: 'text', readonly: true, value: fullId, spellcheck: 'false' });
  const secInput = h('input', { id: secId, type: 'text', readonly: true, value: secret || '', spellcheck: 'false', class: 'mono token-secret' });
  const status = h('span', { class: 'dialog-status muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'btn copy-secret' }, icon('copy'), 'Copy secret');
  copy.addEventListener('click', async () => {
    setText(status, (await copyValue(secInput)) ? 'Copied.' : 'Copy it by hand: it is selected.');
  });
  const done = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Done');
  const m = modal({
    title: 'API token created',
    className: 'secret-dialog',
    body: [
      h('div', { class: 'notice notice-warn', role: 'alert' }, icon('alert'),
        h('span', null, 'Copy the secret now. It is shown only this once and cannot be read back later; if it is lost, remove the token and make a new one.')),
      h('div', { class: 'field' }, h('label', { for: idId }, 'Token ID'), idInput),
      h('div', { class: 'field' }, h('label', { for: secId }, 'Secret'), h('div', { class: 'secret-row' }, secInput, copy)),
    ],
    foot: [status, h('span', { class: 'spacer' }), done],
    onSubmit: () => m.close(),
    onClose: () => { secInput.value = ''; },
  });
  secInput.focus();
  secInput.select();
}
