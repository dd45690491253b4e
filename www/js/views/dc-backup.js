// Datacenter → Backup: the scheduled backup jobs (jobs.cfg) with their next
// run, add/edit/remove with a live preview of the schedule
// (GET /cluster/jobs/schedule-analyze), "Run now" (POST /nodes/{node}/vzdump
// with the job's options), each job's included volumes, and the guests no
// enabled job covers (GET /cluster/backup-info/not-backed-up).

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog, modal } from '../dialog.js';
import { taskFeedback } from '../taskrun.js';
import { loadNodes, isOnline } from '../nodes.js';
import { accessView, listPanel, rowButton, showError, toolButton } from './access-common.js';

const KEEPS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];
const PRESETS = ['21:00', 'sat 02:00', 'mon..fri 22:30', 'hourly', '*/30', 'daily', 'weekly'];
/** What a job may carry beyond its id: what the dialog edits, the rest kept as it is. */
const EDITED = ['schedule', 'node', 'storage', 'vmid', 'all', 'pool', 'exclude', 'mode', 'compress', 'enabled', 'comment',
  'prune-backups', 'notes-template', 'repeat-missed'];

const when = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleString() : '–');

function selection(job) {
  if (Number(job.all)) return job.exclude ? `all except ${job.exclude}` : 'all guests';
  if (job.pool) return `pool ${job.pool}`;
  return job.vmid ? `guests ${job.vmid}` : '–';
}

