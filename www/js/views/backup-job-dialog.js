// The Add and Edit dialog of Datacenter → Backup (POST /cluster/backup, PUT /cluster/backup/{id}).
// General: node (all or one), storage, schedule (a calendar event; its next runs are previewed with
// GET /cluster/jobs/schedule-analyze as one types), which guests (all — less those excluded —, the ones
// ticked, or a pool's), mode, compression, enabled, comment. Retention: the job's prune-backups (all empty:
// the storage's own). Note template. Advanced: repeat-missed. Edit sends only what changed — an option
// emptied goes into `delete` — so the options this dialog does not show stay as they are.

import { api, ApiError, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { dialogTabs, formDialog, onTab } from '../dialog.js';
import { field } from '../form.js';
import { formatPropString, parsePropString } from '../propstring.js';
import { isGuest, loadResources } from '../resources.js';
import { isOnline, loadNodes } from '../nodes.js';
import { listStorages, storageLabel } from '../storage.js';
import { schedulePreview } from '../schedule-preview.js';
import { nextId } from '../ui.js';
import { checkList, splitList } from './access-common.js';
import { COMPRESS } from './backup-restore.js';

export const MODES = [['snapshot', 'Snapshot'], ['suspend', 'Suspend'], ['stop', 'Stop']];
/** Calendar events offered as suggestions; the hint says what they mean. */
const PRESETS = ['21:00', 'sat 02:00', 'mon..fri 22:30', 'hourly', '*/30', 'daily', 'weekly', 'monthly'];
const KEEP = [
  ['keep-last', 'Keep last'], ['keep-hourly', 'Keep hourly'], ['keep-daily', 'Keep daily'],
  ['keep-weekly', 'Keep weekly'], ['keep-monthly', 'Keep monthly'], ['keep-yearly', 'Keep yearly'],
];
const PREVIEW_RUNS = 5;

/** "101,100, 102" → "100,101,102" ('' when empty). */
const idList = (v) => [...new Set(splitList(v))].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b)).join(',');

/** "keep-daily=7,keep-last=3" in one spelling (the order above; keep-all alone), '' when nothing is kept. */
function retentionText(all, counts) {
  if (all) return 'keep-all=1';
  const kept = {};
  for (const [k] of KEEP) if (counts[k] !== undefined && counts[k] !== '') kept[k] = Number(counts[k]);
  return formatPropString(kept);
}


/**
 * Radio buttons in a <fieldset> with the field interface of form.js: one choice of `options`
 * ([value, label, disabled]). onChange(fn) is told of every change.
 */
function choiceField({ label, name, options, value }) {
  const id = nextId('choice');
  const err = h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
  const radios = options.map(([v, , disabled]) => h('input', {
    type: 'radio', id: `${id}-${v}`, name: id, value: v, checked: v === value, disabled: !!disabled,
  }));
  const input = h('fieldset', { class: 'check-fieldset', name, 'aria-describedby': err.id },
    h('legend', null, label),
    h('div', { class: 'choice-list' }, radios.map((r, i) => h('label', { class: 'check', for: r.id }, r, ' ', options[i][1]))), err);
  const self = {
    el: h('div', { class: 'field field-wide' }, input), input, name, sub: null,
    get: () => radios.find((r) => r.checked)?.value || '',
    set(v) { for (const r of radios) r.checked = r.value === v; },
    setOptions() {},
    setError(msg) {
      setText(err, msg || '');
      err.hidden = !msg;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    },
    focus() { (radios.find((r) => r.checked) || radios[0]).focus(); },
    onChange(fn) { for (const r of radios) r.addEventListener('change', fn); },
  };
  self.onChange(() => self.setError(null));
  return self;
}

/**
 * Add a job (job = null) or edit `job` (as GET /cluster/backup gave it). Resolves to true when
 * saved, false when cancelled.
 */
