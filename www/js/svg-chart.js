// A small time-series chart drawn as inline SVG: lines (optionally filled to
// the base) over time, a y axis with ticks in the chart's unit, local-time
// ticks on the x axis, a legend that doubles as the hover readout, and gaps
// where a row lacks a value. No chart library: the history graphs need little
// more than a path per series.
//
// The viewBox is kept at the element's width in CSS pixels (ResizeObserver), so
// the SVG fills its card while the labels keep their size instead of
// shrinking with the drawing on a phone.

import { h, setText } from './dom.js';
import { formatBytes, formatTimestamp } from './format.js';
import { nextId } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 180;
const PAD = { top: 10, right: 12, bottom: 24, left: 62 };

function svgEl(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const pad2 = (n) => String(n).padStart(2, '0');
/** "1.50 GiB" → "1.5 GiB", "2.00 MiB" → "2 MiB": tick labels need no fixed precision. */
const trimZeros = (s) => s.replace(/\.(\d*?)0+(?=\s|$)/, (_, d) => (d ? `.${d}` : ''));

/**
 * Unit kinds: how values are scaled into ticks and written.
 * percent: fractions 0..1 · bytes · rate (bytes/s) · number (e.g. load).
 */
const KINDS = {
  percent: {
    floor: 0.01, // an idle CPU still gets a readable 0..1 % scale
    base: 1,
    tick: (v, step) => `${trimZeros((v * 100).toFixed(decimals(step * 100)))}%`,
    value: (v) => `${(v * 100).toFixed(2)}%`,
  },
  bytes: {
    floor: 1024, binary: true,
    tick: (v) => trimZeros(formatBytes(v)),
    value: (v) => formatBytes(v),
  },
  rate: {
    floor: 1024, binary: true,
    tick: (v) => `${trimZeros(formatBytes(v))}/s`,
    value: (v) => `${formatBytes(v)}/s`,
  },
  number: {
    floor: 1,
    tick: (v, step) => v.toFixed(decimals(step)),
    value: (v) => v.toFixed(2),
  },
};

const decimals = (step) => (step >= 1 ? 0 : step >= 0.1 ? 1 : 2);

/** 1, 2 or 5 × a power of ten, at least raw. */
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Ticks from 0 to a round top at or above max; bytes step in the binary unit max is written in. */
export function yTicks(max, kind, count = 4) {
  const k = KINDS[kind];
  const top = Math.max(max, k.floor);
  let unit = 1;
  if (k.binary) while (top / unit >= 1024) unit *= 1024;
  const step = niceStep(top / unit / count) * unit;
  const ticks = [];
  for (let v = 0; v < top + step / 2; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < top) ticks.push(ticks[ticks.length - 1] + step);
  return { ticks, step, top: ticks[ticks.length - 1] };
}

// Steps for time ticks, in seconds; longer spans step by calendar months.
const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600];
const MONTH_STEPS = [1, 2, 3, 6, 12];

/** Local-time ticks between t0 and t1 (epoch seconds): [{t, label}], at most about `count`. */
export function xTicks(t0, t1, count = 5) {
  const span = Math.max(1, t1 - t0);
  const step = TIME_STEPS.find((s) => span / s <= count);
  const out = [];
  if (step && step < 86400) {
    // Aligned to the local clock: the zone's offset at the start is good enough for a few days.
    const tz = -new Date(t0 * 1000).getTimezoneOffset() * 60;
    for (let t = Math.ceil((t0 + tz) / step) * step - tz; t <= t1; t += step) {
      const d = new Date(t * 1000);
      const midnight = d.getHours() === 0 && d.getMinutes() === 0;
      out.push({ t, label: midnight ? `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}` : `${pad2(d.getHours())}:${pad2(d.getMinutes())}` });
    }
  } else if (step) {
    const days = step / 86400;
    const d = new Date(t0 * 1000);
    d.setHours(0, 0, 0, 0);
    if (d.getTime() / 1000 < t0) d.setDate(d.getDate() + 1);
    for (; d.getTime() / 1000 <= t1; d.setDate(d.getDate() + days)) {
      out.push({ t: d.getTime() / 1000, label: `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}` });
    }
  } else {
    const months = MONTH_STEPS.find((m) => span / (m * 2_629_800) <= count) || 12;
    const d = new Date(t0 * 1000);
    d.setHours(0, 0, 0, 0);
    d.setDate(1);
    if (d.getTime() / 1000 < t0) d.setMonth(d.getMonth() + 1);
    while (d.getMonth() % months) d.setMonth(d.getMonth() + 1);
    for (; d.getTime() / 1000 <= t1; d.setMonth(d.getMonth() + months)) {
      out.push({ t: d.getTime() / 1000, label: `${d.getFullYear()}-${pad2(d.getMonth() + 1)}` });
    }
  }
  return out;
}

