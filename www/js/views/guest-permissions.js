// Guest → Permissions: the ACL entries on /vms/{vmid} (from GET /access/acl),
// plus the entries that reach it from above (/, /vms, its pool), with adding
// and removing entries on the guest's own path.

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { guestNoun, guestView } from '../guests.js';

const TYPE_LABEL = { user: 'User', group: 'Group', token: 'API token' };
const PARAM = { user: 'users', group: 'groups', token: 'tokens' };

export const mountGuestPermissions = guestView((panel, guest, signal) => {
  const path = `/vms/${guest.vmid}`;
  const noun = guestNoun(guest.type);
  const err = errorSlot('Could not load the permissions');
  const own = h('tbody');
  const inherited = h('tbody');
  const count = h('p', { class: 'muted small' }, 'Loading…');
  const inheritedCard = h('section', { class: 'card card-flush', hidden: true, 'aria-label': 'Inherited permissions' },
    h('h2', { class: 'card-title' }, 'Inherited from higher paths'),
    h('div', { class: 'table-wrap' }, table(inherited, `Permissions inherited by ${path}`, true)));

  function table(tbody, caption, withPath) {
    return h('table', { class: 'grid' },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null,
        withPath ? h('th', { scope: 'col' }, 'Path') : null,
        h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'User / group / token'), h('th', { scope: 'col' }, 'Role'),
        h('th', { scope: 'col', class: 'optional' }, 'Propagate'),
        withPath ? null : h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      tbody);
  }

  panel.append(
    h('div', { class: 'panel-toolbar' }, count,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-primary', onclick: add }, icon('plus'), 'Add permission'),
        h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    err.el,
    h('section', { class: 'card card-flush', 'aria-label': `Permissions on ${path}` },
      h('h2', { class: 'card-title' }, 'On ', h('code', null, path)),
      h('div', { class: 'table-wrap' }, table(own, `Permissions on ${path}`, false))),
    inheritedCard);

  const cells = (a) => [
    h('td', null, TYPE_LABEL[a.type] || a.type),
    h('td', null, a.ugid),
    h('td', null, a.roleid),
    h('td', { class: 'optional' }, Number(a.propagate ?? 1) ? 'Yes' : 'No'),
  ];

  async function refresh() {
    try {
      const acl = await api('/access/acl', { signal });
      const list = Array.isArray(acl) ? acl : [];
      const mine = list.filter((a) => a.path === path);
      const above = new Set(['/', '/vms']);
      if (guest.pool) above.add(`/pool/${guest.pool}`);
      const from = list.filter((a) => above.has(a.path) && Number(a.propagate ?? 1))
        .sort((a, b) => a.path.length - b.path.length || a.ugid.localeCompare(b.ugid));
      own.replaceChildren(...(mine.length ? mine.map((a) => h('tr', null, cells(a),
        h('td', { class: 'row-actions' }, h('button', {
          type: 'button', class: 'btn btn-small', onclick: () => remove(a), 'aria-label': `Remove ${a.roleid} of ${a.ugid}`,
        }, icon('trash'), h('span', { class: 'btn-label' }, 'Remove'))))) : [h('tr', null, h('td', { colspan: 5, class: 'empty' }, `No permissions are set on ${path} itself.`))]));
      inherited.replaceChildren(...from.map((a) => h('tr', null, h('td', null, a.path), cells(a))));
      inheritedCard.hidden = !from.length;
      setText(count, `${mine.length} entr${mine.length === 1 ? 'y' : 'ies'} on ${path}${from.length ? `, ${from.length} inherited` : ''}`);
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  async function remove(a) {
    const ok = await confirmDialog({
      title: 'Remove permission?',
      message: `${TYPE_LABEL[a.type] || a.type} ${a.ugid} loses role ${a.roleid} on ${path}.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api('/access/acl', { method: 'PUT', body: { path, roles: a.roleid, [PARAM[a.type]]: a.ugid, delete: 1 } });
    } catch (e) {
      err.set(e);
    }
    refresh();
  }

  function add() {
    const type = field({ label: 'For', name: 'type', type: 'select', options: [['user', 'User'], ['group', 'Group'], ['token', 'API token']], value: 'user' });
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
    Promise.allSettled([api('/access/users'), api('/access/groups'), api('/access/roles')]).then(([u, g, r]) => {
      if (u.status === 'fulfilled' && Array.isArray(u.value)) names.user = u.value.map((x) => x.userid).filter(Boolean).sort();
      if (g.status === 'fulfilled' && Array.isArray(g.value)) names.group = g.value.map((x) => x.groupid).filter(Boolean).sort();
      if (r.status === 'fulfilled' && Array.isArray(r.value)) {
        role.setOptions(r.value.map((x) => x.roleid).filter(Boolean).sort().map((x) => [x, x]), false);
        role.set(r.value.some((x) => x.roleid === 'PVEVMUser') ? 'PVEVMUser' : r.value[0]?.roleid);
      } else {
        role.setError('Could not load the roles.');
      }
      fillWho();
    });
    return formDialog({
      title: `Add a permission on ${path}`, fields: [type, who, role, propagate], submitLabel: 'Add',
      intro: `Grants a role on ${noun} ${guest.vmid}.`,
      onSubmit: async () => {
        await api('/access/acl', { method: 'PUT', body: { path, roles: role.get(), [PARAM[type.get()]]: who.get(), propagate: propagate.get() ? 1 : 0 } });
        refresh();
      },
    });
  }

  refresh();
  return null;
});
