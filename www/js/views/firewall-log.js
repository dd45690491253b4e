// Firewall → Log (nodes and guests): what the firewall logged (GET {base}/log?start=0&limit=500, rows
// {n, t}) in a monospace scroller, read again every 2 s while the tab is open (poll.js pauses while the
// page is hidden). It stays at the newest line unless one has scrolled up to read.

import { api } from '../api.js';
import { h, setText } from '../dom.js';
import { poll } from '../poll.js';
import { errorSlot } from '../ui.js';
import { plural } from './list-view.js';
import { actionButton, counter } from './firewall-parts.js';

const LIMIT = 500;
const REFRESH_MS = 2000;

export function mountFirewallLog(panel, scope, signal) {
  const count = counter();
  const err = errorSlot(`Could not read the firewall log of ${scope.label}`);
  const log = h('pre', { class: 'log journal', tabindex: 0, 'aria-label': `Firewall log of ${scope.label}`, dataset: { role: 'firewall-log' } });
  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, count,
      h('div', { class: 'actions' }, actionButton('reload', 'Refresh', 'refresh', () => loop.now()))),
    err.el, h('section', { class: 'card card-flush' }, log));

  async function refresh() {
    try {
      const rows = await api(`${scope.base}/log`, { params: { start: 0, limit: LIMIT }, signal });
      const lines = (Array.isArray(rows) ? rows : []).filter((r) => r && r.t !== undefined)
        .sort((a, b) => Number(a.n) - Number(b.n)).map((r) => String(r.t));
      const textNow = lines.length ? `${lines.join('\n')}\n` : '';
      if (log.textContent !== textNow) {
        const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
        log.textContent = textNow;
        if (atEnd) log.scrollTop = log.scrollHeight;
      }
      setText(count, lines.length ? `${plural(lines.length, 'line')}, following` : 'Nothing logged yet; following');
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  const loop = poll(refresh, REFRESH_MS);
  return () => loop.stop();
}
