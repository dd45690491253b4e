// Node → System → Services: corrald and the system services it relies on
// (GET …/services), with Start, Stop and Restart (POST
// …/services/{service}/start|stop|restart), which run as tasks: the feedback
// line follows each to its end, then the list is read again.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { rowButton } from './access-common.js';
import { mountList, plural } from './list-view.js';

const ACTIONS = [['start', 'Start', 'play'], ['stop', 'Stop', 'stop'], ['restart', 'Restart', 'reboot']];

/** "running (active)", "dead (inactive)", "unknown". */
function stateText(s) {
  const sub = s.state || 'unknown';
  const active = s['active-state'];
  return active && active !== sub ? `${sub} (${active})` : sub;
}

export function mountNodeServices(panel, { node }) {
  const base = `/nodes/${seg(node)}/services`;
  let busy = false;
  const view = mountList(panel, {
    path: base, what: `services of ${node}`, caption: `Services of node ${node}`,
    columns: ['Service', { label: 'Description', optional: true }, 'State', { label: 'Unit', optional: true }, { label: 'Actions', actions: true }],
    empty: 'This node reports no services.',
    count: (n) => plural(n, 'service'),
    rows: (list) => (Array.isArray(list) ? list : []).filter((s) => s && s.service)
      .sort((a, b) => a.service.localeCompare(b.service)).map(row),
  });

  function row(s) {
    const active = s['active-state'];
    const known = active === 'active' || active === 'inactive' || active === 'failed';
    const missing = s['unit-state'] === 'not-found';
    const allowed = { start: !missing && (!known || active !== 'active'), stop: !missing && (!known || active === 'active'), restart: !missing };
    return h('tr', { dataset: { service: s.service }, class: active === 'failed' ? 'is-failed' : null },
      h('th', { scope: 'row' }, s.name || s.service),
      h('td', { class: 'optional' }, s.desc || ''),
      h('td', { class: 'nowrap' }, stateText(s)),
      h('td', { class: 'optional' }, s['unit-state'] || '–'),
      h('td', { class: 'row-actions' }, ACTIONS.map(([id, label, ic]) => {
        const b = rowButton(label, ic, () => act(s.service, id, label), `${label} ${s.service}`);
        b.dataset.action = id;
        b.disabled = busy || !allowed[id];
        return b;
      })));
  }

  async function act(service, id, label) {
    if (id === 'stop') {
      const ok = await confirmDialog({
        title: `Stop ${service}?`, confirmLabel: 'Stop', danger: true,
        message: service === 'corrald'
          ? 'corrald serves this console and the API: once it stops, the node answers no more until it is started on the node itself.'
          : `The service ${service} stops until it is started again (or the node reboots).`,
      });
      if (!ok) return;
    }
    busy = true;
    for (const b of panel.querySelectorAll('.row-actions button')) b.disabled = true;
    try {
      await view.feedback.run(`${label} ${service}`, () => api(`${base}/${seg(service)}/${id}`, { method: 'POST', signal: view.signal }));
    } catch (e) {
      console.debug(`${id} ${service}:`, e);
    } finally {
      busy = false;
      if (!view.signal.aborted) view.refresh();
    }
  }

  return view.cleanup;
}
