// VM → Console: the VM's screen through noVNC. POST …/vncproxy (websocket=1)
// opens a VNC proxy and answers {port, ticket}; the browser then connects a
// WebSocket to …/vncwebsocket?port=…&vncticket=… (the session cookie
// authenticates it) and noVNC speaks RFB over it, with the ticket as the VNC
// password. noVNC comes from the server at /novnc/ (Debian's novnc package).

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { confirmDialog } from '../dialog.js';
import { taskFeedback } from '../taskrun.js';
import { guestBase, guestView } from '../guests.js';

export const NOVNC_RFB = '/novnc/core/rfb.js';

let rfbClass = null;
/** noVNC's RFB class, loaded once on first use (a failed load is tried again next time). */
function loadRFB() {
  if (!rfbClass) {
    rfbClass = import(NOVNC_RFB).then((m) => m.default).catch((e) => {
      rfbClass = null;
      throw new Error(`noVNC is not available at ${NOVNC_RFB} (${e.message})`);
    });
  }
  return rfbClass;
}

/** wss://host/api2/json/… for an API path, ws:// on plain HTTP. */
export function websocketUrl(path, params) {
  const qs = new URLSearchParams(params).toString();
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api2/json${path}?${qs}`;
}

export const mountQemuConsole = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const err = errorSlot('Console');
  const feedback = taskFeedback({ signal });
  const status = h('span', { class: 'console-status', role: 'status' }, 'Connecting…');
  const screen = h('div', { class: 'vnc-screen', dataset: { state: 'idle' }, 'aria-label': `Screen of VM ${guest.vmid}`, role: 'application' });
  const startBtn = h('button', { type: 'button', class: 'btn btn-primary', hidden: true, onclick: start }, icon('play'), 'Start VM');
  const reconnectBtn = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => connect() }, icon('refresh'), 'Reconnect');
  const cadBtn = h('button', { type: 'button', class: 'btn', disabled: true, onclick: ctrlAltDel }, icon('keyboard'), 'Ctrl+Alt+Del');
  const fullBtn = h('button', { type: 'button', class: 'btn', onclick: () => screen.requestFullscreen?.().catch(() => {}) }, icon('fullscreen'), 'Full screen');
  let rfb = null;

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, status,
      h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Console' }, startBtn, reconnectBtn, cadBtn, fullBtn)),
    feedback.el, err.el, screen);

  function setState(state, text) {
    screen.dataset.state = state;
    setText(status, text);
    cadBtn.disabled = state !== 'connected';
    reconnectBtn.hidden = state !== 'disconnected' && state !== 'error';
  }

  function drop() {
    if (!rfb) return;
    const r = rfb;
    rfb = null;
    try { r.disconnect(); } catch { /* already closed */ }
  }

  async function connect() {
    drop();
    err.set(null);
    startBtn.hidden = true;
    setState('connecting', 'Checking the VM…');
    try {
      const st = await api(`${base}/status/current`, { signal });
      if (st.status !== 'running') {
        setState('stopped', `VM ${guest.vmid} is not running.`);
        startBtn.hidden = false;
        return;
      }
      const RFB = await loadRFB();
      setState('connecting', 'Opening the console…');
      const proxy = await api(`${base}/vncproxy`, { method: 'POST', body: { websocket: 1 }, signal });
      if (signal.aborted) return;
      const url = websocketUrl(`${base}/vncwebsocket`, { port: proxy.port, vncticket: proxy.ticket });
      const password = proxy.password ?? proxy.ticket;
      screen.replaceChildren();
      const r = new RFB(screen, url, { credentials: { password }, wsProtocols: ['binary'] });
      rfb = r;
      r.scaleViewport = true;
      r.background = 'transparent';
      r.addEventListener('connect', () => { if (rfb === r) setState('connected', 'Connected'); r.focus(); });
      r.addEventListener('disconnect', (ev) => {
        if (rfb !== r) return;
        rfb = null;
        setState('disconnected', ev.detail && ev.detail.clean ? 'Disconnected' : 'The connection was lost');
      });
      r.addEventListener('credentialsrequired', () => r.sendCredentials({ password }));
      r.addEventListener('securityfailure', (ev) => {
        err.set(new Error(`VNC authentication failed${ev.detail && ev.detail.reason ? `: ${ev.detail.reason}` : ''}`));
      });
      r.addEventListener('desktopname', (ev) => { screen.title = ev.detail && ev.detail.name ? ev.detail.name : ''; });
    } catch (e) {
      if (e.name === 'AbortError') return;
      setState('error', 'Not connected');
      err.set(e);
    }
  }

  async function start() {
    startBtn.disabled = true;
    try {
      await feedback.run(`Start VM ${guest.vmid}`, () => api(`${base}/status/start`, { method: 'POST', signal }));
      await connect();
    } catch (e) {
      console.debug('start failed:', e);
    } finally {
      startBtn.disabled = false;
    }
  }

  async function ctrlAltDel() {
    const ok = await confirmDialog({ title: 'Send Ctrl+Alt+Del?', message: `The key combination is sent to VM ${guest.vmid}; many systems reboot on it.`, confirmLabel: 'Send' });
    if (ok && rfb) rfb.sendCtrlAltDel();
  }

  connect();
  return () => drop();
});
