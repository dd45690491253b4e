// Guest → Summary: live status, CPU, memory and I/O from …/status/current
// (refreshed every 3 s; the HA state too, for an HA resource), the power actions,
// and deletion; for a VM also what its guest agent says (agent-summary.js, asked
// at most every 10 s); below, the history graphs (rrd-graphs.js).
// Actions answer with a UPID; the feedback line follows the task to its end.

import { api } from '../api.js';
import { h, icon, setText, replaceChildren } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatBytes, formatDuration, formatPercent, ratio } from '../format.js';
import { poll } from '../poll.js';
import { navigate } from '../router.js';
import { confirmDialog } from '../dialog.js';
import { taskFeedback } from '../taskrun.js';
import { loadResources } from '../resources.js';
import { guestBase, guestNoun, guestStatus, guestView, splitTags } from '../guests.js';
import { tagHue } from '../tree.js';
import { card, fact, gauge, freshness } from './summary-parts.js';
import { agentCard } from './agent-summary.js';
import { migrateDialog } from './migrate-dialog.js';
import { guestGraphs } from './rrd-graphs.js';

const REFRESH_MS = 3000;

// [id, label, icon, states it applies to, confirmation (null = none), types]
const ACTIONS = [
  ['start', 'Start', 'play', ['stopped'], null, ['qemu', 'lxc']],
  ['shutdown', 'Shutdown', 'power', ['running'], 'shut down', ['qemu', 'lxc']],
  ['reboot', 'Reboot', 'reboot', ['running'], 'reboot', ['qemu', 'lxc']],
  ['stop', 'Stop', 'stop', ['running', 'paused'], 'stop', ['qemu', 'lxc']],
  ['reset', 'Reset', 'undo', ['running'], 'reset', ['qemu']],
  ['suspend', 'Suspend', 'pause', ['running'], null, ['qemu', 'lxc']],
  ['resume', 'Resume', 'play', ['paused'], null, ['qemu', 'lxc']],
];

const CONFIRM_TEXT = {
  shutdown: 'The guest operating system is asked to shut down (ACPI); it may take a while or refuse.',
  reboot: 'The guest operating system is asked to reboot.',
  stop: 'The guest is stopped at once, like pulling the power plug. Unsaved data in the guest is lost.',
  reset: 'The guest is reset at once, like pressing the reset button. Unsaved data in the guest is lost.',
};

