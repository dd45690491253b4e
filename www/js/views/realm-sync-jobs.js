// The Sync jobs part of Datacenter → Realms (PVE's Realms → Realm Sync jobs): the scheduled syncs of jobs.cfg
// (GET /cluster/jobs/realm-sync) — ID, realm, schedule, scope, enabled, last and next run, comment — with Add,
// and Edit and Remove on each row (a double-click edits too). Add and Edit need what a sync needs
// (Realm.AllocateUser, User.Modify), Remove Sys.Modify on /; the API checks every call itself.
// The dialog is realm-sync-job-dialog.js.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { errorSlot } from '../ui.js';
import { runTime } from '../schedule-preview.js';
import { actionButton, counter, rowAction, text, toolbar } from './firewall-parts.js';
import { listTable, plural } from './list-view.js';
import { SCOPES, isDirectory } from './realm-dialog.js';
import { realmSyncJobDialog } from './realm-sync-job-dialog.js';

const scopeText = (v) => SCOPES.find(([k]) => k === v)?.[1] || text(v) || '–';
const when = (epoch) => (Number(epoch) ? runTime(epoch) : '–');

/**
 * Append the Sync jobs list to `parent`. may: {edit, remove} (what the caller is offered). realms(): the
 * ldap/ad realm names the Add dialog offers (the realm list's latest answer).
 * → {refresh(), setMay(may), addFor(realm)}.
 */
export function syncJobsPart(parent, signal, { realms }) {
  let may = { edit: false, remove: false };
  const count = counter();
  const err = errorSlot('Could not load the sync jobs');
  const actionErr = errorSlot();
  const add = actionButton('add-sync-job', 'Add', 'plus', () => addFor(''), true);
  add.hidden = true;
  const table = listTable('Sync jobs', ['ID', 'Realm', 'Schedule', { label: 'Scope', optional: true }, 'Enabled',
    { label: 'Last run', optional: true }, 'Next run', { label: 'Comment', optional: true }, { label: 'Actions', actions: true }]);
  table.el.dataset.role = 'sync-jobs';
  parent.append(h('section', { class: 'realm-sync-jobs', 'aria-label': 'Sync jobs' },
    h('h2', { class: 'card-title' }, 'Sync jobs'),
    h('p', { class: 'muted small realm-note' }, 'Scheduled syncs of LDAP and Active Directory realms, as Sync would run them.'),
    toolbar(count, [add], () => refresh()), err.el, actionErr.el, table.el));

  function row(j) {
    const id = text(j.id);
    const buttons = [
      may.edit ? rowAction('edit', 'Edit', 'edit', () => edit(id), `Edit sync job ${id}`) : null,
      may.remove ? rowAction('remove', 'Remove', 'trash', () => remove(id), `Remove sync job ${id}`) : null,
    ];
    return h('tr', {
      dataset: { job: id },
      ondblclick: may.edit ? (ev) => { if (!ev.target.closest('button')) edit(id); } : null,
    },
    h('th', { scope: 'row', class: 'mono nowrap' }, id),
    h('td', { class: 'mono' }, text(j.realm)),
    h('td', { class: 'nowrap' }, h('code', null, text(j.schedule))),
    h('td', { class: 'optional' }, scopeText(j.scope)),
    h('td', { dataset: { role: 'enabled' } }, Number(j.enabled ?? 1) ? 'Yes' : 'No'),
    h('td', { class: 'optional nowrap', dataset: { role: 'last-run' } }, when(j['last-run'])),
    h('td', { class: 'nowrap', dataset: { role: 'next-run' } }, Number(j.enabled ?? 1) ? when(j['next-run']) : '–'),
    h('td', { class: 'optional desc-cell' }, text(j.comment)),
    h('td', { class: 'row-actions' }, buttons));
  }

  async function refresh(focusId = null) {
    try {
      const list = await api('/cluster/jobs/realm-sync', { signal });
      const rows = (Array.isArray(list) ? list : []).filter((j) => j && j.id).sort((a, b) => String(a.id).localeCompare(String(b.id)));
      const focused = focusId ?? document.activeElement?.closest?.('tr[data-job]')?.dataset.job;
      table.fill(rows.map(row), 'No sync jobs.');
      setText(count, plural(rows.length, 'sync job'));
      err.set(null);
      if (focused) [...table.tbody.rows].find((r) => r.dataset.job === focused)?.querySelector('button')?.focus({ preventScroll: true });
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function addFor(realm) {
    actionErr.set(null);
    const id = await realmSyncJobDialog({ realms: realms(), realm });
    if (id && !signal.aborted) refresh(id);
  }

  async function edit(id) {
    actionErr.set(null);
    let job;
    try {
      job = await api(`/cluster/jobs/realm-sync/${seg(id)}`, { signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read sync job ${id}: ${errorText(e)}`));
      return;
    }
    if (await realmSyncJobDialog({ job: { ...job, id }, realms: realms() }) && !signal.aborted) refresh(id);
  }

  async function remove(id) {
    actionErr.set(null);
    const ok = await confirmDialog({
      title: `Remove sync job ${id}?`,
      message: 'The realm is no longer synced on this schedule. The users and groups synced so far stay.',
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/jobs/realm-sync/${seg(id)}`, { method: 'DELETE', signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not remove sync job ${id}: ${errorText(e)}`));
    }
    if (!signal.aborted) refresh();
  }

  return {
    refresh,
    addFor,
    setMay(m) {
      may = { edit: !!m.edit, remove: !!m.remove };
      add.hidden = !may.edit;
      refresh();
    },
  };
}

/** The ldap/ad realm names of a GET /access/domains answer. */
export const directoryRealms = (list) => (Array.isArray(list) ? list : []).filter((r) => r && isDirectory(r.type)).map((r) => String(r.realm)).sort();
