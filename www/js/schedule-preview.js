// A job's schedule (a calendar event) and its next runs, asked of /cluster/jobs/schedule-analyze as one
// types: the latest answer wins, and a schedule the server refuses gets its error beside the field.
// Backup jobs and realm-sync jobs share it.
import { api, ApiError, errorText } from './api.js';
import { h } from './dom.js';
import { formatTimestamp } from './format.js';
import { debounce } from './poll.js';
import { nextId } from './ui.js';

const PREVIEW_DELAY_MS = 300;

/** "Sat 2026-12-05 02:00" in local time: the weekday matters to a schedule, seconds do not. */
export const runTime = (epoch) => `${new Date(Number(epoch) * 1000).toLocaleDateString(undefined, { weekday: 'short' })} `
  + formatTimestamp(epoch).slice(0, 16);

/**
 * The "Next runs" field for the form field `schedule`: `runs` of them, kept up to date while the dialog
 * lives (`signal` ends it).
 */
export function schedulePreview(schedule, { runs = 3, signal }) {
  const label = nextId('runs');
  const list = h('ol', { class: 'schedule-preview', 'aria-live': 'polite', 'aria-labelledby': label, dataset: { role: 'schedule-preview' } });
  const none = (why = '–') => list.replaceChildren(h('li', { class: 'muted' }, why));
  let asking = null;
  async function show() {
    asking?.abort();
    const want = schedule.get();
    if (!want || signal.aborted) { none(); return; }
    const mine = new AbortController();
    asking = mine;
    try {
      const next = await api('/cluster/jobs/schedule-analyze', { params: { schedule: want, iterations: runs }, signal: mine.signal });
      if (Array.isArray(next) && next.length) {
        list.replaceChildren(...next.map((r) => h('li', { dataset: { timestamp: r.timestamp }, title: `${r.utc} UTC` }, runTime(r.timestamp))));
      } else {
        none('It never runs.');
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      none();
      if (e instanceof ApiError && e.errors?.schedule) schedule.setError(String(e.errors.schedule));
      else none(`Could not check the schedule: ${errorText(e)}`);
    }
  }
  // a question still open when the dialog closes is dropped with it
  signal.addEventListener('abort', () => asking?.abort(), { once: true });
  const soon = debounce(show, PREVIEW_DELAY_MS);
  schedule.input.addEventListener('input', soon);
  schedule.input.addEventListener('change', soon); // a pick from the suggestions
  show();
  return h('div', { class: 'field schedule-runs' }, h('p', { class: 'field-label', id: label }, 'Next runs'), list);
}
