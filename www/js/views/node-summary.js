// Node → Summary: live CPU, load, memory, swap, root fs, uptime and system
// information from GET /nodes/{node}/status, refreshed every 3 s; Bulk start and
// Bulk stop of the node's guests (startall/stopall, in their startup order);
// below, the history graphs (rrd-graphs.js).
// The DOM is built once and updated in place, so refreshes never steal focus.

import { api, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatBytes, formatDuration, formatPercent, ratio } from '../format.js';
import { poll } from '../poll.js';
import { card, fact, gauge, freshness } from './summary-parts.js';
import { confirmDialog } from '../dialog.js';
import { taskFeedback } from '../taskrun.js';
import { actionButton } from './firewall-parts.js';
import { nodeGraphs } from './rrd-graphs.js';

const REFRESH_MS = 3000;

function kernelText(s) {
  const k = s['current-kernel'];
  if (k && (k.sysname || k.release)) {
    return `${k.sysname || ''} ${k.release || ''}${k.version ? ` (${k.version})` : ''}`.trim();
  }
  return s.kversion || '–';
}

function cpuModelText(ci) {
  if (!ci) return '–';
  const sockets = Number(ci.sockets) || 0;
  const parts = [`${ci.cpus ?? '?'} × ${ci.model || 'unknown CPU'}`];
  if (sockets) parts.push(`(${sockets} socket${sockets === 1 ? '' : 's'}${ci.cores ? `, ${ci.cores} cores` : ''})`);
  return parts.join(' ');
}

export function mountNodeSummary(panel, route) {
  const { node } = route;
  const err = errorSlot(`Could not load the status of ${node}`);
  const updated = h('p', { class: 'muted small', 'aria-live': 'off' }, 'Loading…');
  const live = freshness(panel, err, updated, REFRESH_MS);

  const cpu = gauge('CPU usage', true);
  const [ioRow, ioDd] = fact('IO delay');
  const [loadRow, loadDd] = fact('Load average');
  const mem = gauge('RAM usage', true);
  const swap = gauge('Swap usage');
  const rootfs = gauge('Root filesystem');
  const [upRow, upDd] = fact('Uptime');
  const [modelRow, modelDd] = fact('CPU(s)');
  const [kernRow, kernDd] = fact('Kernel version');
  const [verRow, verDd] = fact('Manager version');

  const ctrl = new AbortController();
  const feedback = taskFeedback({ signal: ctrl.signal });
  const graphs = nodeGraphs(node);

  // startall (onboot guests, or all with force) and stopall, each after a confirmation
  async function bulk(kind) {
    const start = kind === 'start';
    const answer = await confirmDialog({
      title: start ? `Bulk start on ${node}` : `Bulk stop on ${node}`,
      message: start
        ? 'Starts the guests marked "Start at boot" in their startup order.'
        : 'Shuts down every running guest in reverse startup order; guests that do not stop in time are stopped.',
      confirmLabel: start ? 'Start' : 'Stop',
      danger: !start,
      checks: start ? [{ name: 'force', label: 'Also guests not marked "Start at boot"' }] : [],
    });
    if (!answer) return;
    const body = start && answer.force ? { force: 1 } : {};
    await feedback.run(start ? 'Bulk start' : 'Bulk stop',
      () => api(`/nodes/${seg(node)}/${start ? 'startall' : 'stopall'}`, { method: 'POST', body, signal: ctrl.signal })).catch(() => {});
  }

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, updated,
      h('div', { class: 'actions' },
        actionButton('startall', 'Bulk start', 'play', () => bulk('start')),
        actionButton('stopall', 'Bulk stop', 'stop', () => bulk('stop')))),
    feedback.el,
    err.el,
    h('div', { class: 'cards cards-fit' },
      card('Processor', cpu.el, h('dl', { class: 'facts' }, ioRow, loadRow)),
      card('Memory', mem.el, swap.el),
      card('Storage', rootfs.el),
      h('section', { class: 'card card-wide', 'aria-label': 'System' },
        h('dl', { class: 'facts facts-grid' }, upRow, modelRow, kernRow, verRow))),
    graphs.el);

  async function refresh() {
    try {
      const s = await api(`/nodes/${seg(node)}/status`, { signal: ctrl.signal });
      if (!s || typeof s !== 'object') throw new Error('Empty status response');
      const ci = s.cpuinfo || {};
      const cpus = Number(ci.cpus) || 0;
      cpu.set(Number(s.cpu), formatPercent(s.cpu), cpus ? `of ${cpus} CPU${cpus === 1 ? '' : 's'}` : '');
      setText(ioDd, formatPercent(s.wait));
      setText(loadDd, Array.isArray(s.loadavg) ? s.loadavg.join(', ') : '–');
      const m = s.memory || {};
      const sw = s.swap || {};
      const fs = s.rootfs || {};
      for (const [g, u] of [[mem, m], [swap, sw], [rootfs, fs]]) {
        if (Number(u.total) > 0) g.set(ratio(u.used, u.total), formatPercent(ratio(u.used, u.total)), `${formatBytes(u.used)} of ${formatBytes(u.total)}`);
        else g.set(0, g === swap ? 'none' : '–', g === swap ? 'no swap configured' : '');
      }
      setText(upDd, formatDuration(s.uptime));
      setText(modelDd, cpuModelText(s.cpuinfo));
      setText(kernDd, kernelText(s));
      setText(verDd, s.pveversion || '–');
      live.fresh();
    } catch (e) {
      if (!live.stale(e)) return;
      if (updated.textContent === 'Loading…') setText(updated, 'No data yet · retrying every 3 s');
    }
  }

  const loop = poll(refresh, REFRESH_MS);
  return () => { loop.stop(); ctrl.abort(); graphs.stop(); };
}