export async function backupJobDialog(job) {
  const ctl = new AbortController();
  const { signal } = ctl;
  const j = job || {};
  const str = (k) => (j[k] === undefined || j[k] === null ? '' : String(j[k]));
  const [nodeList, resources, pools] = await Promise.all([
    loadNodes({ maxAge: 10000 }).catch(() => []),
    loadResources({ maxAge: 10000 }).catch(() => []),
    api('/pools', { signal }).then((p) => (Array.isArray(p) ? p : []).map((x) => x && x.poolid).filter(Boolean).sort()).catch(() => []),
  ]);
  const names = nodeList.map((n) => n.node);
  // Storages are listed by the job's node; a job for all nodes sees those of the first one online.
  const anyNode = (nodeList.find(isOnline) || nodeList[0])?.node || '';
  const guests = resources.filter(isGuest).sort((a, b) => Number(a.vmid) - Number(b.vmid));
  const labels = Object.fromEntries(guests.map((g) => [String(g.vmid),
    `${g.vmid}${g.name ? ` ${g.name}` : ''} (${g.type === 'lxc' ? 'CT' : 'VM'})`]));

  // General
  const node = field({ label: 'Node', name: 'node', type: 'select', options: [['', 'All nodes'], ...names], value: str('node'),
    hint: 'All nodes: each node backs up its own guests.' });
  if (j.node && !names.includes(str('node'))) { node.setOptions([['', 'All nodes'], ...names, str('node')]); node.set(str('node')); }
  const storage = field({ label: 'Storage', name: 'storage', type: 'select', required: true });
  const schedule = field({ label: 'Schedule', name: 'schedule', required: true, value: job ? str('schedule') : '21:00', list: PRESETS,
    hint: 'A calendar event: "21:00" every day, "sat 02:00", "mon..fri 22:30", "hourly", "*/30" every 30 minutes.' });
  const mode0 = Number(j.all) ? 'all' : j.pool !== undefined && j.pool !== '' ? 'pool' : j.vmid !== undefined && j.vmid !== '' ? 'vmid' : 'all';
  const selection = choiceField({ label: 'Selection', name: 'selection', value: mode0, options: [
    ['all', 'All guests'], ['vmid', 'Selected guests'],
    ['pool', pools.length || j.pool ? 'Pool' : 'Pool (none defined)', !pools.length && !j.pool]] });
  const byNode = (g) => [String(g.vmid), g.node ? `Node ${g.node}` : null];
  const picked = checkList({ label: 'Guests', name: 'vmid', value: splitList(str('vmid')), labels, columns: true,
    empty: 'No guests to choose from.', hint: 'The job backs up the guests ticked.' });
  const exclude = checkList({ label: 'Exclude', name: 'exclude', value: splitList(str('exclude')), labels, columns: true,
    empty: 'No guests to choose from.', hint: 'Ticked guests are left out.' });
  const pool = field({ label: 'Pool', name: 'pool', type: 'select', required: true,
    options: pools.includes(str('pool')) || !j.pool ? pools : [...pools, str('pool')], value: str('pool'),
    hint: 'The job backs up the pool\'s members when it runs.' });
  const mode = field({ label: 'Mode', name: 'mode', type: 'select', options: MODES, value: str('mode') || 'snapshot' });
  // A job without compress writes uncompressed archives (vzdump's default); a new one takes ZSTD.
  const compress = field({ label: 'Compression', name: 'compress', type: 'select', options: COMPRESS,
    value: job ? str('compress') || '0' : 'zstd' });
  const enabled = field({ label: 'Enabled', name: 'enabled', type: 'checkbox', value: Number(j.enabled ?? 1) === 1,
    hint: 'A disabled job stays configured but does not run on its schedule.' });
  const comment = field({ label: 'Comment', name: 'comment', value: str('comment'), wide: true });

  // Retention
  const prune = parsePropString(str('prune-backups'));
  const keepAll = field({ label: 'Keep all backups', name: 'prune-backups', sub: 'keep-all', type: 'checkbox',
    value: Number(prune['keep-all'] || 0) === 1, hint: 'Nothing is pruned; the numbers below do not apply.' });
  const keeps = KEEP.map(([k, label]) => field({ label, name: 'prune-backups', sub: k, type: 'number', min: 1, step: 1,
    inputmode: 'numeric', value: prune[k] ?? '' }));
  for (const f of [keepAll, ...keeps]) f.input.dataset.keep = f.sub;
  const syncKeepAll = () => { for (const f of keeps) f.input.disabled = keepAll.get(); };
  keepAll.input.addEventListener('change', syncKeepAll);
  syncKeepAll();

  // Note template, Advanced
  const notes = field({ label: 'Note template', name: 'notes-template', value: job ? str('notes-template') : '{{guestname}}', wide: true,
    hint: 'The notes each backup gets: {{guestname}}, {{node}}, {{vmid}} and {{cluster}} are replaced.' });
  const repeat = field({ label: 'Repeat missed', name: 'repeat-missed', type: 'checkbox', value: Number(j['repeat-missed'] || 0) === 1,
    hint: 'A run missed while the node (or corrald) was down starts as soon as it is back.' });

  // The storages of the node the job runs on (all nodes: of the first one online).
  let storages = [];
  const toStore = () => storages.find((s) => s.storage === storage.get())?.type === 'dedup';
  // A deduplicating store (dedup) compresses its chunks itself: the archive's compression does not apply.
  const syncCompress = () => { compress.input.disabled = toStore(); };
  storage.input.addEventListener('change', syncCompress);
  async function offerStorages() {
    const on = node.get() || anyNode;
    const want = storage.get() || str('storage');
    storage.setError(null);
    try {
      storages = on ? await listStorages(on, 'backup', { signal }) : [];
    } catch (e) {
      if (e.name === 'AbortError') return;
      storages = [];
      storage.setError(`Could not list the storages of ${on}: ${errorText(e)}`);
    }
    const opts = storages.map((s) => [s.storage, storageLabel(s)]);
    const value = want || (storages.some((s) => s.storage === 'local') ? 'local' : storages[0]?.storage || '');
    if (value && !storages.some((s) => s.storage === value)) opts.push([value, `${value} (no backups on ${on || 'this node'})`]);
    storage.setOptions(opts, false);
    storage.set(value);
    syncCompress();
  }
  // A job for one node offers that node's guests (ticked ones elsewhere stay shown).
  const offerGuests = () => {
    const here = guests.filter((g) => !node.get() || g.node === node.get()).map(byNode);
    picked.setOptions(here);
    exclude.setOptions(here);
  };
  const syncSelection = () => {
    const sel = selection.get();
    picked.el.hidden = sel !== 'vmid';
    pool.el.hidden = sel !== 'pool';
    exclude.el.hidden = sel !== 'all';
  };
  selection.onChange(syncSelection);
  node.input.addEventListener('change', () => { offerStorages(); offerGuests(); });
  offerGuests();
  syncSelection();
  await offerStorages();

  const runs = schedulePreview(schedule, { runs: PREVIEW_RUNS, signal });

  const general = h('div', { class: 'form-grid' },
    node.el, storage.el, schedule.el,
    runs,
    selection.el, picked.el, pool.el, exclude.el, mode.el, compress.el, enabled.el, comment.el);
  const tabs = dialogTabs([
    { key: 'general', label: 'General', body: general },
    { key: 'retention', label: 'Retention', body: [
      h('p', { class: 'dialog-intro muted' }, 'How many backups of each guest the job keeps on its storage. '
        + 'All empty: the storage\'s own retention settings apply.'),
      keepAll.el, h('div', { class: 'form-grid' }, keeps.map((f) => f.el))] },
    { key: 'notes', label: 'Note template', body: h('div', { class: 'form-grid' }, notes.el) },
    { key: 'advanced', label: 'Advanced', body: h('div', { class: 'form-grid' }, repeat.el) },
  ]);
  const generalFields = [node, storage, schedule, selection, picked, pool, exclude, mode, compress, enabled, comment];
  for (const f of generalFields) onTab(tabs, 0, f);
  for (const f of [keepAll, ...keeps]) onTab(tabs, 1, f);
  onTab(tabs, 2, notes);
  onTab(tabs, 3, repeat);

  /** The options as the dialog has them: name → value, '' for "not set". */
  function wanted() {
    const sel = selection.get();
    return {
      node: node.get(),
      storage: storage.get(),
      schedule: schedule.get(),
      all: sel === 'all' ? '1' : '',
      vmid: sel === 'vmid' ? idList(picked.get()) : '',
      pool: sel === 'pool' ? pool.get() : '',
      exclude: sel === 'all' ? idList(exclude.get()) : '',
      mode: mode.get(),
      compress: toStore() ? '' : compress.get(),
      enabled: enabled.get() ? '1' : '0',
      comment: comment.get(),
      'prune-backups': retentionText(keepAll.get(), Object.fromEntries(keeps.map((f) => [f.sub, f.get()]))),
      'notes-template': notes.get(),
      'repeat-missed': repeat.get() ? '1' : '',
    };
  }
  // Edit compares with the options as the dialog first shows them.
  const before = wanted();

  return formDialog({
    title: job ? `Edit backup job ${job.id}` : 'Add backup job',
    className: 'backup-job-dialog dialog-wide',
    fields: [...generalFields, keepAll, ...keeps, notes, repeat],
    body: h('div', { class: 'tabbed-form' }, tabs.el),
    submitLabel: job ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = wanted();
      if (selection.get() === 'vmid' && !want.vmid) throw new ApiError(400, 'No guest chosen.', { vmid: 'Tick at least one guest.' });
      if (!job) {
        const body = {};
        for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
        await api('/cluster/backup', { method: 'POST', body });
        return;
      }
      const body = {};
      const remove = [];
      for (const [k, v] of Object.entries(want)) {
        if (v === before[k]) continue;
        if (v === '') remove.push(k); else body[k] = v;
      }
      if (!Object.keys(body).length && !remove.length) return;
      if (remove.length) body.delete = remove.join(',');
      await api(`/cluster/backup/${seg(job.id)}`, { method: 'PUT', body });
    },
  }).finally(() => ctl.abort());
}
