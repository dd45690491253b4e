// Datacenter → Backup: the scheduled backup jobs (GET /cluster/backup, jobs.cfg) as a table — enabled,
// node, schedule, next run, storage, which guests, mode, compression, comment — and what acts on the
// row picked (a radio button per row; a double-click or Enter edits): Add and Edit (backup-job-dialog.js),
// Remove, Run now (POST /nodes/{node}/vzdump with the job's options, on the job's node or, like PVE, on
// every online node for a job of all nodes, each task on its own feedback line) and Job detail (the
// volumes the job takes: GET /cluster/backup/{id}/included_volumes). Below, the guests no enabled job
// covers (GET /cluster/backup-info/not-backed-up).

import { api, errorText, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { confirmDialog, modal } from '../dialog.js';
import { formatTimestampLong } from '../format.js';
import { formatPropString } from '../propstring.js';
import { hashFor } from '../router.js';
import { isOnline, loadNodes } from '../nodes.js';
import { taskFeedback } from '../taskrun.js';
import { errorSlot } from '../ui.js';
import { accessView, listPanel, showError, splitList, toolButton } from './access-common.js';
import { backupJobDialog, MODES } from './backup-job-dialog.js';
import { runTime } from '../schedule-preview.js';
import { listTable } from './list-view.js';

/** The options of a job that Run now passes on to vzdump (the rest is about the schedule). */
const RUN_OPTIONS = ['vmid', 'all', 'pool', 'exclude', 'storage', 'mode', 'compress', 'zstd', 'remove', 'prune-backups',
  'notes-template', 'protected', 'stopwait', 'bwlimit', 'exclude-path'];
const COMPRESS_NAMES = { 0: 'None', lzo: 'LZO', gzip: 'GZIP', zstd: 'ZSTD' };
const MODE_NAMES = Object.fromEntries(MODES);

const has = (v) => v !== undefined && v !== null && v !== '';
/** A job with property strings as strings (PVE itself answers some, prune-backups among them, as objects). */
const flat = (job) => Object.fromEntries(Object.entries(job).map(([k, v]) => [k, v && typeof v === 'object' ? formatPropString(v) : v]));
const guestNoun = (type) => (type === 'lxc' ? 'CT' : type === 'qemu' ? 'VM' : 'Guest');

/** What a job backs up: "All guests", "All guests, except 101, 102", "Pool web", "100, 101". */
export function selectionText(job) {
  const ids = (v) => splitList(String(v ?? '')).join(', ');
  if (Number(job.all) === 1) return has(job.exclude) ? `All guests, except ${ids(job.exclude)}` : 'All guests';
  const parts = [];
  if (has(job.pool)) parts.push(`Pool ${job.pool}`);
  if (has(job.vmid)) parts.push(ids(job.vmid));
  return parts.join('; ') || '–';
}

export const mountDcBackup = accessView((panel, signal) => {
  const action = (id, label, iconName, fn, primary = false) => {
    const b = toolButton(label, iconName, fn, primary);
    b.dataset.action = id;
    return b;
  };
  const picking = [
    action('edit', 'Edit', 'edit', () => edit()),
    action('remove', 'Remove', 'trash', () => remove()),
    action('run', 'Run now', 'play', () => runNow()),
    action('detail', 'Job detail', 'summary', () => detail()),
  ];
  const actionErr = errorSlot();
  const runs = h('div', { class: 'job-runs' }); // one task line per node Run now started on
  const list = listPanel(panel, {
    what: 'backup jobs', before: [runs, actionErr.el], caption: 'Backup jobs',
    columns: ['ID', 'Enabled', 'Node', 'Schedule', 'Next run', 'Storage', 'Selection', { label: 'Mode', optional: true },
      { label: 'Compression', optional: true }, { label: 'Comment', optional: true }],
    buttons: [action('add', 'Add', 'plus', () => add(), true), ...picking, action('reload', 'Reload', 'refresh', () => refresh())],
  });
  // The toolbar acts on the picked row: no column of row buttons. Ten columns: a little less padding.
  list.tbody.parentElement.querySelector('thead th.actions-col')?.remove();
  list.tbody.parentElement.classList.add('job-grid');

  // Guests without a job.
  const uncoveredErr = errorSlot('Could not load the guests without a backup job');
  const uncovered = listTable('Guests without a backup job', ['ID', 'Type', 'Name']);
  const uncoveredTitle = h('h2', { class: 'card-title' }, 'Guests without a backup job');
  uncovered.el.prepend(uncoveredTitle);
  uncovered.el.dataset.role = 'not-backed-up';
  panel.append(h('div', { class: 'job-uncovered' }, uncoveredErr.el, uncovered.el));

  const pickName = `job-pick-${Math.random().toString(36).slice(2, 8)}`;
  let jobs = [];         // the jobs shown
  let picked = null;     // the ID of the row picked, if it is still there

  function pick(id) {
    picked = jobs.some((j) => j.id === id) ? id : null;
    for (const tr of list.tbody.rows) {
      const on = tr.dataset.job === picked;
      tr.classList.toggle('is-picked', on);
      const radio = tr.querySelector('input[type=radio]');
      if (radio) radio.checked = on;
    }
    for (const b of picking) b.disabled = !picked;
  }
  const pickedJob = () => jobs.find((j) => j.id === picked) || null;

  function row(j) {
    const radio = h('input', { type: 'radio', name: pickName, value: j.id, 'aria-label': `Pick backup job ${j.id}` });
    radio.addEventListener('change', () => pick(j.id));
    radio.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); pick(j.id); edit(); } });
    const on = Number(j.enabled ?? 1) === 1;
    const next = Number(j['next-run']) || 0;
    return h('tr', {
      class: on ? null : 'is-disabled',
      dataset: { job: j.id },
      onclick: (ev) => { if (ev.target !== radio) pick(j.id); },
      ondblclick: () => { pick(j.id); edit(); },
    },
    h('th', { scope: 'row' }, h('label', { class: 'row-pick' }, radio, h('span', { class: 'mono job-id' }, j.id))),
    h('td', null, on ? 'Yes' : h('span', { class: 'status status-error' }, 'No')),
    h('td', null, has(j.node) ? j.node : 'All nodes'),
    h('td', { class: 'nowrap' }, h('code', null, String(j.schedule ?? ''))),
    h('td', { class: 'nowrap', dataset: { nextRun: next || '' }, title: next ? formatTimestampLong(next) : null },
      next ? runTime(next) : '–'),
    h('td', null, has(j.storage) ? String(j.storage) : '–'),
    h('td', { class: 'job-selection' }, selectionText(j)),
    h('td', { class: 'optional' }, MODE_NAMES[j.mode] || (has(j.mode) ? String(j.mode) : 'Snapshot')),
    h('td', { class: 'optional' }, has(j.compress) ? COMPRESS_NAMES[j.compress] || String(j.compress) : '–'),
    h('td', { class: 'optional desc-cell' }, has(j.comment) ? String(j.comment) : ''));
  }

  async function refresh(select = picked) {
    const missing = api('/cluster/backup-info/not-backed-up', { signal }).then((answer) => {
      const guests = (Array.isArray(answer) ? answer : []).filter((g) => g && g.vmid !== undefined)
        .sort((a, b) => Number(a.vmid) - Number(b.vmid));
      uncovered.fill(guests.map((g) => h('tr', { dataset: { vmid: g.vmid } },
        h('th', { scope: 'row' }, g.type === 'qemu' || g.type === 'lxc'
          ? h('a', { class: 'link', href: hashFor(`${g.type}/${g.vmid}`, 'backup') }, String(g.vmid)) : String(g.vmid)),
        h('td', null, guestNoun(g.type)),
        h('td', null, g.name || ''))), 'Every guest is in an enabled backup job.');
      setText(uncoveredTitle, `Guests without a backup job${guests.length ? ` (${guests.length})` : ''}`);
      uncoveredErr.set(null);
    }).catch(showError(uncoveredErr));
    try {
      const answer = await api('/cluster/backup', { signal });
      const focused = document.activeElement?.closest?.('tr[data-job]')?.dataset.job;
      jobs = (Array.isArray(answer) ? answer : []).filter((j) => j && j.id)
        .map((j) => ({ ...flat(j), id: String(j.id) })).sort((a, b) => a.id.localeCompare(b.id));
      list.show(jobs.map(row), `${jobs.length} backup job${jobs.length === 1 ? '' : 's'}`, 'No backup jobs.');
      pick(select);
      if (focused) [...list.tbody.rows].find((r) => r.dataset.job === focused)?.querySelector('input')?.focus({ preventScroll: true });
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
    await missing;
  }

  async function add() {
    actionErr.set(null);
    const known = new Set(jobs.map((j) => j.id));
    if (!(await backupJobDialog(null))) return;
    await refresh();
    const fresh = jobs.find((j) => !known.has(j.id));
    if (fresh) pick(fresh.id);
  }

  async function edit() {
    if (!picked) return;
    actionErr.set(null);
    let job;
    try {
      job = await api(`/cluster/backup/${seg(picked)}`, { signal }); // as it is now, not as listed
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read backup job ${picked}: ${errorText(e)}`));
      return;
    }
    if (await backupJobDialog({ ...flat(job || {}), id: picked })) refresh();
  }

  async function remove() {
    const job = pickedJob();
    if (!job) return;
    const ok = await confirmDialog({
      title: `Remove backup job ${job.id}?`,
      message: `The job (selection: ${selectionText(job)}; schedule ${job.schedule}) no longer runs. The backups it made stay on their storage.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/backup/${seg(job.id)}`, { method: 'DELETE' });
      actionErr.set(null);
    } catch (e) {
      actionErr.set(new Error(`Could not remove backup job ${job.id}: ${errorText(e)}`));
    }
    refresh(null);
  }

  async function runNow() {
    const job = pickedJob();
    if (!job) return;
    actionErr.set(null);
    let nodes;
    try {
      nodes = await loadNodes({ maxAge: 5000 });
    } catch (e) {
      actionErr.set(new Error(`Could not read the node list: ${errorText(e)}`));
      return;
    }
    const online = nodes.filter(isOnline).map((n) => n.node);
    let targets = online;
    if (has(job.node)) {
      if (!online.includes(job.node)) {
        actionErr.set(new Error(`Backup job ${job.id} runs on node ${job.node}, which is not online.`));
        return;
      }
      targets = [job.node];
    }
    if (!targets.length) {
      actionErr.set(new Error('No node is online.'));
      return;
    }
    const body = {};
    for (const key of RUN_OPTIONS) if (has(job[key])) body[key] = job[key];
    runs.replaceChildren();
    for (const node of targets) {
      const feedback = taskFeedback({ signal });
      feedback.el.dataset.node = node;
      runs.append(feedback.el);
      const label = targets.length > 1 || has(job.node) ? `Backup job ${job.id} on ${node}` : `Backup job ${job.id}`;
      feedback.run(label, () => api(`/nodes/${seg(node)}/vzdump`, { method: 'POST', body }))
        .catch((e) => console.debug(`${label} failed:`, e));
    }
  }

  function detail() {
    const job = pickedJob();
    if (!job) return;
    const ctrl = new AbortController();
    const err = errorSlot('Could not read the job\'s volumes');
    const summary = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…');
    const tree = h('ul', { class: 'job-detail', 'aria-label': `Guests and volumes of backup job ${job.id}` });
    const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
    const m = modal({
      title: `Backup job ${job.id}: included volumes`, className: 'dialog-wide job-detail-dialog',
      body: [h('p', { class: 'dialog-intro muted' }, `Selection: ${selectionText(job)}; ${has(job.node) ? `node ${job.node}` : 'every node'}.`),
        err.el, summary, tree],
      foot: [h('span', { class: 'spacer' }), close], onClose: () => ctrl.abort(),
    });
    close.addEventListener('click', () => m.close());
    close.focus();
    api(`/cluster/backup/${seg(job.id)}/included_volumes`, { signal: ctrl.signal }).then((answer) => {
      const guests = Array.isArray(answer?.children) ? answer.children : [];
      let taken = 0;
      let left = 0;
      tree.replaceChildren(...guests.map((g) => {
        const vols = Array.isArray(g.children) ? g.children : [];
        return h('li', { dataset: { vmid: g.id } },
          h('p', { class: 'job-guest' }, icon(g.type === 'lxc' ? 'container' : 'vm'),
            h('strong', null, `${guestNoun(g.type)} ${g.id}`), g.name ? ` ${g.name}` : '',
            g.type === 'unknown' ? h('span', { class: 'muted' }, ' — not found in the cluster') : null),
          vols.length ? h('ul', { class: 'job-volumes' }, vols.map((v) => {
            if (v.included) taken++; else left++;
            return h('li', { dataset: { included: v.included ? '1' : '0' } },
              h('code', null, String(v.id)), ' ', h('span', { class: 'job-volid' }, String(v.name ?? '')), ' ',
              v.included
                ? h('span', { class: 'status status-ok' }, icon('check'), 'Included')
                : h('span', { class: 'status status-warning' }, icon('alert'), 'Excluded'),
              v.reason ? h('span', { class: 'muted small' }, ` (${v.reason})`) : null);
          })) : h('p', { class: 'muted small job-volumes' }, 'No volumes.'));
      }));
      setText(summary, guests.length
        ? `${guests.length} guest${guests.length === 1 ? '' : 's'}: ${taken} volume${taken === 1 ? '' : 's'} included, ${left} excluded.`
        : 'The job covers no guest.');
    }).catch((e) => {
      if (e.name === 'AbortError') return;
      setText(summary, '');
      err.set(e);
    });
  }

  pick(null);
  refresh();
});
