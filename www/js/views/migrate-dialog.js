// The Migrate dialog of a VM or container: the server's precondition check (GET …/migrate) picks
// the nodes it can go to and says why the others are out; a running container moves by restart.

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

  const target = field({
    label: 'Target node', name: 'target', type: 'select', required: true,
    options: allowed.map((n) => ({ value: n, label: n })),
  });
  const restart = ct && running ? field({ label: 'Restart mode (shut down, move, start on the target)', name: 'restart', type: 'checkbox', value: true }) : null;
  const timeout = ct && running ? field({ label: 'Shutdown timeout (s)', name: 'timeout', type: 'number', min: 0, max: 7200, value: 180 }) : null;
  const refused = Object.entries(notAllowed);
  const body = h('div', { class: 'form-grid' },
    target.el, restart?.el, timeout?.el,
    refused.length
      ? h('div', { class: 'field field-wide', dataset: { role: 'not-allowed' } },
        h('p', { class: 'muted small' }, 'Not possible:'),
        h('ul', { class: 'plain-list small' }, refused.map(([n, why]) => h('li', { dataset: { node: n } }, `${n}: ${reason(why)}`))))
      : null,
    !ct && running ? h('p', { class: 'field field-wide notice-warning' }, 'The VM is running: shut it down first (live migration is not available yet).') : null,
    !allowed.length ? h('p', { class: 'field field-wide muted', dataset: { role: 'no-target' } }, 'No node can take this guest now.') : null);

  let started = null;
  const ok = await formDialog({
    title: `Migrate ${noun} ${guest.vmid}`,
    fields: [target, restart, timeout].filter(Boolean), body, submitLabel: 'Migrate', className: 'migrate-dialog',
    onSubmit: async () => {
      if (!allowed.length) throw new Error('no node can take this guest now');
      const params = { target: target.get() };
      if (restart) params.restart = restart.get() ? 1 : 0;
      if (timeout && timeout.get() !== '') params.timeout = Number(timeout.get());
      started = { target: params.target, params };
    },
  });
  if (!ok || !started) return null;
  return run(`Migrate ${noun} ${guest.vmid} to ${started.target}`,
    () => api(`${base}/migrate`, { method: 'POST', body: started.params, signal }));
}
