// Guest → Permissions: the ACL entries on /vms/{vmid} (from GET /access/acl),
// plus the entries that reach it from above (/, /vms, its pool), with adding
// and removing entries on the guest's own path.

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { guestNoun, guestView } from '../guests.js';
import { ACL_TYPE_LABEL, addAclDialog, removeAcl } from './acl-common.js';

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
    h('td', null, ACL_TYPE_LABEL[a.type] || a.type),
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
    try {
      if (!(await removeAcl({ ...a, path }))) return;
    } catch (e) {
      err.set(e);
    }
    refresh();
  }

  async function add() {
    if (await addAclDialog({ title: `Add a permission on ${path}`, intro: `Grants a role on ${noun} ${guest.vmid}.`, path })) refresh();
  }

  refresh();
  return null;
});
