// History graphs under a node's, a guest's or a storage's summary, from
// GET …/rrddata (the daemon's RRD files, sampled every 10 s): a time frame and
// Average/Maximum picker (remembered across views and reloads) and one chart
// per figure (svg-chart.js). Reloaded every 30 s; while there is too little for
// a line (a fresh node or guest: no sample or one) every 10 s, the daemon's own
// rhythm, so the first samples show up without waiting half a minute.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { errorSlot, nextId } from '../ui.js';
import { poll } from '../poll.js';
import { timeChart } from '../svg-chart.js';

const KEY = 'corral.rrd';
const REFRESH_MS = 30000;
const EMPTY_MS = 10000;

// [value, label, span in seconds, words for the accessible name]; decade reads the same weeks as year.
const TIMEFRAMES = [
  ['hour', 'Hour', 3600, 'last hour'],
  ['day', 'Day', 86400, 'last day'],
  ['week', 'Week', 604800, 'last week'],
  ['month', 'Month', 2592000, 'last month'],
  ['year', 'Year', 31536000, 'last year'],
];
const CFS = [['AVERAGE', 'Average'], ['MAX', 'Maximum']];

const NODE_CHARTS = [
  { id: 'cpu', title: 'CPU usage', kind: 'percent', series: [{ key: 'cpu', label: 'CPU usage', area: true }, { key: 'iowait', label: 'IO delay' }] },
  { id: 'load', title: 'Server load', kind: 'number', series: [{ key: 'loadavg', label: 'Load average', area: true }] },
  { id: 'memory', title: 'Memory usage', kind: 'bytes', series: [{ key: 'memused', label: 'RAM used', area: true }, { key: 'memtotal', label: 'Total' }] },
  { id: 'network', title: 'Network traffic', kind: 'rate', series: [{ key: 'netin', label: 'In', area: true }, { key: 'netout', label: 'Out', area: true }] },
];
const GUEST_CHARTS = [
  { id: 'cpu', title: 'CPU usage', kind: 'percent', series: [{ key: 'cpu', label: 'CPU usage', area: true }] },
  { id: 'memory', title: 'Memory usage', kind: 'bytes', series: [{ key: 'mem', label: 'Used', area: true }, { key: 'maxmem', label: 'Total' }] },
  { id: 'network', title: 'Network traffic', kind: 'rate', series: [{ key: 'netin', label: 'In', area: true }, { key: 'netout', label: 'Out', area: true }] },
  { id: 'diskio', title: 'Disk IO', kind: 'rate', series: [{ key: 'diskread', label: 'Read', area: true }, { key: 'diskwrite', label: 'Write', area: true }] },
];
const STORAGE_CHARTS = [
  { id: 'usage', title: 'Usage', kind: 'bytes', series: [{ key: 'used', label: 'Used', area: true }, { key: 'total', label: 'Total' }] },
];

function loadChoice() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(KEY) || 'null'); } catch { /* storage disabled or garbled */ }
  return {
    timeframe: TIMEFRAMES.some(([v]) => v === saved?.timeframe) ? saved.timeframe : 'hour',
    cf: CFS.some(([v]) => v === saved?.cf) ? saved.cf : 'AVERAGE',
  };
}

function saveChoice(choice) {
  try { localStorage.setItem(KEY, JSON.stringify(choice)); } catch { /* the choice lasts for this view only */ }
}

function picker(name, label, options, value, onchange) {
  const id = nextId('rrd');
  const select = h('select', { id, name, onchange: () => onchange(select.value) },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return h('div', { class: 'rrd-pick' }, h('label', { for: id }, label), select);
}

/** The graphs section for GET `path` (…/rrddata) with `charts`; `what` names the object ("node pve1"). → {el, stop()} */
export function rrdGraphs(path, charts, what) {
  const ctrl = new AbortController();
  const choice = loadChoice();
  const err = errorSlot(`Could not load the history of ${what}`);
  const drawn = charts.map((c) => timeChart(c));
  const headingId = nextId('rrd');
  const el = h('section', { class: 'rrd-graphs', 'aria-labelledby': headingId, dataset: { state: 'loading', ...choice } },
    h('div', { class: 'rrd-head' },
      h('h2', { id: headingId }, 'History'),
      h('div', { class: 'rrd-picks' },
        picker('timeframe', 'Time frame', TIMEFRAMES, choice.timeframe, (v) => change({ timeframe: v })),
        picker('cf', 'Values', CFS, choice.cf, (v) => change({ cf: v })))),
    err.el,
    h('div', { class: 'cards rrd-charts' }, drawn.map((c) => c.el)));

  let shown = null; // "timeframe/cf" of the rows on screen
  let loadedAt = 0;
  let enough = false; // some chart has two rows with values: a line

  function change(part) {
    Object.assign(choice, part);
    saveChoice(choice);
    Object.assign(el.dataset, choice, { state: 'loading' });
    loop.now();
  }

  // Runs every 10 s; asks the server only when the figures are due (or the choice changed).
  async function tick() {
    const want = `${choice.timeframe}/${choice.cf}`;
    if (want === shown && Date.now() - loadedAt < (enough ? REFRESH_MS : EMPTY_MS) - 500) return;
    const { timeframe, cf } = choice;
    try {
      const rows = await api(path, { params: { timeframe, cf }, signal: ctrl.signal });
      if (`${choice.timeframe}/${choice.cf}` !== want) return; // changed meanwhile: poll runs again
      const [, , span, words] = TIMEFRAMES.find(([v]) => v === timeframe);
      const t1 = Math.floor(Date.now() / 1000);
      const range = { t0: t1 - span, t1, what: `${words}, ${cf === 'MAX' ? 'maximum' : 'average'}` };
      enough = drawn.map((c) => c.update(rows, range)).some((n) => n >= 2);
      shown = want;
      loadedAt = Date.now();
      err.set(null);
      el.dataset.state = 'ready';
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      if (shown !== want) for (const c of drawn) c.message('Not available');
      shown = want;
      loadedAt = Date.now();
      el.dataset.state = 'error';
    }
  }

  const loop = poll(tick, EMPTY_MS);
  return {
    el,
    stop() {
      loop.stop();
      ctrl.abort();
      for (const c of drawn) c.stop();
    },
  };
}

export const nodeGraphs = (node) => rrdGraphs(`/nodes/${seg(node)}/rrddata`, NODE_CHARTS, `node ${node}`);

/** base: the guest's API path, /nodes/{node}/{qemu|lxc}/{vmid}. */
export const guestGraphs = (base, name) => rrdGraphs(`${base}/rrddata`, GUEST_CHARTS, name);

export const storageGraphs = (node, storage) =>
  rrdGraphs(`/nodes/${seg(node)}/storage/${seg(storage)}/rrddata`, STORAGE_CHARTS, `storage ${storage}`);
