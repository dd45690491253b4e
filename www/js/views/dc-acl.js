// Datacenter → Permissions (ACL): every access-control entry — path, who
// (user, group or API token), role, propagation — with adding and removing.

import { api } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { loadNodes } from '../nodes.js';
import { accessView, listPanel, rowButton, showError, toolButton, yesNo } from './access-common.js';
import { ACL_TYPE_LABEL, addAclDialog, removeAcl } from './acl-common.js';
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
          h('td', null, ACL_TYPE_LABEL[a.type] || a.type),
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
    try {
      if (!(await removeAcl(a))) return;
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  async function add() {
    const path = field({ label: 'Path', name: 'path', required: true, list: PATHS, placeholder: '/vms/100', hint: 'For example /, /vms, /vms/100, /nodes/<node>, /storage/<id>.' });
    loadNodes({ maxAge: 10000 }).then((nodes) => {
      path.setOptions([...PATHS, ...(nodes || []).map((n) => `/nodes/${n.node}`)]);
    }).catch(() => { /* the fixed paths stay */ });
    if (await addAclDialog({ title: 'Add a permission', path })) refresh();
  }

  refresh();
});
