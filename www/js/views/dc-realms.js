// Datacenter → Realms (PVE's Authentication view): the realms users log in with (GET /access/domains) —
// name, type, comment, the default mark and second factor — with Add (a menu: LDAP, Active Directory or
// OpenID Connect server), and Edit, Sync and Remove on each row (a double-click edits too). pam and pve cannot be
// removed nor synced; their buttons stay, disabled, so the rows line up.
//
// The tab is offered with Sys.Audit on /, as PVE's is. The login's `cap` holds no Realm.* privileges
// (PVE's does not either), so the buttons follow GET /access/permissions on /access/realm: Add, Edit
// and Remove need Realm.Allocate there, Sync Realm.AllocateUser and User.Modify (cap.access). The API
// checks every call itself. The dialogs are realm-dialog.js and realm-sync-dialog.js. Below the realms, the
// scheduled syncs (realm-sync jobs, realm-sync-jobs.js): Add and Edit with the Sync privileges, Remove with
// Sys.Modify on /.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { hasCap } from '../login.js';
import { parsePropString } from '../propstring.js';
import { errorSlot, menuButton } from '../ui.js';
import { accessView } from './access-common.js';
import { counter, rowAction, text, toolbar } from './firewall-parts.js';
import { listTable, plural } from './list-view.js';
import { REALM_TYPES, addRealmDialog, editRealmDialog, isDirectory, realmTypeLabel } from './realm-dialog.js';
import { realmSyncDialog } from './realm-sync-dialog.js';
import { directoryRealms, syncJobsPart } from './realm-sync-jobs.js';

const FIXED = ['pam', 'pve'];

/** The caller's Realm.* privileges on /access/realm; unknown (the question failed) counts as held. */
async function realmPrivileges(signal) {
  try {
    const answer = await api('/access/permissions', { params: { path: '/access/realm' }, signal });
    const privs = answer?.['/access/realm'] || {};
    return { allocate: !!Number(privs['Realm.Allocate']), allocateUser: !!Number(privs['Realm.AllocateUser']) };
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return { allocate: true, allocateUser: true };
  }
}

/** "type=oath,step=30" → "oath" (the realm's required second factor), '' when none. */
const tfaText = (v) => text(parsePropString(text(v), 'type').type);

export const mountDcRealms = accessView((panel, signal) => {
  let may = { allocate: false, sync: false };
  const count = counter();
  const err = errorSlot('Could not load the realms');
  const actionErr = errorSlot();
  const add = menuButton({
    label: 'Add', iconName: 'plus', primary: true, data: { action: 'add' },
    items: Object.entries(REALM_TYPES).filter(([, t]) => t.add)
      .map(([type, t]) => ({ label: t.label, data: { type }, onSelect: () => addOne(type) })),
  });
  add.hidden = true;
  const table = listTable('Realms', ['Realm', 'Type', { label: 'Comment', optional: true }, 'Default', { label: 'TFA', optional: true }, { label: 'Actions', actions: true }]);
  table.el.dataset.role = 'realms';
  const readOnly = h('p', { class: 'muted small realm-note', dataset: { role: 'read-only' }, hidden: true },
    'Read only: changing the realms takes Realm.Allocate on /access/realm.');
  panel.append(toolbar(count, [add], () => refresh()), readOnly, err.el, actionErr.el, table.el);
  let directories = [];  // the ldap/ad realms of the latest list, for the sync job dialog
  const jobs = syncJobsPart(panel, signal, { realms: () => directories });

  function row(r) {
    const id = text(r.realm);
    const fixed = FIXED.includes(id);
    const directory = isDirectory(r.type);
    const tfa = tfaText(r.tfa);
    const buttons = [
      may.allocate ? rowAction('edit', 'Edit', 'edit', () => edit(id), `Edit realm ${id}`) : null,
      may.sync ? rowAction('sync', 'Sync', 'refresh', () => sync(id), `Sync realm ${id}`) : null,
      may.allocate ? rowAction('remove', 'Remove', 'trash', () => remove(r), `Remove realm ${id}`) : null,
    ];
    const [, syncBtn, removeBtn] = buttons;
    if (syncBtn && !directory) { syncBtn.disabled = true; syncBtn.title = 'Only LDAP and Active Directory realms sync.'; }
    if (removeBtn && fixed) { removeBtn.disabled = true; removeBtn.title = `Realm ${id} always exists.`; }
    return h('tr', {
      dataset: { realm: id, type: text(r.type) },
      ondblclick: may.allocate ? (ev) => { if (!ev.target.closest('button')) edit(id); } : null,
    },
    h('th', { scope: 'row', class: 'mono nowrap' }, id),
    h('td', null, realmTypeLabel(r.type)),
    h('td', { class: 'optional desc-cell' }, text(r.comment)),
    h('td', null, Number(r.default) ? h('span', { class: 'badge', dataset: { role: 'default' } }, 'Default') : ''),
    h('td', { class: 'optional' }, tfa || '–'),
    h('td', { class: 'row-actions' }, buttons));
  }

  async function refresh(focusId = null) {
    try {
      const list = await api('/access/domains', { signal });
      const rows = (Array.isArray(list) ? list : []).filter((r) => r && r.realm)
        .sort((a, b) => String(a.realm).localeCompare(String(b.realm)));
      const focused = focusId ?? document.activeElement?.closest?.('tr[data-realm]')?.dataset.realm;
      table.fill(rows.map(row), 'No realms.');
      directories = directoryRealms(rows);
      setText(count, plural(rows.length, 'realm'));
      err.set(null);
      if (focused) {
        const tr = [...table.tbody.rows].find((r) => r.dataset.realm === focused);
        tr?.querySelector('button:not(:disabled)')?.focus({ preventScroll: true });
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function addOne(type) {
    actionErr.set(null);
    const id = await addRealmDialog(type);
    if (id && !signal.aborted) refresh(id);
  }

  async function edit(id) {
    actionErr.set(null);
    try {
      if (await editRealmDialog(id) && !signal.aborted) refresh(id);
    } catch (e) {
      actionErr.set(new Error(`Could not read realm ${id}: ${errorText(e)}`));
    }
  }

  async function sync(id) {
    actionErr.set(null);
    try {
      await realmSyncDialog(id, { onSynced: () => { if (!signal.aborted) refresh(); } });
    } catch (e) {
      actionErr.set(new Error(`Could not read realm ${id}: ${errorText(e)}`));
    }
  }

  async function remove(r) {
    actionErr.set(null);
    const id = text(r.realm);
    const ok = await confirmDialog({
      title: `Remove realm ${id}?`,
      message: `Nobody can log in as …@${id} any more${isDirectory(r.type) ? ', and its stored bind password is deleted' : ''}. `
        + 'Its users and groups stay in the user configuration (with their permissions) until they are removed, or the realm is added again.',
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/access/domains/${seg(id)}`, { method: 'DELETE', signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not remove realm ${id}: ${errorText(e)}`));
    }
    if (!signal.aborted) refresh();
  }

  realmPrivileges(signal).then((p) => {
    may = { allocate: p.allocate, sync: p.allocateUser && hasCap('access', 'User.Modify') };
    add.hidden = !may.allocate;
    readOnly.hidden = may.allocate;
    refresh();
    jobs.setMay({ edit: may.sync, remove: hasCap('dc', 'Sys.Modify') });
  }).catch(() => { /* the view went away */ });
});
