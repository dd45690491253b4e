// CT → Console: a terminal on the container through PVE's termproxy.
// POST …/termproxy answers {port, ticket, user}; a WebSocket to
// …/vncwebsocket?port=…&vncticket=… carries the terminal. The first message is
// "user:ticket\n", the server answers "OK", then raw output flows down and
// framed input goes up: "0:<bytes>:<data>" keys, "1:<cols>:<rows>:" a
// resize, "2" a keep-alive.
//
// The terminal is xterm.js as the server provides it at /xtermjs/ (Debian's
// libjs-xterm). Its API changed across versions (on('data') → onData()), so
// only the calls every version has are used, and the window is fitted here.

import { api } from '../api.js';
import { h } from '../dom.js';
import { guestBase, guestView } from '../guests.js';
import { consoleFrame, websocketUrl } from './console-frame.js';

export const XTERM_JS = '/xtermjs/xterm.js';
export const XTERM_CSS = '/xtermjs/xterm.css';
const PING_MS = 30000;
const FONT = { size: 14, family: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace' };

let loading = null;
/** window.Terminal, loaded once (script + stylesheet). */
function loadXterm() {
  if (window.Terminal) return Promise.resolve(window.Terminal);
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    if (!document.querySelector(`link[href="${XTERM_CSS}"]`)) {
      document.head.append(h('link', { rel: 'stylesheet', href: XTERM_CSS }));
    }
    // A file that is not a browser build (e.g. a CommonJS stub) throws while it
    // runs; that is reported below as "not usable", not as a page error.
    const swallow = (ev) => { if (ev.filename && ev.filename.endsWith(XTERM_JS)) ev.preventDefault(); };
    window.addEventListener('error', swallow);
    const s = h('script', { src: XTERM_JS });
    s.addEventListener('load', () => {
      window.removeEventListener('error', swallow);
      if (typeof window.Terminal === 'function') resolve(window.Terminal);
      else reject(new Error(`${XTERM_JS} loaded, but it is not a browser build of xterm.js (no window.Terminal)`));
    });
    s.addEventListener('error', () => {
      window.removeEventListener('error', swallow);
      reject(new Error(`xterm.js is not available at ${XTERM_JS}`));
    });
    document.head.append(s);
  }).catch((e) => { loading = null; throw e; });
  return loading;
}

/** The size of one character cell of the terminal font, measured in `host`. */
function cellSize(host) {
  const probe = h('span', { style: { position: 'absolute', visibility: 'hidden', fontFamily: FONT.family, fontSize: `${FONT.size}px`, lineHeight: 'normal', whiteSpace: 'pre' } }, 'W'.repeat(50));
  host.append(probe);
  const r = probe.getBoundingClientRect();
  probe.remove();
  return { w: r.width / 50 || 8, h: r.height || 17 };
}

const utf8Length = (s) => new TextEncoder().encode(s).length;

export const mountLxcConsole = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const screen = h('div', { class: 'term-screen', dataset: { state: 'idle' }, 'aria-label': `Terminal of CT ${guest.vmid}` });
  let ws = null;
  let term = null;
  let ping = null;
  let size = { cols: 80, rows: 24 };

  const { err, setState, connect } = consoleFrame(panel, guest, signal, { screen, what: 'container', drop, attach });

  function drop() {
    if (ping) clearInterval(ping);
    ping = null;
    if (ws) { const w = ws; ws = null; try { w.close(); } catch { /* closed */ } }
    if (term) { const t = term; term = null; try { (t.dispose || t.destroy).call(t); } catch { /* gone */ } }
  }

  function fit() {
    if (!term) return;
    const c = cellSize(screen);
    const cols = Math.max(20, Math.floor((screen.clientWidth - 8) / c.w));
    const rows = Math.max(5, Math.floor((screen.clientHeight - 8) / c.h));
    if (cols === size.cols && rows === size.rows) return;
    size = { cols, rows };
    term.resize(cols, rows);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(`1:${cols}:${rows}:`);
  }
  const ro = new ResizeObserver(() => fit());
  ro.observe(screen);

  async function attach() {
    const Terminal = await loadXterm();
    const proxy = await api(`${base}/termproxy`, { method: 'POST', signal });
    if (signal.aborted) return;
    screen.replaceChildren();
    const t = new Terminal({ cursorBlink: true, fontSize: FONT.size, fontFamily: FONT.family, cols: size.cols, rows: size.rows });
    term = t;
    t.open(screen);
    size = { cols: 0, rows: 0 };
    fit();
    const w = new WebSocket(websocketUrl(`${base}/vncwebsocket`, { port: proxy.port, vncticket: proxy.ticket }), ['binary']);
    w.binaryType = 'arraybuffer';
    ws = w;
    const decoder = new TextDecoder();
    let authed = false;
    const send = (data) => { if (authed && w.readyState === WebSocket.OPEN) w.send(`0:${utf8Length(data)}:${data}`); };
    if (typeof t.onData === 'function') t.onData(send); else t.on('data', send);
    w.addEventListener('open', () => w.send(`${proxy.user}:${proxy.ticket}\n`));
    w.addEventListener('message', (ev) => {
      const text = typeof ev.data === 'string' ? ev.data : decoder.decode(ev.data, { stream: true });
      if (!authed) {
        if (!text.startsWith('OK')) { err.set(new Error(`The terminal proxy refused the ticket: ${text.slice(0, 200)}`)); w.close(); return; }
        authed = true;
        setState('connected', 'Connected');
        w.send(`1:${size.cols}:${size.rows}:`);
        ping = setInterval(() => { if (w.readyState === WebSocket.OPEN) w.send('2'); }, PING_MS);
        t.focus();
        if (text.length > 2) t.write(text.slice(2));
        return;
      }
      t.write(text);
    });
    w.addEventListener('close', () => {
      if (ws !== w) return;
      ws = null;
      if (ping) clearInterval(ping);
      setState('disconnected', 'Disconnected');
    });
  }

  connect();
  return () => { ro.disconnect(); drop(); };
});
