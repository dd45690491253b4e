// Datacenter → Permissions (ACL): every access-control entry — path, who
// (user, group or API token), role, propagation — with adding and removing.

import { api } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { loadNodes } from '../nodes.js';
import { accessNames, accessView, listPanel, rowButton, showError, toolButton, yesNo } from './access-common.js';

const TYPE_LABEL = { user: 'User', group: 'Group', token: 'API token' };
const PARAM = { user: 'users', group: 'groups', token: 'tokens' };
const PATHS = ['/', '/vms', '/storage', '/nodes', '/pool', '/access', '/access/groups', '/access/realm', '/sdn', '/mapping'];

export const mountDcAcl = accessView((panel, signal) => {
  const list = listPanel(panel, {
    what: 'permissions', caption: 'Access control list',
    columns: ['Path', 'Type', 'User / group / token', 'Role', { label: 'Propagate', optional: true }],
    buttons: [toolButton('Add permission', 'plus', add, true), toolButton('Reload', 'refresh', () => refresh())],
  });

  async function refresh() {
    try {
      const acl = await api('/access/acl', { signal });
      const rows = (Array.isArray(acl) ? acl : []).filter((a) => a && a.path)
        .sort((a, b) => a.path.localeCompare(b.path) || a.ugid.localeCompare(b.ugid) || a.roleid.localeCompare(b.roleid))
        .map((a) => h('tr', { dataset: { path: a.path, ugid: a.ugid, roleid: a.roleid } },
          h('th', { scope: 'row' }, h('code', null, a.path)),
          h('td', null, TYPE_LABEL[a.type] || a.type),
          h('td', null, a.ugid),
          h('td', null, a.roleid),
          h('td', { class: 'optional' }, yesNo(a.propagate)),
          h('td', { class: 'row-actions' },
            rowButton('Remove', 'trash', () => remove(a), `Remove ${a.roleid} of ${a.ugid} on ${a.path}`))));
      list.show(rows, `${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}`, 'No permissions set.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  async function remove(a) {
    const ok = await confirmDialog({
      title: 'Remove permission?',
      message: `${TYPE_LABEL[a.type] || a.type} ${a.ugid} loses role ${a.roleid} on ${a.path}.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api('/access/acl', { method: 'PUT', body: { path: a.path, roles: a.roleid, [PARAM[a.type] || 'users']: a.ugid, delete: 1 } });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  function add() {
    const path = field({ label: 'Path', name: 'path', required: true, list: PATHS, placeholder: '/vms/100', hint: 'For example /, /vms, /vms/100, /nodes/<node>, /storage/<id>.' });
    const type = field({ label: 'For', name: 'type', type: 'select', options: Object.entries(TYPE_LABEL), value: 'user' });
    const who = field({ label: 'User', name: 'users', required: true, list: [], placeholder: 'alice@pve' });
    const role = field({ label: 'Role', name: 'roles', type: 'select', required: true });
    const propagate = field({ label: 'Propagate to sub-paths', name: 'propagate', type: 'checkbox', value: true });
    const names = { user: [], group: [], token: [] };
    const fillWho = () => {
      const t = type.get();
      who.name = PARAM[t];
      who.el.querySelector('label').textContent = TYPE_LABEL[t];
      who.input.placeholder = t === 'user' ? 'alice@pve' : t === 'group' ? 'admins' : 'alice@pve!ci';
      who.setOptions(names[t]);
    };
    type.input.addEventListener('change', fillWho);
    accessNames().then((n) => {
      names.user = n.users;
      names.group = n.groups;
      if (n.rolesFailed) role.setError('Could not load the roles.');
      role.setOptions(n.roles.map((x) => [x, x]), false);
      role.set(n.roles.includes('PVEVMUser') ? 'PVEVMUser' : n.roles[0]);
      fillWho();
    });
    loadNodes({ maxAge: 10000 }).then((nodes) => {
      path.setOptions([...PATHS, ...(nodes || []).map((n) => `/nodes/${n.node}`)]);
    }).catch(() => { /* the fixed paths stay */ });
    return formDialog({
      title: 'Add a permission', fields: [path, type, who, role, propagate], submitLabel: 'Add',
      onSubmit: async () => {
        await api('/access/acl', {
          method: 'PUT',
          body: { path: path.get(), roles: role.get(), [PARAM[type.get()]]: who.get(), propagate: propagate.get() ? 1 : 0 },
        });
        refresh();
      },
    });
  }

  refresh();
});
