// VM → Console: the VM's screen through noVNC, or, for a VM with a serial
// port (serial0), its serial console in the browser's terminal (a choice
// above the screen; a VM whose display is the serial port starts there).
// noVNC: POST …/vncproxy (websocket=1)
// opens a VNC proxy and answers {port, ticket}; the browser then connects a
// WebSocket to …/vncwebsocket?port=…&vncticket=… (the session cookie
// authenticates it) and noVNC speaks RFB over it, with the ticket as the VNC
// password. noVNC comes from the server at /novnc/ (Debian's novnc package).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { nextId } from '../ui.js';
import { guestBase, guestView } from '../guests.js';
import { consoleFrame, websocketUrl } from './console-frame.js';
import { mountTermConsole } from './term-console.js';

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
  const host = h('div', { class: 'console-host' });
  let sub = null; // {ctrl, cleanup} of the console shown
  const show = (mode) => {
    if (sub) { sub.ctrl.abort(); sub.cleanup?.(); }
    host.replaceChildren();
    const ctrl = new AbortController();
    signal.addEventListener('abort', () => ctrl.abort(), { once: true });
    const cleanup = mode === 'serial'
      ? mountTermConsole(host, guest, ctrl.signal, { what: 'VM', proxyBody: { serial: 'serial0' }, label: `Serial console of VM ${guest.vmid}` })
      : mountVnc(host, guest, ctrl.signal);
    sub = { ctrl, cleanup };
  };
  panel.append(host);
  (async () => {
    let config = {};
    try {
      config = await api(`${guestBase(guest)}/config`, { signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      console.debug('console: config', e);
    }
    if (signal.aborted) return;
    const serial = config && config.serial0 !== undefined;
    if (serial) host.before(modeSwitch(config.vga === 'serial0' ? 'serial' : 'vnc', show));
    show(serial && config.vga === 'serial0' ? 'serial' : 'vnc');
  })();
  return () => { if (sub) { sub.ctrl.abort(); sub.cleanup?.(); } };
});

/** Radio buttons: the graphical console (noVNC) or the serial terminal. */
function modeSwitch(initial, onChange) {
  const name = nextId('console-mode');
  const opt = (value, label) => {
    const id = `${name}-${value}`;
    return h('label', { class: 'check', for: id },
      h('input', { type: 'radio', id, name, value, checked: value === initial, onchange: () => onChange(value) }), ' ', label);
  };
  return h('fieldset', { class: 'console-mode' },
    h('legend', { class: 'sr-only' }, 'Console type'),
    opt('vnc', 'Display (noVNC)'), opt('serial', 'Serial terminal (serial0)'));
}

function mountVnc(panel, guest, signal) {
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
}
