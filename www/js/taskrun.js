// Long operations answer with a UPID; these helpers wait for its task to end
// (task-finished events, with a slow status poll as a safety net) and report
// the outcome where the user started it, with a way into the task log viewer.

import { api, seg, errorText } from './api.js';
import { h, icon, replaceChildren } from './dom.js';
import { onTaskEvent } from './events.js';
import { parseUpid, taskStatusKind } from './format.js';
import { openTaskLog } from './tasklog.js';

const POLL_MS = 1500;

export const isUpid = (v) => typeof v === 'string' && v.startsWith('UPID:');

/**
 * Resolve to the task's exit status ("OK", "WARNINGS: 1", an error text) once it stopped.
 * Rejects with AbortError when `signal` aborts; API failures are retried until then.
 */
export function waitTask(upid, { signal } = {}) {
  const info = parseUpid(upid);
  if (!info) return Promise.reject(new Error(`Not a task id: ${upid}`));
  const url = `/nodes/${seg(info.node)}/tasks/${seg(upid)}/status`;
  return new Promise((resolve, reject) => {
    let timer = null;
    let checking = false;
    let finished = false;
    const off = onTaskEvent((kind, data) => {
      if (kind === 'task-finished' && data && data.upid === upid) check();
    });
    function end(fn, v) {
      finished = true;
      off();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn(v);
    }
    function onAbort() { end(reject, new DOMException('aborted', 'AbortError')); }
    async function check() {
      if (finished || checking) return;
      checking = true;
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        const st = await api(url, { signal });
        if (st && st.status === 'stopped') { end(resolve, st.exitstatus ?? 'unknown'); return; }
      } catch (err) {
        if (err.name === 'AbortError') return;
        console.debug('task status:', errorText(err));
      } finally {
        checking = false;
      }
      if (!finished) timer = setTimeout(check, POLL_MS);
    }
    if (signal?.aborted) { onAbort(); return; }
    signal?.addEventListener('abort', onAbort);
    check();
  });
}

/** Thrown by runTask when the task ended with an error. */
export class TaskFailed extends Error {
  constructor(upid, status) {
    super(String(status));
    this.name = 'TaskFailed';
    this.upid = upid;
    this.status = status;
  }
}

/**
 * A one-line report area for operations. run(label, fn) calls fn(); when it
 * returns a UPID the line follows the task ("Start: running…" → "Start: OK").
 * Resolves to the task's status or fn's value; rethrows failures after showing
 * them (a failed task as TaskFailed, with a "Show log" button).
 */
export function taskFeedback({ signal } = {}) {
  const el = h('div', { class: 'task-feedback', 'aria-live': 'polite', hidden: true });
  let seq = 0;

  function show(kind, text, upid) {
    el.hidden = false;
    el.dataset.kind = kind;
    const logBtn = upid ? h('button', {
      type: 'button', class: 'link', onclick: (ev) => openTaskLog({ upid }, ev.currentTarget),
    }, 'Show log') : null;
    replaceChildren(el,
      kind === 'running' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : icon(kind === 'ok' ? 'check' : 'alert'),
      h('span', { class: 'task-feedback-text' }, text), logBtn);
  }

  return {
    el,
    clear() { el.hidden = true; el.replaceChildren(); },
    async run(label, fn) {
      const my = ++seq;
      show('running', `${label}…`);
      let res;
      try {
        res = await fn();
      } catch (err) {
        if (my === seq && err.name !== 'AbortError') show('error', `${label} failed: ${errorText(err)}`);
        throw err;
      }
      if (!isUpid(res)) {
        if (my === seq) show('ok', `${label}: done`);
        return res;
      }
      if (my === seq) show('running', `${label}: running…`, res);
      const status = await waitTask(res, { signal });
      const kind = taskStatusKind(status);
      if (my === seq) show(kind === 'ok' ? 'ok' : kind === 'warning' ? 'warning' : 'error', `${label}: ${status}`, res);
      if (kind === 'error') throw new TaskFailed(res, status);
      return status;
    },
  };
}
