// A read-only list of what one GET answers (a node's disks, volume groups,
// updates, services, …): a toolbar with the count, the view's buttons and
// Reload, a task feedback line, the error slot and a table on a card. It loads
// once and when asked (Reload, or after an action): nothing runs on a timer.

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { taskFeedback } from '../taskrun.js';

/**
 * A table on a card: columns [label | {label, optional, num, actions}]; fill(rows, emptyText)
 * puts rows in (or one row saying emptyText). Columns marked optional hide at phone width.
 */
export function listTable(caption, columns, { className = '' } = {}) {
  const cols = columns.map((c) => (typeof c === 'string' ? { label: c } : c));
  const tbody = h('tbody');
  const el = h('section', { class: 'card card-flush', 'aria-label': caption }, h('div', { class: 'table-wrap' },
    h('table', { class: `grid ${className}`.trim() },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, cols.map((c) => h('th', {
        scope: 'col', class: [c.optional && 'optional', c.num && 'num', c.actions && 'actions-col'].filter(Boolean).join(' ') || null,
      }, c.actions ? h('span', { class: 'sr-only' }, c.label) : c.label)))),
      tbody)));
  return {
    el, tbody,
    fill(rows, emptyText) {
      tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: cols.length, class: 'empty' }, emptyText))]));
    },
  };
}

/**
 * mountList(panel, {path, params, what, caption, columns, rows(data) → [tr], empty, count(n, data), buttons, before, className})
 * → {refresh(), signal, feedback, cleanup}. `what` completes "Could not load the …"; the answer goes to rows() as it
 * came (an array, or an object for paths that answer one).
 */
export function mountList(panel, opts) {
  const { path, params, what, caption, columns, rows, empty, count, buttons = [], before = [], className } = opts;
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the ${what}`);
  const feedback = taskFeedback({ signal: ctrl.signal });
  const counter = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const table = listTable(caption, columns, { className });
  panel.append(
    h('div', { class: 'panel-toolbar' }, counter,
      h('div', { class: 'actions' }, ...buttons,
        h('button', { type: 'button', class: 'btn', dataset: { action: 'reload' }, onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el, ...before, table.el);

  async function refresh() {
    try {
      const data = await api(path, { params, signal: ctrl.signal });
      const list = rows(data);
      table.fill(list, empty);
      setText(counter, count ? count(list.length, data) : `${list.length} ${list.length === 1 ? 'entry' : 'entries'}`);
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(counter, 'Not loaded');
    }
  }
  refresh();
  return { refresh, signal: ctrl.signal, feedback, cleanup: () => ctrl.abort() };
}

/** "1 disk" / "3 disks" */
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
