// Node → Tasks: the node's recent tasks; click one to open its log.
// Refreshed on task events for this node (or every 5 s when polling).

import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { fetchNodeTasks, sortTasks, taskTable } from '../tasks.js';
import { onTaskEvent } from '../events.js';
import { debounce, serialized } from '../poll.js';

const LIMIT = 50;

export function mountNodeTasks(panel, route) {
  const { node } = route;
  const err = errorSlot(`Could not load the tasks of ${node}`);
  const count = h('p', { class: 'muted small' }, 'Loading…');
  const table = taskTable({ caption: `Tasks on ${node}`, showNode: false, emptyText: 'No tasks have run on this node yet.' });
  const refreshBtn = h('button', { type: 'button', class: 'btn' }, icon('refresh'), 'Refresh');

  panel.append(h('div', { class: 'panel-toolbar' }, count, refreshBtn), err.el, h('div', { class: 'card card-flush' }, table.el));

  const ctrl = new AbortController();
  const refresh = serialized(async () => {
    if (ctrl.signal.aborted) return;
    try {
      const tasks = sortTasks(await fetchNodeTasks(node, { limit: LIMIT, signal: ctrl.signal }));
      table.update(tasks);
      const running = tasks.filter((t) => t.status === undefined || t.status === null).length;
      setText(count, `${tasks.length} most recent task${tasks.length === 1 ? '' : 's'}${running ? ` · ${running} running` : ''}`);
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  });

  const soon = debounce(refresh, 250);
  refreshBtn.addEventListener('click', refresh);
  const unsubscribe = onTaskEvent((kind, data) => {
    if (kind === 'resync' || (data && data.node === node)) soon();
  });
  refresh();

  return () => { unsubscribe(); ctrl.abort(); };
}
