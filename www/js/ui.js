// Small reusable UI components built on dom.js.

import { h, icon, setText } from './dom.js';
import { errorText } from './api.js';
import { taskStatusKind } from './format.js';

let uid = 0;
export const nextId = (prefix = 'c') => `${prefix}-${++uid}`;

/**
 * Usage bar. Returns {el, update(fraction, text)}; the bar turns amber above
 * 80 % and red above 95 %. Exposed to assistive tech as an ARIA meter.
 */
export function meter(labelId) {
  const fill = h('div', { class: 'meter-fill' });
  const el = h('div', {
    class: 'meter', role: 'meter', 'aria-labelledby': labelId,
    'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0,
  }, fill);
  return {
    el,
    update(frac, text) {
      const f = Number.isFinite(frac) ? Math.min(1, Math.max(0, frac)) : 0;
      fill.style.width = `${(f * 100).toFixed(1)}%`;
      el.dataset.level = f > 0.95 ? 'crit' : f > 0.8 ? 'warn' : 'ok';
      el.setAttribute('aria-valuenow', (f * 100).toFixed(0));
      if (text) el.setAttribute('aria-valuetext', text);
    },
  };
}

/**
 * Tiny SVG sparkline of the last `max` samples (fractions 0..1).
 * Returns {el, push(value)}. Purely decorative: the numbers are shown as text.
 */
export function sparkline(max = 60) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('viewBox', `0 0 ${max - 1} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const area = document.createElementNS(NS, 'polygon');
  const line = document.createElementNS(NS, 'polyline');
  area.setAttribute('class', 'spark-area');
  line.setAttribute('class', 'spark-line');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(area, line);
  const values = [];
  return {
    el: svg,
    push(v) {
      if (!Number.isFinite(v)) return;
      values.push(Math.min(1, Math.max(0, v)));
      if (values.length > max) values.shift();
      const off = max - values.length;
      const pts = values.map((y, i) => `${off + i},${(100 - y * 100).toFixed(1)}`);
      line.setAttribute('points', pts.join(' '));
      area.setAttribute('points', `${off},100 ${pts.join(' ')} ${max - 1},100`);
    },
  };
}

/**
 * An inline message area for errors. set(err) shows it, set(null) hides it.
 * Uses role=alert only when the message text changes, so repeated refresh
 * failures are not re-announced every few seconds.
 */
export function errorSlot(prefix = '') {
  const text = h('span');
  const el = h('div', { class: 'notice notice-error', role: 'alert', hidden: true },
    icon('alert'), text);
  return {
    el,
    set(err) {
      if (!err) { el.hidden = true; return; }
      setText(text, (prefix ? prefix + ': ' : '') + errorText(err));
      el.hidden = false;
    },
  };
}

/** Status pill for tasks: running (spinner) / OK / warnings / error text. */
export function taskStatusBadge(status) {
  const kind = taskStatusKind(status);
  if (kind === 'running') {
    return h('span', { class: 'status status-running' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { class: 'status-text' }, 'running'));
  }
  return h('span', { class: `status status-${kind}`, title: String(status) },
    icon(kind === 'ok' ? 'check' : 'alert'), h('span', { class: 'status-text' }, kind === 'ok' ? 'OK' : String(status)));
}

/**
 * Copy an <input>/<textarea>'s value to the clipboard; the text stays selected, so a
 * browser without clipboard access (plain HTTP, no permission) lets the user copy it.
 * Resolves to true when it was copied.
 */
export async function copyValue(input) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    try { return document.execCommand('copy'); } catch { return false; }
  }
}

/**
 * A button that opens a short menu of actions (ARIA menu button): menuButton({label, iconName,
 * items: [{label, onSelect, data}], primary}) → the element to place. The arrow keys move
 * through the items, Esc and Tab close it; choosing an item closes the menu and returns focus
 * to the button before onSelect runs (so a dialog it opens gives focus back there).
 */
export function menuButton({ label, iconName, items, primary = false, data = null }) {
  const menuId = nextId('menu');
  const btn = h('button', {
    type: 'button', class: `btn${primary ? ' btn-primary' : ''}`, 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    'aria-controls': menuId, dataset: data,
  }, iconName ? icon(iconName) : null, label, icon('chevron-down', { cls: 'menu-caret' }));
  const entries = items.map((it) => h('button', {
    type: 'button', role: 'menuitem', tabindex: -1, class: 'menu-item', dataset: it.data,
    onclick: () => { close(true); it.onSelect(); },
  }, it.label));
  const menu = h('div', { class: 'menu', id: menuId, role: 'menu', 'aria-label': label, hidden: true }, entries);
  const wrap = h('div', { class: 'menu-wrap' }, btn, menu);

  const outside = (ev) => { if (!wrap.contains(ev.target)) close(false); };
  function open(at = 0) {
    menu.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    document.addEventListener('pointerdown', outside, true);
    entries[(at + entries.length) % entries.length]?.focus();
  }
  function close(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', outside, true);
    if (refocus) btn.focus();
  }
  btn.addEventListener('click', () => (menu.hidden ? open(0) : close(true)));
  btn.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') { ev.preventDefault(); open(ev.key === 'ArrowDown' ? 0 : -1); }
  });
  menu.addEventListener('keydown', (ev) => {
    const at = entries.indexOf(document.activeElement);
    const move = { ArrowDown: 1, ArrowUp: -1 }[ev.key];
    if (move) { ev.preventDefault(); entries[(at + move + entries.length) % entries.length].focus(); }
    else if (ev.key === 'Home' || ev.key === 'End') { ev.preventDefault(); entries[ev.key === 'Home' ? 0 : entries.length - 1].focus(); }
    else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(true); }
    else if (ev.key === 'Tab') close(false);
  });
  return wrap;
}
