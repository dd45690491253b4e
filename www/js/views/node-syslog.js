// Node → System → Syslog: the journal's last 500 entries (GET …/journal,
// lines of text), or those between "since" and "until", in a monospace
// scroller that starts at the newest line. Loaded when asked, not on a timer.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { field } from '../form.js';

const LAST = 500;

/** <input type=datetime-local> value (the browser's time) → epoch seconds, or undefined when empty. */
const epochOf = (v) => (v ? Math.floor(new Date(v).getTime() / 1000) : undefined);

export function mountNodeSyslog(panel, { node }) {
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the system log of ${node}`);
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const since = field({ label: 'Since', name: 'since', type: 'datetime-local' });
  const until = field({ label: 'Until', name: 'until', type: 'datetime-local' });
  const log = h('pre', { class: 'log journal', tabindex: 0, 'aria-label': `System log of ${node}` });
  const form = h('form', { class: 'journal-filter', onsubmit: (ev) => { ev.preventDefault(); refresh(); } },
    since.el, until.el,
    h('button', { type: 'submit', class: 'btn', dataset: { action: 'reload' } }, icon('refresh'), 'Reload'));
  panel.append(h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, count, form), err.el, h('section', { class: 'card card-flush' }, log));

  async function refresh() {
    const range = { since: epochOf(since.get()), until: epochOf(until.get()) };
    const ranged = range.since !== undefined || range.until !== undefined;
    try {
      const lines = await api(`/nodes/${seg(node)}/journal`, { params: ranged ? range : { lastentries: LAST }, signal: ctrl.signal });
      const list = Array.isArray(lines) ? lines.map(String) : [];
      log.textContent = list.length ? list.join('\n') + '\n' : '';
      log.scrollTop = log.scrollHeight;
      setText(count, ranged ? `${list.length} line${list.length === 1 ? '' : 's'} in the chosen time range` : `The newest ${list.length} line${list.length === 1 ? '' : 's'}`);
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  refresh();
  return () => ctrl.abort();
}
