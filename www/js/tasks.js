// Task helpers: fetching and sorting task lists, and the task table used by
// both the node "Tasks" tab and the bottom task panel.

import { api, seg } from './api.js';
import { h } from './dom.js';
import { taskStatusBadge } from './ui.js';
import { formatTimestamp, formatTimestampLong, taskDescription } from './format.js';
import { openTaskLog } from './tasklog.js';

/** Running tasks first, then newest first. */
export function sortTasks(tasks) {
  return tasks.slice().sort((a, b) => {
    const ra = a.status === undefined || a.status === null;
    const rb = b.status === undefined || b.status === null;
    if (ra !== rb) return ra ? -1 : 1;
    return (b.starttime || 0) - (a.starttime || 0);
  });
}

export async function fetchNodeTasks(node, { limit = 50, signal } = {}) {
  const list = await api(`/nodes/${seg(node)}/tasks`, { params: { limit, source: 'all' }, signal });
  return (Array.isArray(list) ? list : []).filter((t) => t && t.upid)
    .map((t) => ({ ...t, node: t.node || node }));
}

/**
 * A table of tasks. Returns {el, update(tasks)}. Rows open the log viewer on
 * click; the description cell holds a real <button> for keyboard users.
 * Re-rendering keeps keyboard focus on the same task.
 */
export function taskTable({ caption, showNode = true, emptyText = 'No tasks.' } = {}) {
  // Columns marked `optional` are hidden at phone width (see corral.css).
  const cols = [['Start time'], ['End time', 'optional'], showNode && ['Node', 'optional'],
    ['User', 'optional'], ['Description'], ['Status']].filter(Boolean);
  const tbody = h('tbody');
  const table = h('table', { class: 'grid tasks' },
    h('caption', { class: 'sr-only' }, caption || 'Tasks'),
    h('thead', null, h('tr', null, cols.map(([c, cls]) => h('th', { scope: 'col', class: cls }, c)))),
    tbody);
  const el = h('div', { class: 'table-wrap' }, table);

  tbody.addEventListener('click', (ev) => {
    const row = ev.target.closest('tr[data-upid]');
    if (!row || !row._task) return;
    const { upid } = row.dataset;
    // Rows are re-rendered while the dialog is open: find the button again on close.
    openTaskLog(row._task, () => [...tbody.rows].find((r) => r.dataset.upid === upid)?.querySelector('button'));
  });

  // Date and time wrap as units on narrow screens.
  const stamp = (epoch) => {
    const s = formatTimestamp(epoch);
    const i = s.indexOf(' ');
    return i < 0 ? s : [h('span', { class: 'nowrap' }, s.slice(0, i)), ' ', h('span', { class: 'nowrap' }, s.slice(i + 1))];
  };

  function row(t) {
    const desc = taskDescription(t.type, t.id);
    const running = t.status === undefined || t.status === null;
    const tr = h('tr', { dataset: { upid: t.upid }, class: running ? 'is-running' : null },
      h('td', { class: 'nowrap', title: formatTimestampLong(t.starttime) }, stamp(t.starttime)),
      h('td', { class: 'nowrap optional', title: formatTimestampLong(t.endtime) }, running ? '' : stamp(t.endtime)),
      showNode && h('td', { class: 'optional' }, t.node || ''),
      h('td', { class: 'user optional' }, t.user || ''),
      h('td', { class: 'desc' }, h('button', {
        type: 'button', class: 'link', 'aria-label': `${desc} — show log`,
      }, desc)),
      h('td', { class: 'status-cell' }, taskStatusBadge(t.status)));
    tr._task = t;
    return tr;
  }

  return {
    el,
    update(tasks) {
      const focused = tbody.contains(document.activeElement)
        ? document.activeElement.closest('tr')?.dataset.upid : null;
      if (!tasks.length) {
        tbody.replaceChildren(h('tr', null, h('td', { colspan: cols.length, class: 'empty' }, emptyText)));
        return;
      }
      tbody.replaceChildren(...tasks.map(row));
      if (focused) {
        const again = [...tbody.rows].find((r) => r.dataset.upid === focused);
        again?.querySelector('button')?.focus({ preventScroll: true });
      }
    },
  };
}