export const mountGuestSummary = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const noun = guestNoun(guest.type);
  const err = errorSlot(`Could not load the status of ${noun} ${guest.vmid}`);
  const feedback = taskFeedback({ signal });
  let state = 'unknown';
  let template = false;
  let busy = false;

  const pill = h('span', { class: 'status-pill', dataset: { kind: 'unknown' } }, 'Loading…');
  const buttons = new Map();
  const actionBar = h('div', { class: 'actions', role: 'toolbar', 'aria-label': `${noun} ${guest.vmid} actions` });
  for (const [id, label, ic, , , types] of ACTIONS) {
    if (!types.includes(guest.type)) continue;
    const b = h('button', { type: 'button', class: 'btn', dataset: { action: id }, onclick: () => act(id, label) }, icon(ic), label);
    buttons.set(id, b);
    actionBar.append(b);
  }
  const consoleBtn = h('button', { type: 'button', class: 'btn', dataset: { action: 'console' }, onclick: () => navigate(`${guest.type}/${guest.vmid}`, 'console') },
    icon('terminal'), 'Console');
  const deleteBtn = h('button', { type: 'button', class: 'btn btn-danger-outline', dataset: { action: 'delete' }, onclick: destroy },
    icon('trash'), 'Delete');
  const migrateBtn = h('button', { type: 'button', class: 'btn', dataset: { action: 'migrate' }, onclick: migrate }, icon('arrow-up'), 'Migrate');
  actionBar.append(consoleBtn, migrateBtn, deleteBtn);

  const [stRow, stDd] = fact('Status');
  const [nodeRow, nodeDd] = fact('Node');
  const [upRow, upDd] = fact('Uptime');
  const [lockRow, lockDd] = fact('Lock');
  const [tagRow, tagDd] = fact('Tags');
  const [haRow, haDd] = fact('HA State');
  haRow.hidden = true; // shown for an HA resource only
  haRow.dataset.role = 'ha-state';
  const cpu = gauge('CPU usage');
  const mem = gauge('Memory usage');
  // Containers also report swap and the root disk's use.
  const ct = guest.type === 'lxc';
  const swap = ct ? gauge('Swap usage') : null;
  const disk = ct ? gauge('Root disk usage') : null;
  const [diskRow, diskDd] = fact(guest.type === 'lxc' ? 'Root disk size' : 'Boot disk size');
  const [netRow, netDd] = fact('Network in / out');
  const [ioRow, ioDd] = fact('Disk read / write');
  const updated = h('p', { class: 'muted small' }, 'Loading…');
  const live = freshness(panel, err, updated, REFRESH_MS);
  const agent = guest.type === 'qemu' ? agentCard(base, signal) : null;
  const graphs = guestGraphs(base, `${noun} ${guest.vmid}`);

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, pill, actionBar),
    feedback.el,
    err.el,
    h('div', { class: 'cards cards-fit' },
      card('Status', h('dl', { class: 'facts facts-first' }, stRow, nodeRow, upRow, lockRow, tagRow, haRow)),
      card('Resources', cpu.el, mem.el, swap?.el, disk?.el),
      card('I/O', h('dl', { class: 'facts facts-first' }, diskRow, netRow, ioRow)),
      agent?.el),
    updated,
    graphs.el);

  function updateButtons() {
    for (const [id, , , states] of ACTIONS) {
      const b = buttons.get(id);
      if (b) b.disabled = busy || template || !states.includes(state);
    }
    consoleBtn.disabled = template;
    migrateBtn.disabled = busy;
    deleteBtn.disabled = busy || state !== 'stopped';
  }

  async function refresh() {
    try {
      const s = await api(`${base}/status/current`, { signal });
      const st = guestStatus(s);
      state = st.kind === 'paused' && s.status === 'stopped' ? 'stopped' : st.kind; // hibernated: Start resumes it
      template = !!Number(s.template);
      pill.dataset.kind = template ? 'template' : st.kind;
      setText(pill, template ? 'template' : st.text);
      setText(stDd, `${st.text}${s.qmpstatus && s.qmpstatus !== s.status ? ` (QEMU: ${s.qmpstatus})` : ''}`);
      setText(nodeDd, guest.node);
      setText(upDd, s.status === 'running' ? formatDuration(s.uptime) : '–');
      setText(lockDd, s.lock || 'none');
      const ha = s.ha && Number(s.ha.managed) ? s.ha : null;
      haRow.hidden = !ha;
      setText(haDd, ha ? ha.state || 'unknown' : '–');
      const tags = splitTags(s.tags);
      replaceChildren(tagDd, tags.length ? h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag', style: { '--tag-hue': tagHue(t) } }, t))) : 'none');
      const cpus = Number(s.cpus) || 0;
      if (s.status === 'running') {
        cpu.set(Number(s.cpu) || 0, formatPercent(s.cpu, 1), cpus ? `of ${cpus} CPU${cpus === 1 ? '' : 's'}` : '');
        mem.set(ratio(s.mem, s.maxmem), formatPercent(ratio(s.mem, s.maxmem), 1), `${formatBytes(s.mem)} of ${formatBytes(s.maxmem)}`);
      } else {
        cpu.set(0, '–', cpus ? `${cpus} CPU${cpus === 1 ? '' : 's'} assigned` : '');
        mem.set(0, '–', s.maxmem ? `${formatBytes(s.maxmem)} assigned` : '');
      }
      if (ct) {
        const use = (g, used, max) => g.set(ratio(used, max), max ? formatPercent(ratio(used, max), 1) : '–', max ? `${formatBytes(used)} of ${formatBytes(max)}` : '');
        use(swap, s.swap, s.maxswap);
        use(disk, s.disk, s.maxdisk);
      }
      setText(diskDd, s.maxdisk ? formatBytes(s.maxdisk) : '–');
      setText(netDd, `${formatBytes(s.netin)} / ${formatBytes(s.netout)}`);
      setText(ioDd, `${formatBytes(s.diskread)} / ${formatBytes(s.diskwrite)}`);
      agent?.update(s);
      live.fresh();
    } catch (e) {
      if (!live.stale(e)) return;
    }
    updateButtons();
  }

  async function act(id, label) {
    if (CONFIRM_TEXT[id]) {
      const ok = await confirmDialog({
        title: `${label} ${noun} ${guest.vmid}?`,
        message: CONFIRM_TEXT[id],
        confirmLabel: label,
        danger: id === 'stop' || id === 'reset',
      });
      if (!ok) return;
    }
    busy = true;
    updateButtons();
    try {
      await feedback.run(`${label} ${noun} ${guest.vmid}`, () => api(`${base}/status/${id}`, { method: 'POST', signal }));
    } catch (e) {
      console.debug(`${id} failed:`, e);
    } finally {
      busy = false;
      if (!signal.aborted) {
        loop.now();
        loadResources({ maxAge: 0 }).catch(() => {});
      }
    }
  }

  async function migrate() {
    busy = true;
    updateButtons();
    try {
      const done = await migrateDialog(guest, { signal, run: (label, fn) => feedback.run(label, fn) });
      if (done) {
        await loadResources({ maxAge: 0 }).catch(() => {});
      }
    } catch (e) {
      console.debug('migrate failed:', e);
    } finally {
      busy = false;
      updateButtons();
    }
  }

  async function destroy() {
    const opts = await confirmDialog({
      title: `Delete ${noun} ${guest.vmid}?`,
      message: `${noun} ${guest.vmid}${guest.name ? ` (${guest.name})` : ''} and all its disks are destroyed. This cannot be undone.`,
      confirmLabel: 'Delete',
      danger: true,
      typeToConfirm: String(guest.vmid),
      checks: [
        { name: 'purge', label: 'Also remove it from backup, replication and HA jobs', checked: true },
        { name: 'destroy-unreferenced-disks', label: 'Also destroy disks of this VMID that the configuration does not name', checked: true },
      ],
    });
    if (!opts) return;
    busy = true;
    updateButtons();
    try {
      await feedback.run(`Delete ${noun} ${guest.vmid}`, () => api(base, {
        method: 'DELETE', signal,
        params: { purge: opts.purge ? 1 : 0, 'destroy-unreferenced-disks': opts['destroy-unreferenced-disks'] ? 1 : 0 },
      }));
      await loadResources({ maxAge: 0 }).catch(() => {});
      navigate(`node/${guest.node}`);
    } catch (e) {
      console.debug('delete failed:', e);
      busy = false;
      updateButtons();
    }
  }

  updateButtons();
  const loop = poll(refresh, REFRESH_MS);
  return () => { loop.stop(); graphs.stop(); };
});
