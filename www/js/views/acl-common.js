// What Datacenter → Permissions and a guest's Permissions tab share: how
// ACL entries are named, removing one (with a confirmation), and the dialog
// that adds one (for: user, group or API token; role; propagate).

import { api } from '../api.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { accessNames } from './access-common.js';

export const ACL_TYPE_LABEL = { user: 'User', group: 'Group', token: 'API token' };
const PARAM = { user: 'users', group: 'groups', token: 'tokens' };
const PLACEHOLDER = { user: 'alice@pve', group: 'admins', token: 'alice@pve!ci' };

/** Ask, then remove entry `a` ({path, type, ugid, roleid}); resolves to false when cancelled. Throws API errors. */
export async function removeAcl(a) {
  const ok = await confirmDialog({
    title: 'Remove permission?',
    message: `${ACL_TYPE_LABEL[a.type] || a.type} ${a.ugid} loses role ${a.roleid} on ${a.path}.`,
    confirmLabel: 'Remove', danger: true,
  });
  if (!ok) return false;
  await api('/access/acl', { method: 'PUT', body: { path: a.path, roles: a.roleid, [PARAM[a.type] || 'users']: a.ugid, delete: 1 } });
  return true;
}

/**
 * The "Add a permission" dialog. path: a fixed path, or a field (form.js) for it, shown first.
 * Resolves to true once an entry was added.
 */
export function addAclDialog({ title, intro, path }) {
  const pathField = typeof path === 'string' ? null : path;
  const type = field({ label: 'For', name: 'type', type: 'select', options: Object.entries(ACL_TYPE_LABEL), value: 'user' });
  const who = field({ label: 'User', name: 'users', required: true, list: [], placeholder: PLACEHOLDER.user });
  const role = field({ label: 'Role', name: 'roles', type: 'select', required: true });
  const propagate = field({ label: 'Propagate to sub-paths', name: 'propagate', type: 'checkbox', value: true });
  const names = { user: [], group: [], token: [] };
  const fillWho = () => {
    const t = type.get();
    who.name = PARAM[t];
    who.el.querySelector('label').textContent = ACL_TYPE_LABEL[t];
    who.input.placeholder = PLACEHOLDER[t];
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
  return formDialog({
    title, intro, submitLabel: 'Add',
    fields: [pathField, type, who, role, propagate].filter(Boolean),
    onSubmit: () => api('/access/acl', {
      method: 'PUT',
      body: { path: pathField ? pathField.get() : path, roles: role.get(), [PARAM[type.get()]]: who.get(), propagate: propagate.get() ? 1 : 0 },
    }),
  });
}
