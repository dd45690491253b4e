// Datacenter → Two-factor: every user's second factors (TOTP, WebAuthn,
// recovery keys, …) from GET /access/tfa, with deleting an entry.
// New factors are added by their owner at login, not here.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { formatTimestamp } from '../format.js';
import { accessView, listPanel, rowButton, showError, toolButton, yesNo } from './access-common.js';

const TYPE_LABEL = { totp: 'TOTP', webauthn: 'WebAuthn', u2f: 'U2F', recovery: 'Recovery keys', yubico: 'Yubico OTP' };

export const mountDcTfa = accessView((panel, signal) => {
  const list = listPanel(panel, {
    what: 'second factors', caption: 'Second factors',
    columns: ['User', 'Type', { label: 'Description', optional: true }, { label: 'Created', optional: true }, 'Enabled'],
    buttons: [toolButton('Reload', 'refresh', () => refresh())],
  });

  async function refresh() {
    try {
      const users = await api('/access/tfa', { signal });
      const rows = [];
      let locked = 0;
      for (const u of (Array.isArray(users) ? users : []).filter((x) => x && x.userid).sort((a, b) => a.userid.localeCompare(b.userid))) {
        if (Number(u['totp-locked']) || Number(u['tfa-locked-until']) * 1000 > Date.now()) locked += 1;
        for (const e of Array.isArray(u.entries) ? u.entries : []) {
          rows.push(h('tr', { dataset: { userid: u.userid, tfaid: e.id } },
            h('th', { scope: 'row' }, u.userid),
            h('td', null, TYPE_LABEL[e.type] || e.type || '?'),
            h('td', { class: 'optional desc-cell' }, e.description || ''),
            h('td', { class: 'optional nowrap' }, e.created ? formatTimestamp(e.created) : ''),
            h('td', null, yesNo(e.enable)),
            h('td', { class: 'row-actions' },
              rowButton('Delete', 'trash', () => remove(u.userid, e), `Delete ${TYPE_LABEL[e.type] || e.type} of ${u.userid}`))));
        }
      }
      list.show(rows, `${rows.length} second factor${rows.length === 1 ? '' : 's'}${locked ? `, ${locked} user${locked === 1 ? '' : 's'} locked out` : ''}`,
        'No user has a second factor.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  function remove(userid, e) {
    const password = field({ label: 'Your password', name: 'password', type: 'password', autocomplete: 'current-password',
      hint: 'Needed when you delete one of your own factors.' });
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

  refresh();
});
