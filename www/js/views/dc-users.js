// Datacenter → Users: the user list, adding (pve realm with a password, or
// any other realm), editing and deleting users.

import { api, ApiError, seg } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import {
  accessView, checkList, dateToEpoch, epochToDate, expiryText, listPanel, rowButton, showError, splitList, toolButton,
} from './access-common.js';

const fullName = (u) => [u.firstname, u.lastname].filter(Boolean).join(' ');

export const mountDcUsers = accessView((panel, signal) => {
  const list = listPanel(panel, {
    what: 'users', caption: 'Users',
    columns: ['User', { label: 'Name', optional: true }, 'Enabled', 'Expires', { label: 'Groups', optional: true }, { label: 'Comment', optional: true }],
    buttons: [toolButton('Add user', 'plus', add, true), toolButton('Reload', 'refresh', () => refresh())],
  });

  async function refresh() {
    try {
      const users = await api('/access/users', { signal });
      const rows = (Array.isArray(users) ? users : []).filter((u) => u && u.userid)
        .sort((a, b) => a.userid.localeCompare(b.userid))
        .map((u) => h('tr', { dataset: { userid: u.userid } },
          h('th', { scope: 'row' }, u.userid),
          h('td', { class: 'optional' }, fullName(u)),
          h('td', null, Number(u.enable ?? 1) ? 'Yes' : h('span', { class: 'status status-error' }, 'No')),
          h('td', { class: 'nowrap' }, expiryText(u.expire)),
          h('td', { class: 'optional' }, splitList(u.groups).join(', ')),
          h('td', { class: 'optional desc-cell' }, u.comment || ''),
          h('td', { class: 'row-actions' },
            rowButton('Edit', 'edit', () => edit(u.userid), `Edit user ${u.userid}`),
            rowButton('Delete', 'trash', () => remove(u.userid), `Delete user ${u.userid}`))));
      list.show(rows, `${rows.length} user${rows.length === 1 ? '' : 's'}`, 'No users.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  /** The fields both dialogs share. */
  function commonFields(groups) {
    return {
      email: field({ label: 'E-mail', name: 'email', type: 'email', autocomplete: 'off' }),
      firstname: field({ label: 'First name', name: 'firstname' }),
      lastname: field({ label: 'Last name', name: 'lastname' }),
      expire: field({ label: 'Expires', name: 'expire', type: 'date', hint: 'Empty: never.' }),
      enable: field({ label: 'Enabled', name: 'enable', type: 'checkbox', value: true, hint: 'A disabled user cannot log in.' }),
      groups: checkList({ label: 'Groups', name: 'groups', options: groups, empty: 'No groups yet (Datacenter → Groups).', columns: true }),
      comment: field({ label: 'Comment', name: 'comment', wide: true }),
    };
  }

  async function loadGroups(f) {
    try {
      const g = await api('/access/groups');
      f.groups.setOptions((Array.isArray(g) ? g : []).map((x) => x.groupid).filter(Boolean).sort());
    } catch (e) {
      f.groups.setError(`Could not load the groups: ${e.message}`);
    }
  }

  function add() {
    const name = field({ label: 'User name', name: 'userid', required: true, pattern: '[^\\s:@\\/]+', hint: 'Without the realm; no spaces, ":", "@" or "/".' });
    const realm = field({ label: 'Realm', name: 'realm', type: 'select', options: [['pve', 'pve (Corral authentication)']], value: 'pve' });
    const password = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters.' });
    password.input.minLength = 8;
    const confirm = field({ label: 'Confirm password', name: 'password-confirm', type: 'password', autocomplete: 'new-password', required: true });
    const f = commonFields([]);
    const pveOnly = () => {
      const on = realm.get() === 'pve';
      for (const p of [password, confirm]) { p.el.hidden = !on; p.input.disabled = !on; }
    };
    realm.input.addEventListener('change', pveOnly);
    api('/access/domains').then((d) => {
      const realms = (Array.isArray(d) ? d : []).filter((r) => r && r.realm);
      if (realms.length) realm.setOptions(realms.map((r) => [r.realm, r.comment ? `${r.realm} (${r.comment})` : r.realm]));
      pveOnly();
    }).catch(() => { /* pve stays the only choice */ });
    loadGroups(f);
    return formDialog({
      title: 'Add a user',
      fields: [name, realm, password, confirm, ...Object.values(f)],
      submitLabel: 'Add',
      onSubmit: async () => {
        if (!password.input.disabled && password.get() !== confirm.get()) {
          throw new ApiError(400, 'The passwords differ.', { 'password-confirm': 'The passwords differ.' });
        }
        const body = { userid: `${name.get()}@${realm.get()}`, enable: f.enable.get() ? 1 : 0 };
        if (!password.input.disabled) body.password = password.input.value;
        for (const k of ['email', 'firstname', 'lastname', 'comment', 'groups']) if (f[k].get()) body[k] = f[k].get();
        const exp = dateToEpoch(f.expire.get());
        if (exp) body.expire = exp;
        await api('/access/users', { method: 'POST', body });
        refresh();
      },
    });
  }

  async function edit(userid) {
    let u;
    try {
      u = await api(`/access/users/${seg(userid)}`);
    } catch (e) {
      list.err.set(e);
      return false;
    }
    const f = commonFields([]);
    const before = {
      email: u.email || '', firstname: u.firstname || '', lastname: u.lastname || '', comment: u.comment || '',
      expire: epochToDate(u.expire), enable: !!Number(u.enable ?? 1), groups: splitList(u.groups).sort().join(','),
    };
    for (const [k, v] of Object.entries(before)) f[k].set(v);
    loadGroups(f);
    return formDialog({
      title: `Edit user ${userid}`,
      fields: Object.values(f),
      submitLabel: 'Save',
      onSubmit: async () => {
        const body = {};
        for (const k of ['email', 'firstname', 'lastname', 'comment']) if (f[k].get() !== before[k]) body[k] = f[k].get();
        if (f.expire.get() !== before.expire) body.expire = dateToEpoch(f.expire.get());
        if (f.enable.get() !== before.enable) body.enable = f.enable.get() ? 1 : 0;
        const groups = splitList(f.groups.get()).sort().join(',');
        if (groups !== before.groups) body.groups = groups;
        if (Object.keys(body).length) await api(`/access/users/${seg(userid)}`, { method: 'PUT', body });
        refresh();
      },
    });
  }

  async function remove(userid) {
    const ok = await confirmDialog({
      title: `Delete user ${userid}?`,
      message: `User ${userid} is deleted, with its API tokens and its permissions. This cannot be undone.`,
      confirmLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/access/users/${seg(userid)}`, { method: 'DELETE' });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  refresh();
});