export const mountDcBackup = accessView((panel, signal) => {
  let jobs = [];
  const feedback = taskFeedback({ signal });
  const missing = h('tbody');
  const list = listPanel(panel, {
    what: 'backup jobs', caption: 'Backup jobs',
    columns: ['Job', 'Enabled', 'Node', 'Schedule', 'Next run', 'Storage', 'Selection', { label: 'Mode', optional: true },
      { label: 'Comment', optional: true }],
    buttons: [toolButton('Add job', 'plus', () => edit(null), true), toolButton('Reload', 'refresh', () => refresh())],
    before: [feedback.el],
  });
  panel.append(h('section', { class: 'card card-flush', 'aria-label': 'Guests without a backup job' },
    h('h2', { class: 'card-title' }, 'Guests without a backup job'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
      h('thead', null, h('tr', null, ['ID', 'Type', 'Name'].map((c) => h('th', { scope: 'col' }, c)))), missing))));

  async function refresh() {
    try {
      const [answer, uncovered] = await Promise.all([
        api('/cluster/backup', { signal }), api('/cluster/backup-info/not-backed-up', { signal }).catch(() => []),
      ]);
      jobs = (Array.isArray(answer) ? answer : []).sort((a, b) => String(a.id).localeCompare(String(b.id)));
      list.show(jobs.map((j) => h('tr', { dataset: { job: j.id } },
        h('th', { scope: 'row' }, j.id),
        h('td', null, Number(j.enabled ?? 1) ? 'Yes' : 'No'),
        h('td', null, j.node || 'all nodes'),
        h('td', { class: 'nowrap' }, j.schedule || ''),
        h('td', { class: 'nowrap', dataset: { nextRun: j['next-run'] || '' } }, when(j['next-run'])),
        h('td', null, j.storage || 'local'),
        h('td', null, selection(j)),
        h('td', { class: 'optional' }, j.mode || 'snapshot'),
        h('td', { class: 'optional' }, j.comment || ''),
        h('td', { class: 'row-actions' }, [
          rowButton('Run now', 'play', () => runNow(j), `Run backup job ${j.id} now`),
          rowButton('Detail', 'summary', () => detail(j), `Volumes backup job ${j.id} includes`),
          rowButton('Edit', 'edit', () => edit(j), `Edit backup job ${j.id}`),
          rowButton('Remove', 'trash', () => remove(j), `Remove backup job ${j.id}`),
        ]))), `${jobs.length} job${jobs.length === 1 ? '' : 's'}`, 'No backup jobs.');
      missing.replaceChildren(...((uncovered || []).length
        ? uncovered.map((g) => h('tr', null, h('td', null, String(g.vmid)), h('td', null, g.type), h('td', null, g.name || '')))
        : [h('tr', null, h('td', { colspan: 3, class: 'empty' }, 'Every guest is in an enabled job.'))]));
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  async function edit(job) {
    const nodes = await loadNodes().catch(() => []);
    const names = nodes.map((n) => n.node).sort();
    const here = names.find((n) => nodes.some((x) => x.node === n && isOnline(x))) || names[0];
    const storages = here ? await api(`/nodes/${seg(here)}/storage`, { signal, params: { content: 'backup' } }).catch(() => []) : [];
    const pools = await api('/pools', { signal }).catch(() => []);
    const keep = Object.fromEntries(String(job?.['prune-backups'] || '').split(',').filter(Boolean).map((p) => p.split('=')));
    const f = {
      schedule: field({ label: 'Schedule', name: 'schedule', required: true, value: job?.schedule || '21:00', list: PRESETS,
        hint: 'A calendar event: "21:00", "sat 02:00", "mon..fri 22:30", "*/30", "hourly".' }),
      node: field({ label: 'Node', name: 'node', type: 'select', options: [['', 'All nodes'], ...names], value: job?.node || '' }),
      storage: field({ label: 'Storage', name: 'storage', type: 'select',
        options: (storages || []).map((s) => s.storage).sort(), value: job?.storage || 'local' }),
      select: field({ label: 'Selection', name: 'selection', type: 'select',
        options: [['all', 'All guests'], ['vmid', 'These guests'], ['pool', 'A pool']],
        value: Number(job?.all) ? 'all' : job?.pool ? 'pool' : job?.vmid ? 'vmid' : 'all' }),
      vmid: field({ label: 'Guests (IDs)', name: 'vmid', value: job?.vmid || '', placeholder: '100,101' }),
      pool: field({ label: 'Pool', name: 'pool', type: 'select', options: (pools || []).map((p) => p.poolid).sort(), value: job?.pool || '' }),
      exclude: field({ label: 'Exclude (IDs)', name: 'exclude', value: job?.exclude || '', hint: 'With all guests.' }),
      mode: field({ label: 'Mode', name: 'mode', type: 'select', options: ['snapshot', 'suspend', 'stop'], value: job?.mode || 'snapshot' }),
      compress: field({ label: 'Compression', name: 'compress', type: 'select',
        options: [['zstd', 'ZSTD (fast and good)'], ['gzip', 'GZIP'], ['lzo', 'LZO'], ['0', 'None']], value: job?.compress ?? 'zstd' }),
      enabled: field({ label: 'Enabled', name: 'enabled', type: 'checkbox', value: Number(job?.enabled ?? 1) }),
      repeat: field({ label: 'Run a missed job when the node is back', name: 'repeat-missed', type: 'checkbox',
        value: Number(job?.['repeat-missed'] || 0) }),
      notes: field({ label: 'Notes template', name: 'notes-template', value: job?.['notes-template'] || '',
        hint: '{{guestname}}, {{node}}, {{vmid}}, {{cluster}}' }),
      comment: field({ label: 'Comment', name: 'comment', value: job?.comment || '' }),
    };
    const keeps = KEEPS.map((k) => field({ label: `Keep ${k}`, name: 'prune-backups', type: 'number', min: 0, value: keep[`keep-${k}`] ?? '' }));
    const preview = h('ul', { class: 'schedule-preview small', 'aria-live': 'polite', dataset: { role: 'schedule-preview' } });
    let timer = null;
    const showPreview = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        try {
          const runs = await api('/cluster/jobs/schedule-analyze', { signal, params: { schedule: f.schedule.get(), iterations: 5 } });
          preview.replaceChildren(...runs.map((r) => h('li', { dataset: { timestamp: r.timestamp } }, when(r.timestamp))));
          f.schedule.setError(null);
        } catch (e) {
          preview.replaceChildren();
          f.schedule.setError(e?.errors?.schedule || 'not a schedule');
        }
      }, 250);
    };
    f.schedule.input.addEventListener('input', showPreview);
    const sync = () => {
      const mode = f.select.get();
      f.vmid.el.hidden = mode !== 'vmid';
      f.pool.el.hidden = mode !== 'pool';
      f.exclude.el.hidden = mode !== 'all';
    };
    f.select.input.addEventListener('change', sync);
    sync();
    showPreview();
    const fields = [...Object.values(f), ...keeps];
    const body = h('div', null,
      h('div', { class: 'form-grid' }, f.schedule.el, h('div', { class: 'field' }, h('p', { class: 'field-label' }, 'Next runs'), preview),
        f.node.el, f.storage.el, f.select.el, f.vmid.el, f.pool.el, f.exclude.el, f.mode.el, f.compress.el,
        f.enabled.el, f.repeat.el, f.notes.el, f.comment.el),
      h('h3', null, 'Retention'), h('p', { class: 'muted small' }, 'Empty: the storage\'s own setting.'),
      h('div', { class: 'form-grid' }, keeps.map((k) => k.el)));
    return formDialog({
      title: job ? `Edit backup job ${job.id}` : 'Add a backup job', fields, body, submitLabel: job ? 'Save' : 'Add', className: 'dialog-wide',
      onSubmit: async () => {
        const mode = f.select.get();
        const prune = KEEPS.map((k, i) => (keeps[i].get() !== '' ? `keep-${k}=${keeps[i].get()}` : null)).filter(Boolean).join(',');
        const want = {
          schedule: f.schedule.get(), node: f.node.get(), storage: f.storage.get(), mode: f.mode.get(), compress: f.compress.get(),
          enabled: f.enabled.get() ? 1 : 0, 'repeat-missed': f.repeat.get() ? 1 : 0, comment: f.comment.get(),
          'notes-template': f.notes.get(), 'prune-backups': prune,
          all: mode === 'all' ? 1 : '', vmid: mode === 'vmid' ? f.vmid.get() : '', pool: mode === 'pool' ? f.pool.get() : '',
          exclude: mode === 'all' ? f.exclude.get() : '',
        };
        const body2 = {};
        const removed = [];
        for (const key of EDITED) {
          const v = want[key];
          if (v === '' || v === undefined || (key === 'repeat-missed' && v === 0 && !job)) {
            if (job && job[key] !== undefined) removed.push(key);
          } else body2[key] = v;
        }
        if (job) {
          if (removed.length) body2.delete = removed.join(',');
          await api(`/cluster/backup/${seg(job.id)}`, { method: 'PUT', body: body2 });
        } else {
          await api('/cluster/backup', { method: 'POST', body: body2 });
        }
        refresh();
      },
    });
  }

  async function runNow(job) {
    const nodes = await loadNodes().catch(() => []);
    const node = job.node || (nodes.find(isOnline) || nodes[0])?.node;
    if (!node) return;
    const body = {};
    for (const key of ['storage', 'vmid', 'all', 'pool', 'exclude', 'mode', 'compress', 'prune-backups', 'notes-template']) {
      if (job[key] !== undefined && job[key] !== '') body[key] = job[key];
    }
    feedback.run(`Backup job ${job.id} on ${node}`, () => api(`/nodes/${seg(node)}/vzdump`, { method: 'POST', body }))
      .catch(() => {});
  }

  async function detail(job) {
    let answer;
    try {
      answer = await api(`/cluster/backup/${seg(job.id)}/included_volumes`, { signal });
    } catch (e) {
      showError(list.err)(e);
      return;
    }
    const guests = answer?.children || [];
    const items = guests.map((g) => h('li', { dataset: { vmid: g.id } },
      h('strong', null, `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.id}${g.name ? ` (${g.name})` : ''}`),
      h('ul', null, (g.children || []).map((v) => h('li', { class: v.included ? '' : 'muted' },
        `${v.id}: ${v.name} — ${v.included ? 'included' : 'excluded'} (${v.reason})`)))));
    const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
    const m = modal({
      title: `Backup job ${job.id}: included volumes`, className: 'dialog-wide',
      body: [items.length ? h('ul', { class: 'job-detail' }, items) : h('p', { class: 'muted' }, 'The job covers no guest.')],
      foot: [h('span', { class: 'spacer' }), close],
    });
    close.addEventListener('click', () => m.close());
  }

  async function remove(job) {
    const ok = await confirmDialog({
      title: `Remove backup job ${job.id}?`, message: 'The job is removed; backups it made stay.', confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/backup/${seg(job.id)}`, { method: 'DELETE' });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  refresh();
});
