// The Migrate dialog of a VM or container: the server's precondition check (GET …/migrate) picks
// the nodes it can go to and says why the others are out; a running VM moves live (its local
// disks copied on the way when asked), a running container by restart.

import { api } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { guestBase, guestNoun } from '../guests.js';

/** Why a node is not allowed, from the precondition's `not_allowed_nodes` entry. */
function reason(why) {
  if (!why || typeof why !== 'object') return 'not allowed';
  const parts = [];
  if (why.offline) parts.push('offline');
  if (Array.isArray(why.unavailable_storages) && why.unavailable_storages.length) {
    parts.push(`storage ${why.unavailable_storages.join(', ')} not shared there`);
  }
  return parts.join('; ') || 'not allowed';
}

/**
 * Asks where `guest` goes and starts the migration. Resolves to the POST's answer (a UPID) or
 * null when cancelled; `run(label, fn)` is the caller's task feedback.
 */
export async function migrateDialog(guest, { signal, run }) {
  const base = guestBase(guest);
  const noun = guestNoun(guest.type);
  const check = await api(`${base}/migrate`, { signal });
  const allowed = check.allowed_nodes || check['allowed-nodes'] || [];
  const notAllowed = check.not_allowed_nodes || check['not-allowed-nodes'] || {};
  const running = !!check.running;
  const ct = guest.type === 'lxc';

  // a node that lacks only the storage of local disks can take them into a storage of its own
  const localDisks = Array.isArray(check.local_disks) ? check.local_disks : [];
  const mappable = !ct && localDisks.length
    ? Object.entries(notAllowed).filter(([, why]) => why && !why.offline && Object.keys(why).every((k) => k === 'unavailable_storages')).map(([n]) => n)
    : [];
  const choices = [...allowed, ...mappable];
  const target = field({
    label: 'Target node', name: 'target', type: 'select', required: true,
    options: choices.map((n) => ({ value: n, label: mappable.includes(n) ? `${n} (local disks copied into a target storage)` : n })),
  });
  const restart = ct && running ? field({ label: 'Restart mode (shut down, move, start on the target)', name: 'restart', type: 'checkbox', value: true }) : null;
  const timeout = ct && running ? field({ label: 'Shutdown timeout (s)', name: 'timeout', type: 'number', min: 0, max: 7200, value: 180 }) : null;
  const online = !ct && running ? field({ label: 'Online (live migration)', name: 'online', type: 'checkbox', value: true }) : null;
  const withLocal = !ct && running && localDisks.length
    ? field({ label: `Copy local disks on the way (${localDisks.map((d) => d.volid).join(', ')})`, name: 'with-local-disks', type: 'checkbox', value: true })
    : null;
  const targetStorage = !ct && localDisks.length
    ? field({ label: 'Target storage for local disks (empty: the same ID)', name: 'targetstorage', type: 'text', value: '' })
    : null;
  const refused = Object.entries(notAllowed).filter(([n]) => !mappable.includes(n));
  const body = h('div', { class: 'form-grid' },
    target.el, online?.el, withLocal?.el, targetStorage?.el, restart?.el, timeout?.el,
    refused.length
      ? h('div', { class: 'field field-wide', dataset: { role: 'not-allowed' } },
        h('p', { class: 'muted small' }, 'Not possible:'),
        h('ul', { class: 'plain-list small' }, refused.map(([n, why]) => h('li', { dataset: { node: n } }, `${n}: ${reason(why)}`))))
      : null,
    !choices.length ? h('p', { class: 'field field-wide muted', dataset: { role: 'no-target' } }, 'No node can take this guest now.') : null);

  let started = null;
  const ok = await formDialog({
    title: `Migrate ${noun} ${guest.vmid}`,
    fields: [target, online, withLocal, targetStorage, restart, timeout].filter(Boolean), body, submitLabel: 'Migrate', className: 'migrate-dialog',
    onSubmit: async () => {
      if (!choices.length) throw new Error('no node can take this guest now');
      const params = { target: target.get() };
      if (restart) params.restart = restart.get() ? 1 : 0;
      if (online) params.online = online.get() ? 1 : 0;
      if (withLocal) params['with-local-disks'] = withLocal.get() ? 1 : 0;
      if (targetStorage && targetStorage.get()) params.targetstorage = targetStorage.get();
      if (timeout && timeout.get() !== '') params.timeout = Number(timeout.get());
      started = { target: params.target, params };
    },
  });
  if (!ok || !started) return null;
  return run(`Migrate ${noun} ${guest.vmid} to ${started.target}`,
    () => api(`${base}/migrate`, { method: 'POST', body: started.params, signal }));
}
