// VM → Console: the VM's screen through noVNC. POST …/vncproxy (websocket=1)
// opens a VNC proxy and answers {port, ticket}; the browser then connects a
// WebSocket to …/vncwebsocket?port=…&vncticket=… (the session cookie
// authenticates it) and noVNC speaks RFB over it, with the ticket as the VNC
// password. noVNC comes from the server at /novnc/ (Debian's novnc package).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { guestBase, guestView } from '../guests.js';
import { consoleFrame, websocketUrl } from './console-frame.js';

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

export const mountQemuConsole = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const screen = h('div', { class: 'vnc-screen', dataset: { state: 'idle' }, 'aria-label': `Screen of VM ${guest.vmid}`, role: 'application' });
  const cadBtn = h('button', { type: 'button', class: 'btn', disabled: true, onclick: ctrlAltDel }, icon('keyboard'), 'Ctrl+Alt+Del');
  const fullBtn = h('button', { type: 'button', class: 'btn', onclick: () => screen.requestFullscreen?.().catch(() => {}) }, icon('fullscreen'), 'Full screen');
  let rfb = null;

  const { err, setState, connect } = consoleFrame(panel, guest, signal, {
    screen, what: 'VM', actions: [cadBtn, fullBtn], actionsAttrs: { role: 'toolbar', 'aria-label': 'Console' },
    onState: (state) => { cadBtn.disabled = state !== 'connected'; },
    drop, attach,
  });

  function drop() {
    if (!rfb) return;
    const r = rfb;
    rfb = null;
    try { r.disconnect(); } catch { /* already closed */ }
  }

  async function attach() {
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
  }

  async function ctrlAltDel() {
    const ok = await confirmDialog({ title: 'Send Ctrl+Alt+Del?', message: `The key combination is sent to VM ${guest.vmid}; many systems reboot on it.`, confirmLabel: 'Send' });
    if (ok && rfb) rfb.sendCtrlAltDel();
  }

  connect();
  return () => drop();
});
