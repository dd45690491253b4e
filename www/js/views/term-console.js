// A guest's text console in the browser's own terminal (js/term/): the
// container's shell, or a VM's serial port. POST …/termproxy answers
// {port, ticket, user}; a WebSocket to …/vncwebsocket?port=…&vncticket=…
// then carries PVE's termproxy protocol (see term/termproxy.js). A node's
// shell takes the same path with the node's URL (guest null, `base` given).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { nextId } from '../ui.js';
import { guestBase, guestNoun } from '../guests.js';
import { Terminal } from '../term/terminal.js';
import { openTermproxy } from '../term/termproxy.js';
import { consoleFrame, websocketUrl } from './console-frame.js';

/**
 * Mounts the terminal console in `panel`; returns its cleanup.
 * what: the guest as the texts name it; proxyBody: POST parameters of termproxy (serial=serial0);
 * base: the API path of …/termproxy and …/vncwebsocket when there is no guest (a node: /nodes/{node}).
 */
export function mountTermConsole(panel, guest, signal, { what, proxyBody, label, base = guestBase(guest) }) {
  const screen = h('div', { class: 'term-screen', dataset: { state: 'idle' }, role: 'group', 'aria-label': label || `Terminal of ${guestNoun(guest.type)} ${guest.vmid}` });
  const pasteBtn = h('button', { type: 'button', class: 'btn', disabled: true, onclick: paste }, icon('copy'), 'Paste');
  let link = null;
  let term = null;

  const hint = h('p', { class: 'muted small term-hint', id: nextId('term-keys') }, 'Shift+Esc leaves the terminal · Shift+PgUp/PgDn scroll its history');
  const { err, setState, connect } = consoleFrame(panel, guest, signal, {
    screen, what, actions: [pasteBtn], actionsAttrs: { role: 'toolbar', 'aria-label': 'Terminal' },
    onState: (state) => { pasteBtn.disabled = state !== 'connected'; },
    drop, attach,
  });

  function drop() {
    if (link) { const l = link; link = null; l.close(); }
    if (term) { term.dispose(); term = null; }
  }

  async function attach() {
    setState('connecting', 'Opening the terminal…');
    const proxy = await api(`${base}/termproxy`, { method: 'POST', body: proxyBody, signal });
    if (signal.aborted) return;
    screen.replaceChildren();
    const t = new Terminal(screen, {
      label: screen.getAttribute('aria-label'),
      onData: (s) => link?.sendInput(s),
      onResize: (cols, rows) => link?.resize(cols, rows),
      onLeave: () => pasteBtn.focus(),
    });
    term = t;
    t.input.setAttribute('aria-describedby', hint.id);
    const l = openTermproxy({
      url: websocketUrl(`${base}/vncwebsocket`, { port: proxy.port, vncticket: proxy.ticket }),
      user: proxy.user, ticket: proxy.ticket, cols: t.cols, rows: t.rows,
      onOutput: (bytes) => t.write(bytes),
      onReady: () => { if (link === l) { setState('connected', 'Connected'); t.focus(); } },
      onRefused: (text) => err.set(new Error(`The terminal proxy refused the ticket: ${text}`)),
      onClose: (why) => {
        if (link !== l) return;
        link = null;
        setState(why === 'refused' ? 'error' : 'disconnected', why === 'lost' ? 'The connection was lost' : why === 'refused' ? 'Not connected' : 'Disconnected');
      },
    });
    link = l;
  }

  async function paste() {
    try {
      const text = await navigator.clipboard.readText();
      if (text && term) term.paste(text);
      term?.focus();
    } catch (e) {
      err.set(new Error(`The clipboard cannot be read here (${e.message}); paste with Ctrl+Shift+V or the context menu instead.`));
    }
  }

  screen.after(hint);
  // Exposed for tests: the live terminal of this view.
  screen.corralTerminal = () => term;
  connect();
  return () => drop();
}
