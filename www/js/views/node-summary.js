// Node → Summary: live CPU, load, memory, swap, root fs, uptime and system
// information from GET /nodes/{node}/status, refreshed every 3 s.
// The DOM is built once and updated in place, so refreshes never steal focus.

import { api, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { errorSlot, meter, nextId, sparkline } from '../ui.js';
import { formatBytes, formatDuration, formatPercent, formatTimestamp, ratio } from '../format.js';
import { poll } from '../poll.js';

const REFRESH_MS = 3000;

/** Labelled usage gauge: title + percentage, bar, detail line (+ optional sparkline). */
function gauge(title, withSpark = false) {
  const id = nextId('g');
  const value = h('span', { class: 'gauge-value' }, '–');
  const detail = h('p', { class: 'gauge-detail' }, '\u00a0');
  const bar = meter(id);
  const spark = withSpark ? sparkline(60) : null;
  const el = h('div', { class: 'gauge' },
    h('div', { class: 'gauge-head' }, h('span', { id, class: 'gauge-title' }, title), value),
    bar.el, detail, spark ? spark.el : null);
  return {
    el,
    /** frac 0..1; text = headline (e.g. "39.04%"); more = detail line. */
    set(frac, text, more = '') {
      bar.update(frac, more ? `${text}, ${more}` : text);
      setText(value, text);
      setText(detail, more || '\u00a0');
      spark?.push(frac);
    },
  };
}

/** A definition-list row; returns [element, dd]. */
function fact(label) {
  const dd = h('dd', null, '–');
  return [h('div', { class: 'fact' }, h('dt', null, label), dd), dd];
}

function card(title, ...body) {
  const id = nextId('card');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

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

  panel.append(
    h('div', { class: 'panel-toolbar' }, updated),
    err.el,
    h('div', { class: 'cards cards-fit' },
      card('Processor', cpu.el, h('dl', { class: 'facts' }, ioRow, loadRow)),
      card('Memory', mem.el, swap.el),
      card('Storage', rootfs.el),
      h('section', { class: 'card card-wide', 'aria-label': 'System' },
        h('dl', { class: 'facts facts-grid' }, upRow, modelRow, kernRow, verRow))));

  const ctrl = new AbortController();

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
      setText(updated, `Updated ${formatTimestamp(Date.now() / 1000).slice(11)} · refreshes every ${REFRESH_MS / 1000} s`);
      err.set(null);
      panel.classList.remove('is-stale');
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      if (updated.textContent === 'Loading…') setText(updated, 'No data yet · retrying every 3 s');
      panel.classList.add('is-stale');
    }
  }

  const loop = poll(refresh, REFRESH_MS);
  return () => { loop.stop(); ctrl.abort(); };
}
