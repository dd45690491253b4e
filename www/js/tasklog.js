// Task log viewer: a modal <dialog> that shows a task's log and follows it
// while the task is running (GET …/tasks/{upid}/log and …/status).

import { api, seg, errorText } from './api.js';
import { h, icon, replaceChildren, setText } from './dom.js';
import { errorSlot, nextId, taskStatusBadge } from './ui.js';
import { formatTimestamp, formatShortDuration, parseUpid, taskDescription } from './format.js';
import { onTaskEvent } from './events.js';

const PAGE = 500;
const FOLLOW_MS = 1000;

/**
 * Open the viewer for `task` ({upid, node?, type?, id?, user?, starttime?, status?}).
 * `opener`: element (or function returning one) to focus again on close.
 */
export function openTaskLog(task, opener = document.activeElement) {
  const info = { ...parseUpid(task.upid), ...task };
  const base = `/nodes/${seg(info.node)}/tasks/${seg(info.upid)}`;
  const titleId = nextId('dlg');
  const desc = taskDescription(info.type, info.id);

  const statusBox = h('span', { class: 'log-status' }, taskStatusBadge(info.status));
  const duration = h('span');
  const err = errorSlot('Could not load the log');
  const pre = h('pre', { class: 'log', tabindex: 0, 'aria-label': 'Task log output' });
  const follow = h('input', { type: 'checkbox', id: nextId('follow'), checked: true });
  const closeBtn = h('button', { type: 'button', class: 'btn' }, 'Close');

  const dlg = h('dialog', { class: 'dialog log-dialog', 'aria-labelledby': titleId },
    h('header', { class: 'dialog-head' },
      h('h2', { id: titleId }, `Task: ${desc}`),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => dlg.close() },
        icon('close'))),
    h('dl', { class: 'log-meta' },
      h('div', null, h('dt', null, 'Status'), h('dd', null, statusBox)),
      h('div', null, h('dt', null, 'Node'), h('dd', null, info.node || '–')),
      h('div', null, h('dt', null, 'User'), h('dd', null, info.user || '–')),
      h('div', null, h('dt', null, 'Started'), h('dd', null, formatTimestamp(info.starttime))),
      h('div', null, h('dt', null, 'Duration'), h('dd', null, duration))),
    err.el,
    pre,
    h('footer', { class: 'dialog-foot' },
      h('label', { class: 'check' }, follow, ' Follow output'),
      closeBtn));
  closeBtn.addEventListener('click', () => dlg.close());

  let lastN = 0;          // highest line number shown
  let finished = false;
  let sawRunning = false; // observed running → we can estimate the end time
  let timer = null;
  let closed = false;
  const ctrl = new AbortController();

  function updateDuration() {
    if (!info.starttime) return setText(duration, '–');
    const end = info.endtime || (finished ? null : Date.now() / 1000);
    setText(duration, end ? formatShortDuration(end - info.starttime) : '–');
  }

  function appendLines(lines) {
    const fresh = lines.filter((l) => l && Number(l.n) > lastN);
    if (!fresh.length) return;
    lastN = Math.max(...fresh.map((l) => Number(l.n)));
    pre.append(fresh.map((l) => String(l.t ?? '')).join('\n') + '\n');
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  }

  async function loadLog() {
    for (;;) {
      const res = await api(`${base}/log`, { params: { start: lastN, limit: PAGE }, raw: true, signal: ctrl.signal });
      const lines = Array.isArray(res.data) ? res.data : [];
      if (res.total === 0) return; // nothing logged yet ("no content" placeholder)
      const before = lastN;
      appendLines(lines);
      if (lines.length < PAGE || lastN === before) return;
    }
  }

  async function step() {
    timer = null;
    if (closed) return;
    try {
      // Status first: if it says "stopped", the log read after it is complete.
      const st = await api(`${base}/status`, { signal: ctrl.signal });
      if (st && st.status === 'running') sawRunning = true;
      await loadLog();
      if (st && st.status === 'stopped') {
        finished = true;
        info.status = st.exitstatus ?? info.status ?? 'unknown';
        if (!info.endtime) info.endtime = Number(st.endtime) || (sawRunning ? Date.now() / 1000 : null);
        replaceChildren(statusBox, taskStatusBadge(info.status));
      }
      err.set(null);
    } catch (e) {
      if (closed || e.name === 'AbortError') return;
      err.set(e);
      console.debug('task log:', errorText(e));
    }
    updateDuration();
    if (!finished && !closed) timer = setTimeout(step, FOLLOW_MS);
  }

  const unsubscribe = onTaskEvent((kind, data) => {
    if (kind === 'task-finished' && data.upid === info.upid && !finished && !closed) {
      if (timer) clearTimeout(timer);
      step();
    }
  });

  dlg.addEventListener('close', () => {
    closed = true;
    ctrl.abort();
    if (timer) clearTimeout(timer);
    unsubscribe();
    dlg.remove();
    const back = typeof opener === 'function' ? opener() : opener;
    if (back && back.isConnected && typeof back.focus === 'function') back.focus();
  });
  // Click on the backdrop closes the dialog.
  dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); });

  document.body.append(dlg);
  dlg.showModal();
  pre.focus();
  updateDuration();
  step();
  return dlg;
}