/**
 * timeChart({id, title, kind, series: [{key, label, area}]}) → {el, update(rows, range), stop()}
 * rows: [{time, <key>: number}] oldest first (a missing key is a gap); range: {t0, t1, what}
 * gives the span when rows are empty and the words for the accessible name ("last hour, average").
 * Series colours are --chart-1, --chart-2, … in their order.
 */
export function timeChart({ id, title, kind, series }) {
  const fmt = KINDS[kind];
  let width = 600;
  let rows = [];
  let range = { t0: 0, t1: 1, what: '' };
  let hoverAt = -1; // the row the pointer is nearest to, -1 = none (the legend shows the latest)
  let xs = []; // each row's x, for the hover
  let Y = () => 0; // value → y, the scale of the last draw()
  let note = 'Loading…'; // shown over the drawing while no row has a value

  const svg = svgEl('svg', { class: 'chart-svg', role: 'img', 'aria-label': title, preserveAspectRatio: 'none' });
  const grid = svgEl('g', { class: 'chart-grid' });
  const plots = svgEl('g', { class: 'chart-plots' });
  const cursor = svgEl('g', { class: 'chart-cursor', visibility: 'hidden' });
  const cursorLine = svgEl('line', { class: 'chart-cursor-line' });
  cursor.append(cursorLine);
  const hit = svgEl('rect', { class: 'chart-hit', fill: 'transparent' });
  svg.append(grid, plots, cursor, hit);

  const parts = series.map((s, i) => {
    const colour = `var(--chart-${i + 1})`;
    const g = svgEl('g', { class: 'chart-series', 'data-key': s.key });
    g.style.setProperty('--series', colour);
    const area = s.area ? svgEl('path', { class: 'chart-area' }) : null;
    const line = svgEl('path', { class: 'chart-line', 'data-key': s.key });
    const points = svgEl('path', { class: 'chart-points' }); // values without a neighbour
    if (area) g.append(area);
    g.append(line, points);
    plots.append(g);
    const dot = svgEl('circle', { class: 'chart-dot', r: 3.5 });
    dot.style.setProperty('--series', colour);
    cursor.append(dot);
    const value = h('span', { class: 'chart-legend-value' }, '–');
    const item = h('li', { class: 'chart-legend-item', style: { '--series': colour } },
      h('span', { class: 'chart-swatch', 'aria-hidden': 'true' }), h('span', null, s.label), value);
    return { ...s, area, line, points, dot, value, item };
  });

  const when = h('span', { class: 'chart-when muted small' }, '');
  const empty = h('p', { class: 'chart-empty muted' }, 'Loading…');
  const frame = h('div', { class: 'chart-frame' }, svg, empty);
  const headingId = nextId('chart');
  const el = h('section', { class: 'card chart', 'aria-labelledby': headingId, dataset: { chart: id } },
    h('div', { class: 'chart-head' }, h('h2', { id: headingId }, title), when),
    frame,
    h('ul', { class: 'chart-legend', 'aria-label': `${title}: values` }, parts.map((p) => p.item)));

  const val = (row, key) => (row && Number.isFinite(row[key]) ? row[key] : null);

  function draw() {
    const W = width;
    const left = PAD.left, right = W - PAD.right, top = PAD.top, bottom = HEIGHT - PAD.bottom;
    svg.setAttribute('viewBox', `0 0 ${W} ${HEIGHT}`);
    const t0 = rows.length ? rows[0].time : range.t0;
    const t1 = rows.length > 1 ? rows[rows.length - 1].time : Math.max(range.t1, t0 + 1);
    svg.dataset.span = String(t1 - t0);
    let max = 0;
    let known = 0; // rows with a value
    for (const r of rows) {
      let has = false;
      for (const s of series) {
        const v = val(r, s.key);
        if (v !== null) { has = true; if (v > max) max = v; }
      }
      if (has) known++;
    }
    const any = known > 0;
    const y = yTicks(max, kind);
    const X = (t) => left + ((t - t0) / (t1 - t0)) * (right - left);
    Y = (v) => bottom - (Math.max(0, v) / y.top) * (bottom - top);
    xs = rows.map((r) => X(r.time));

    // Axes: horizontal grid lines with their labels, time ticks below.
    grid.replaceChildren();
    // Without a value the scale is made up: the base line only.
    for (const v of any ? y.ticks : [0]) {
      const yy = Y(v).toFixed(1);
      grid.append(svgEl('line', { class: v === 0 ? 'chart-axis' : 'chart-rule', x1: left, x2: right, y1: yy, y2: yy }));
      if (!any) continue;
      const label = svgEl('text', { class: 'chart-tick', x: left - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'middle' });
      label.textContent = fmt.tick(v, y.step);
      grid.append(label);
    }
    for (const { t, label } of xTicks(t0, t1, Math.max(2, Math.floor((right - left) / 90)))) {
      const xx = X(t).toFixed(1);
      grid.append(svgEl('line', { class: 'chart-rule chart-rule-x', x1: xx, x2: xx, y1: top, y2: bottom }));
      const text = svgEl('text', { class: 'chart-tick', x: xx, y: bottom + 15, 'text-anchor': 'middle' });
      text.textContent = label;
      grid.append(text);
    }

    // One subpath per run of known values; a lone value (gaps both sides, or the very first
    // sample) is a dot: a zero-length segment of the thicker, round-capped points path.
    for (const p of parts) {
      let line = '';
      let points = '';
      let area = '';
      let run = [];
      const flush = () => {
        if (!run.length) return;
        if (run.length === 1) points += `M${run[0][0]},${run[0][1]}l0,0`;
        else line += `M${run[0][0]},${run[0][1]}` + run.slice(1).map(([a, b]) => `L${a},${b}`).join('');
        if (p.area && run.length > 1) area += `M${run[0][0]},${bottom}` + run.map(([a, b]) => `L${a},${b}`).join('') + `L${run[run.length - 1][0]},${bottom}Z`;
        run = [];
      };
      rows.forEach((r, i) => {
        const v = val(r, p.key);
        if (v === null) flush();
        else run.push([xs[i].toFixed(1), Y(v).toFixed(1)]);
      });
      flush();
      p.line.setAttribute('d', line);
      p.points.setAttribute('d', points);
      p.area?.setAttribute('d', area);
    }

    hit.setAttribute('x', left);
    hit.setAttribute('y', top);
    hit.setAttribute('width', Math.max(0, right - left));
    hit.setAttribute('height', bottom - top);
    cursorLine.setAttribute('y1', top);
    cursorLine.setAttribute('y2', bottom);

    empty.hidden = any;
    setText(empty, note);
    el.dataset.state = any ? 'data' : 'empty';
    readout();
    return known;
  }

  /** The latest known value of a series (for the legend and the accessible name). */
  function latest(key) {
    for (let i = rows.length - 1; i >= 0; i--) if (val(rows[i], key) !== null) return rows[i][key];
    return null;
  }

  function readout() {
    const row = hoverAt >= 0 ? rows[hoverAt] : null;
    for (const p of parts) {
      const v = row ? val(row, p.key) : latest(p.key);
      setText(p.value, v === null ? '–' : fmt.value(v));
      if (row && v !== null) {
        p.dot.setAttribute('cx', xs[hoverAt].toFixed(1));
        p.dot.setAttribute('cy', Y(v).toFixed(1));
        p.dot.setAttribute('visibility', 'visible');
      } else {
        p.dot.setAttribute('visibility', 'hidden');
      }
    }
    if (row) {
      cursorLine.setAttribute('x1', xs[hoverAt].toFixed(1));
      cursorLine.setAttribute('x2', xs[hoverAt].toFixed(1));
      cursor.setAttribute('visibility', 'visible');
      setText(when, formatTimestamp(row.time));
    } else {
      cursor.setAttribute('visibility', 'hidden');
      setText(when, range.what);
    }
    const known = parts.map((p) => [p.label, latest(p.key)]).filter(([, v]) => v !== null);
    svg.setAttribute('aria-label', `${title}, ${range.what}: ${known.length ? known.map(([l, v]) => `${l} ${fmt.value(v)}`).join(', ') + ' (latest)' : 'no data yet'}`);
  }

  // Hover: the row whose time is nearest the pointer.
  hit.addEventListener('pointermove', (ev) => {
    if (!rows.length) return;
    const box = svg.getBoundingClientRect();
    const x = ((ev.clientX - box.left) / box.width) * width;
    let best = 0;
    for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) best = i;
    if (best !== hoverAt) { hoverAt = best; readout(); }
  });
  hit.addEventListener('pointerleave', () => { hoverAt = -1; readout(); });

  const resize = new ResizeObserver((entries) => {
    const w = Math.round(entries[entries.length - 1].contentRect.width);
    if (w > 0 && w !== width) { width = w; draw(); }
  });
  resize.observe(frame);

  return {
    el,
    /** New rows (oldest first) for the span `range` = {t0, t1, what}; → how many rows have a value. */
    update(newRows, newRange) {
      rows = (Array.isArray(newRows) ? newRows : []).filter((r) => r && Number.isFinite(r.time)).sort((a, b) => a.time - b.time);
      range = newRange;
      note = 'No data yet';
      hoverAt = -1;
      return draw();
    },
    /** Before the first answer, or when it failed: the message instead of the drawing. */
    message(text) {
      note = text;
      setText(empty, text);
      empty.hidden = false;
    },
    stop() { resize.disconnect(); },
  };
}
