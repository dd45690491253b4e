// Node → System: the node's resolver (GET/PUT …/dns), hosts file (GET/POST
// …/hosts, guarded by its digest), time zone (GET/PUT …/time), system log
// (node-syslog.js) and services (node-services.js), as sub-tabs.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { field, rule } from '../form.js';
import { formDialog } from '../dialog.js';
import { taskFeedback } from '../taskrun.js';
import { DNS_NAME } from '../wizard.js';
import { configTable, renderRows } from './config-grid.js';
import { card, fact } from './summary-parts.js';
import { mountSubTabs } from './subtabs.js';
import { mountNodeSyslog } from './node-syslog.js';
import { mountNodeServices } from './node-services.js';

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;

export const mountNodeSystem = (panel, route) => mountSubTabs(panel, route, 'System views', [
  { id: 'dns', label: 'DNS', mount: mountDns },
  { id: 'hosts', label: 'Hosts', mount: mountHosts },
  { id: 'time', label: 'Time', mount: mountTime },
  { id: 'syslog', label: 'Syslog', mount: mountNodeSyslog },
  { id: 'services', label: 'Services', mount: mountNodeServices },
]);

/** Toolbar with a note and buttons (Reload last), the feedback line and the error slot. */
function frame(panel, { note, buttons = [], reload, err, feedback }) {
  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, h('p', { class: 'muted small' }, note),
      h('div', { class: 'actions' }, ...buttons,
        h('button', { type: 'button', class: 'btn', dataset: { action: 'reload' }, onclick: reload }, icon('refresh'), 'Reload'))),
    feedback.el, err.el);
}

// --- DNS -------------------------------------------------------------------------------

function mountDns(panel, { node }) {
  const path = `/nodes/${seg(node)}/dns`;
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the DNS settings of ${node}`);
  const feedback = taskFeedback({ signal: ctrl.signal });
  const tbody = h('tbody');
  let dns = null;
  frame(panel, { note: 'The resolver of the node (its resolv.conf): search domain and up to three name servers.', reload: () => refresh(), err, feedback });
  panel.append(configTable(`DNS of node ${node}`, ['Setting', 'Value'], tbody));

  async function refresh() {
    try {
      dns = (await api(path, { signal: ctrl.signal })) || {};
      renderRows(tbody, [
        { key: 'search', label: 'Search domain', value: dns.search || 'none', edit },
        ...['dns1', 'dns2', 'dns3'].map((k, i) => ({ key: k, label: `DNS server ${i + 1}`, value: dns[k] || 'none', edit })),
      ], new Map());
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  function edit() {
    const search = field({ label: 'Search domain', name: 'search', value: dns.search || '', required: true, pattern: `(${DNS_NAME.slice(1, -1)})( (${DNS_NAME.slice(1, -1)}))*` });
    const servers = ['dns1', 'dns2', 'dns3'].map((k, i) => rule(
      field({ label: `DNS server ${i + 1}`, name: k, value: dns[k] || '', placeholder: i ? '' : '192.0.2.53' }),
      (v) => (IP.test(v) ? null : 'An IPv4 or IPv6 address.')));
    return formDialog({
      title: 'Edit: DNS', fields: [search, ...servers], submitLabel: 'Save',
      onSubmit: async () => {
        const body = { search: search.get() };
        for (const f of servers) if (f.get()) body[f.name] = f.get(); // a server left out is removed
        await api(path, { method: 'PUT', body });
        await refresh();
      },
    });
  }

  refresh();
  return () => ctrl.abort();
}

// --- hosts -----------------------------------------------------------------------------

function mountHosts(panel, { node }) {
  const path = `/nodes/${seg(node)}/hosts`;
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the hosts file of ${node}`);
  const feedback = taskFeedback({ signal: ctrl.signal });
  const text = field({ label: '/etc/hosts', name: 'data', type: 'textarea', rows: 16, wide: true, disabled: true });
  const saveBtn = h('button', { type: 'button', class: 'btn btn-primary', disabled: true, dataset: { action: 'save' }, onclick: save }, icon('check'), 'Save');
  const revertBtn = h('button', { type: 'button', class: 'btn', disabled: true, dataset: { action: 'revert' }, onclick: () => show() }, icon('undo'), 'Revert');
  let loaded = null; // {data, digest}
  frame(panel, { note: 'Names the node resolves itself. Saving replaces the whole file.', buttons: [revertBtn, saveBtn], reload: () => refresh(), err, feedback });
  panel.append(h('section', { class: 'card hosts-card' }, text.el));
  const changed = () => loaded !== null && text.input.value !== loaded.data;
  text.input.addEventListener('input', () => { saveBtn.disabled = revertBtn.disabled = !changed(); });

  function show() {
    text.set(loaded.data);
    text.input.disabled = false;
    saveBtn.disabled = revertBtn.disabled = true;
  }

  async function refresh() {
    try {
      const res = await api(path, { signal: ctrl.signal });
      loaded = { data: res?.data ?? '', digest: res?.digest };
      show();
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  async function save() {
    saveBtn.disabled = true;
    try {
      await feedback.run('Save the hosts file', () => api(path, { method: 'POST', body: { data: text.input.value, digest: loaded.digest } }));
      await refresh();
    } catch (e) {
      console.debug('hosts:', e);
      saveBtn.disabled = !changed();
    }
  }

  refresh();
  return () => ctrl.abort();
}

// --- time ------------------------------------------------------------------------------

/** Epoch seconds shown as UTC: "2026-05-01 13:04:05" (`localtime` is already shifted into the node's zone). */
const wallClock = (epoch) => (Number(epoch) ? new Date(Number(epoch) * 1000).toISOString().replace('T', ' ').slice(0, 19) : '–');

/** The zones this browser knows (no download), for suggestions only: the node decides. */
function zoneList() {
  try { return ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')]; } catch { return ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo']; }
}

function mountTime(panel, { node }) {
  const path = `/nodes/${seg(node)}/time`;
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the time of ${node}`);
  const feedback = taskFeedback({ signal: ctrl.signal });
  const editBtn = h('button', { type: 'button', class: 'btn', disabled: true, dataset: { action: 'edit' }, onclick: edit }, icon('edit'), 'Time zone');
  const [zoneRow, zoneDd] = fact('Time zone');
  const [localRow, localDd] = fact('Local time of the node');
  const [utcRow, utcDd] = fact('UTC');
  let time = null;
  frame(panel, { note: 'The node keeps its clock by NTP; here its time zone is set.', buttons: [editBtn], reload: () => refresh(), err, feedback });
  panel.append(h('div', { class: 'cards cards-fit' }, card('Time', h('dl', { class: 'facts facts-first time-facts' }, zoneRow, localRow, utcRow))));

  async function refresh() {
    try {
      time = (await api(path, { signal: ctrl.signal })) || {};
      setText(zoneDd, time.timezone || '–');
      setText(localDd, wallClock(time.localtime));
      setText(utcDd, wallClock(time.time));
      editBtn.disabled = false;
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  function edit() {
    const zone = field({ label: 'Time zone', name: 'timezone', value: time.timezone || '', required: true, list: zoneList(), hint: 'A zone of the tz database, e.g. Europe/Vienna.' });
    return formDialog({
      title: 'Edit: Time zone', fields: [zone], submitLabel: 'Save',
      onSubmit: async () => {
        await api(path, { method: 'PUT', body: { timezone: zone.get() } });
        await refresh();
      },
    });
  }

  refresh();
  return () => ctrl.abort();
}
