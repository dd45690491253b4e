// Datacenter → Roles: every role with its privileges. Built-in roles are
// read-only; custom roles can be added, given other privileges and deleted.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { accessView, checkList, listPanel, rowButton, showError, splitList, toolButton } from './access-common.js';

/** Every privilege any role has (the built-in Administrator has them all), grouped by prefix. */
function privilegeOptions(roles) {
  const all = new Set();
  for (const r of roles) for (const p of splitList(r.privs)) all.add(p);
  return [...all].sort().map((p) => [p, p.split('.')[0]]);
}

export const mountDcRoles = accessView((panel, signal) => {
  let roles = [];
  const list = listPanel(panel, {
    what: 'roles', caption: 'Roles',
    columns: ['Role', 'Kind', 'Privileges'],
    buttons: [toolButton('Add role', 'plus', add, true), toolButton('Reload', 'refresh', () => refresh())],
  });

  const builtIn = (r) => Number(r.special) === 1;

  async function refresh() {
    try {
      const answer = await api('/access/roles', { signal });
      roles = (Array.isArray(answer) ? answer : []).filter((r) => r && r.roleid)
        .sort((a, b) => builtIn(a) - builtIn(b) || a.roleid.localeCompare(b.roleid));
      const rows = roles.map((r) => h('tr', { dataset: { roleid: r.roleid } },
        h('th', { scope: 'row' }, r.roleid),
        h('td', { class: 'nowrap' }, builtIn(r) ? h('span', { class: 'muted' }, 'built-in') : 'custom'),
        h('td', { class: 'privs-cell' }, splitList(r.privs).join(', ') || h('span', { class: 'muted' }, 'none')),
        h('td', { class: 'row-actions' }, builtIn(r) ? null : [
          rowButton('Edit', 'edit', () => edit(r), `Edit role ${r.roleid}`),
          rowButton('Delete', 'trash', () => remove(r.roleid), `Delete role ${r.roleid}`),
        ])));
      const custom = roles.filter((r) => !builtIn(r)).length;
      list.show(rows, `${roles.length} roles, ${custom} custom`, 'No roles.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  const privsField = (value) => checkList({
    label: 'Privileges', name: 'privs', options: privilegeOptions(roles), value, columns: true,
  });

  function add() {
    const id = field({ label: 'Name', name: 'roleid', required: true, pattern: '[A-Za-z0-9._\\-]+', hint: 'Letters, digits, ".", "_" and "-".' });
    const privs = privsField([]);
    return formDialog({
      title: 'Add a role', fields: [id, privs], submitLabel: 'Add', className: 'dialog-wide',
      onSubmit: async () => {
        const body = { roleid: id.get() };
        if (privs.get()) body.privs = privs.get();
        await api('/access/roles', { method: 'POST', body });
        refresh();
      },
    });
  }

  function edit(r) {
    const privs = privsField(splitList(r.privs));
    return formDialog({
      title: `Edit role ${r.roleid}`, fields: [privs], submitLabel: 'Save', className: 'dialog-wide',
      onSubmit: async () => {
        await api(`/access/roles/${seg(r.roleid)}`, { method: 'PUT', body: { privs: privs.get() } });
        refresh();
      },
    });
  }

  async function remove(roleid) {
    const ok = await confirmDialog({
      title: `Delete role ${roleid}?`,
      message: `Role ${roleid} is deleted, and with it every permission that grants it.`,
      confirmLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/access/roles/${seg(roleid)}`, { method: 'DELETE' });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  refresh();
});
