// What the VM console (noVNC) and the text consoles (js/term/) share: the status
// line, the Start and Reconnect buttons, task feedback and the error slot
// around the screen; the check that the guest runs before a console opens
// (offering to start it when it does not); and the URL of …/vncwebsocket.
// A node's shell has no guest (guest null): no check, no Start.

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { taskFeedback } from '../taskrun.js';
import { guestBase, guestNoun } from '../guests.js';

/** wss://host/api2/json/… for an API path, ws:// on plain HTTP. */
export function websocketUrl(path, params) {
  const qs = new URLSearchParams(params).toString();
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api2/json${path}?${qs}`;
}

/**
 * Builds the console's frame in `panel` around `screen`; returns {err, setState, connect}.
 * - what: the guest as the texts name it ("VM", "container")
 * - actions: buttons after Start and Reconnect; actionsAttrs: attributes of their group
 * - onState(state): told of every state (idle, connecting, connected, stopped, disconnected, error)
 * - drop(): closes the console if one is open
 * - attach(): opens the console once the guest is known to run (async; a throw shows as the error)
 * connect() drops, checks the guest and attaches; the view calls it first and the buttons again.
 */
export function consoleFrame(panel, guest, signal, { screen, what, actions = [], actionsAttrs = {}, onState, drop, attach }) {
  const base = guest ? guestBase(guest) : null;
  const noun = guest ? guestNoun(guest.type) : '';
  const err = errorSlot('Console');
  const feedback = taskFeedback({ signal });
  const status = h('span', { class: 'console-status', role: 'status' }, 'Connecting…');
  const startBtn = h('button', { type: 'button', class: 'btn btn-primary', hidden: true, onclick: start }, icon('play'), `Start ${what}`);
  const reconnectBtn = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => connect() }, icon('refresh'), 'Reconnect');

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, status,
      h('div', { class: 'actions', ...actionsAttrs }, startBtn, reconnectBtn, ...actions)),
    feedback.el, err.el, screen);

  function setState(state, text) {
    screen.dataset.state = state;
    setText(status, text);
    reconnectBtn.hidden = state !== 'disconnected' && state !== 'error';
    onState?.(state);
  }

  async function connect() {
    drop();
    err.set(null);
    startBtn.hidden = true;
    setState('connecting', `Checking the ${what}…`);
    try {
      const st = guest ? await api(`${base}/status/current`, { signal }) : { status: 'running' };
      if (st.status !== 'running') {
        setState('stopped', `${noun} ${guest.vmid} is not running.`);
        startBtn.hidden = false;
        return;
      }
      await attach();
    } catch (e) {
      if (e.name === 'AbortError') return;
      setState('error', 'Not connected');
      err.set(e);
    }
  }

  async function start() {
    startBtn.disabled = true;
    try {
      await feedback.run(`Start ${noun} ${guest.vmid}`, () => api(`${base}/status/start`, { method: 'POST', signal }));
      await connect();
    } catch (e) {
      console.debug('start failed:', e);
    } finally {
      startBtn.disabled = false;
    }
  }

  return { err, setState, connect };
}
