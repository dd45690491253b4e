// Bottom task panel: recent tasks of all online nodes, kept live by the
// event stream (or 5 s polling). Collapsible; the state is remembered.

import { setText } from './dom.js';
import { errorText } from './api.js';
import { errorSlot } from './ui.js';
import { loadNodes, isOnline } from './nodes.js';
import { fetchNodeTasks, sortTasks, taskTable } from './tasks.js';
import { onTaskEvent, onEventMode } from './events.js';
import { debounce, serialized } from './poll.js';

const KEY = 'corral.taskpanel';
const SHOW = 50;

export function initTaskPanel({ panel, toggle, body, summary, modeEl }) {
  const err = errorSlot('Could not load recent tasks');
  const table = taskTable({ caption: 'Recent tasks', showNode: true, emptyText: 'No recent tasks.' });
  body.append(err.el, table.el);

  // --- collapse / expand --------------------------------------------------
  function setOpen(open, remember) {
    toggle.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
    panel.classList.toggle('is-collapsed', !open);
    if (remember) {
      try { localStorage.setItem(KEY, open ? 'open' : 'collapsed'); } catch { /* ignore */ }
    }
  }
  // Default: open, except on phones where screen space is scarce.
  let initial = window.matchMedia('(max-width: 760px)').matches ? 'collapsed' : 'open';
  try { initial = localStorage.getItem(KEY) || initial; } catch { /* ignore */ }
  setOpen(initial !== 'collapsed', false);
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true', true));

  // --- live indicator -----------------------------------------------------
  const MODES = {
    connecting: ['Connecting…', 'Connecting to the event stream'],
    live: ['Live', 'Updates arrive instantly via the event stream'],
    polling: ['Polling', 'Event stream unavailable; refreshing every 5 seconds'],
  };
  onEventMode((mode) => {
    const [text, title] = MODES[mode] || MODES.connecting;
    setText(modeEl, text);
    modeEl.title = title;
    modeEl.dataset.mode = mode;
  });

  // --- data ---------------------------------------------------------------
  const refresh = serialized(async () => {
    try {
      const nodes = (await loadNodes({ maxAge: 10000 })).filter(isOnline);
      const results = await Promise.allSettled(nodes.map((n) => fetchNodeTasks(n.node, { limit: SHOW })));
      const tasks = [];
      const failures = [];
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') tasks.push(...r.value);
        else failures.push(`${nodes[i].node}: ${errorText(r.reason)}`);
      });
      const shown = sortTasks(tasks).slice(0, SHOW);
      table.update(shown);
      const running = shown.filter((t) => t.status === undefined || t.status === null).length;
      setText(summary, running ? `${running} running` : '');
      err.set(failures.length ? new Error(failures.join('; ')) : null);
    } catch (e) {
      err.set(e);
    }
  });

  onTaskEvent(debounce(refresh, 250));
  refresh();
}
