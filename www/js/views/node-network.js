// Node → Network: the node's interfaces as its configuration has them, changes not applied yet included
// (GET /nodes/{node}/network: iface, type, active, autostart, cidr, gateway, cidr6, gateway6, bridge_ports,
// slaves, comments, …). Create (a Linux bridge, bond or VLAN), Edit (network-dialog.js) and Remove
// (DELETE /nodes/{node}/network/{iface}) change the pending configuration only; how it differs from the
// running one (GET …/network/changes, beyond PVE: {diff, rollback-at}) shows under "Pending changes".
// Apply (PUT …/network, a task) puts it in place; Revert (DELETE …/network) drops it. Apply with confirm
// (beyond PVE: POST …/network/trial with a timeout, a task) applies it on trial: the banner of
// network-trial.js counts down to the rollback unless Keep these settings is pressed in time.

import { api, errorText, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { field } from '../form.js';
import { errorSlot, menuButton } from '../ui.js';
import { taskFeedback } from '../taskrun.js';
import { rowButton } from './access-common.js';
import { listTable, plural } from './list-view.js';
import { EDITABLE, TYPE_NAMES, networkDialog } from './network-dialog.js';
import { trialBanner } from './network-trial.js';

const CREATE = [['bridge', 'Linux Bridge'], ['bond', 'Linux Bond'], ['vlan', 'Linux VLAN']];
const TRIAL_SECONDS = 60;

/** A row button (its text hides at phone width) that tests find by data-action. */
function rowAction(action, label, iconName, onclick, ariaLabel) {
  const b = rowButton(label, iconName, onclick, ariaLabel);
  b.dataset.action = action;
  return b;
}

const yes = (v) => (Number(v) === 1 || v === true ? 'Yes' : 'No');
const str = (v) => (v === undefined || v === null ? '' : String(v).trim());

/** One line of a unified diff, coloured by what it says. */
export function diffLine(line) {
  const cls = line.startsWith('+++') || line.startsWith('---') ? 'diff-file'
    : line.startsWith('+') ? 'diff-add' : line.startsWith('-') ? 'diff-del' : line.startsWith('@@') ? 'diff-hunk' : null;
  return h('span', { class: cls }, `${line}\n`);
}

export function mountNodeNetwork(panel, { node }) {
  const base = `/nodes/${seg(node)}/network`;
  const ctrl = new AbortController();
  const { signal } = ctrl;
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const err = errorSlot(`Could not load the network configuration of ${node}`);
  const changesErr = errorSlot('Could not read the pending changes');
  const actionErr = errorSlot();
  const feedback = taskFeedback({ signal });
  const button = (action, label, iconName, onclick, primary = false) => h('button', {
    type: 'button', class: `btn${primary ? ' btn-primary' : ''}`, dataset: { action }, onclick,
  }, icon(iconName), label);
  const revertBtn = button('revert', 'Revert', 'undo', () => revert());
  const applyBtn = button('apply', 'Apply', 'check', () => apply());
  const trialBtn = button('trial', 'Apply with confirm', 'reboot', () => trial());
  const create = menuButton({
    label: 'Create', iconName: 'plus', primary: true, data: { action: 'create' },
    items: CREATE.map(([type, label]) => ({ label, data: { type }, onSelect: () => edit(type, null) })),
  });
  const banner = trialBanner({ confirmPath: `${base}/confirm`, signal, feedback, onEnd: () => refresh() });
  const table = listTable(`Network interfaces of node ${node}`, ['Name', 'Type', 'Active', 'Autostart',
    'Ports/Slaves', 'Addresses', 'Gateways', { label: 'Comment', optional: true },
    { label: 'Actions', actions: true }], { className: 'net-grid' });
  const diff = h('pre', { class: 'log net-diff', tabindex: 0, 'aria-label': 'Pending changes as a unified diff', dataset: { role: 'network-diff' } });
  const pending = h('section', { class: 'card card-flush net-pending', hidden: true, 'aria-label': 'Pending changes' },
    h('h2', { class: 'card-title' }, 'Pending changes'), diff);
  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, count,
      h('div', { class: 'actions' }, create, revertBtn, applyBtn, trialBtn, button('reload', 'Reload', 'refresh', () => refresh()))),
    feedback.el, banner.el, err.el, actionErr.el, changesErr.el, table.el, pending);

  let ifaces = [];
  let diffText = null; // null: not known
  let trialOn = false;
  let busy = false;

  function buttons() {
    const nothing = diffText === '';
    for (const b of [revertBtn, applyBtn, trialBtn]) b.disabled = busy || trialOn || nothing;
  }

  function row(i) {
    const type = str(i.type);
    const editable = EDITABLE.has(type);
    const ports = str(i.bridge_ports) || str(i.slaves) || str(i['vlan-raw-device']);
    // IPv4 over IPv6, one per line
    const note = (t) => (t ? h('span', { class: 'muted small net-note' }, t) : null);
    const lines = (...vs) => vs.filter(Boolean).map((v) => h('span', { class: 'net-line' }, v));
    return h('tr', { dataset: { iface: i.iface, type }, ondblclick: (ev) => { if (editable && !ev.target.closest('button')) edit(type, i); } },
      h('th', { scope: 'row', class: 'mono' }, i.iface),
      h('td', { class: 'nowrap' }, TYPE_NAMES[type] || type || '–'),
      h('td', null, yes(i.active)),
      h('td', null, yes(i.autostart)),
      h('td', { class: 'mono' }, ports, note(i.bond_mode ? ` (${i.bond_mode})` : ''),
        note(type === 'bridge' && yes(i.bridge_vlan_aware) === 'Yes' ? `${ports ? ' · ' : ''}VLAN aware` : '')),
      h('td', { class: 'mono' }, lines(str(i.cidr), str(i.cidr6))),
      h('td', { class: 'mono' }, lines(str(i.gateway), str(i.gateway6))),
      h('td', { class: 'optional desc-cell' }, str(i.comments)),
      h('td', { class: 'row-actions' },
        editable ? rowAction('edit', 'Edit', 'edit', () => edit(type, i), `Edit ${i.iface}`) : null,
        type !== 'eth' && type !== 'loopback' ? rowAction('remove', 'Remove', 'trash', () => remove(i), `Remove ${i.iface}`) : null));
  }

  async function loadList() {
    try {
      const answer = await api(base, { signal });
      ifaces = (Array.isArray(answer) ? answer : []).filter((i) => i && i.iface)
        .sort((a, b) => String(a.iface).localeCompare(String(b.iface), undefined, { numeric: true }));
      table.fill(ifaces.map(row), 'No network interfaces.');
      setText(count, plural(ifaces.length, 'interface'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  /** The pending changes and a trial's rollback time; resolves to rollback-at (0: no trial). */
  async function loadChanges() {
    try {
      const c = (await api(`${base}/changes`, { signal })) || {};
      diffText = typeof c.diff === 'string' ? c.diff : '';
      const lines = diffText.replace(/\n$/, '');
      diff.replaceChildren(...(lines ? lines.split('\n').map(diffLine) : []));
      pending.hidden = !lines;
      const at = Number(c['rollback-at']) || 0;
      trialOn = at > 0;
      banner.show(at);
      changesErr.set(null);
      return at;
    } catch (e) {
      if (e.name === 'AbortError') return 0;
      diffText = null;
      trialOn = false;
      changesErr.set(e);
      return 0;
    } finally {
      buttons();
    }
  }

  async function refresh() {
    await Promise.all([loadList(), loadChanges()]);
  }

  /** Run a change of the whole configuration (Apply, Revert) in the feedback line, then read everything again. */
  async function run(label, fn) {
    busy = true;
    buttons();
    actionErr.set(null);
    banner.hide();
    try {
      await feedback.run(label, fn);
    } catch (e) {
      console.debug(`${label}:`, e);
    } finally {
      busy = false;
    }
    if (!signal.aborted) await refresh();
  }

  const apply = () => run('Apply the network changes', () => api(base, { method: 'PUT', signal }));

  async function revert() {
    const ok = await confirmDialog({
      title: 'Revert the pending network changes?', confirmLabel: 'Revert', danger: true,
      message: `The changes not applied yet are dropped; node ${node} keeps the settings it runs with.`,
    });
    if (ok) run('Revert the network changes', () => api(base, { method: 'DELETE', signal }));
  }

  async function trial() {
    const timeout = field({ label: 'Roll back after (seconds)', name: 'timeout', type: 'number', min: 10, max: 3600, step: 1,
      value: TRIAL_SECONDS, required: true, hint: 'Time to check that the node is still reachable and to keep the new settings.' });
    let upid = null;
    let localDeadline = 0;
    const ok = await formDialog({
      title: 'Apply with confirm', fields: [timeout], submitLabel: 'Apply',
      intro: 'The pending changes are applied now. Unless you keep them in time — which needs a connection that still works — '
        + 'the node goes back to the settings it runs with now, by itself.',
      onSubmit: async () => {
        upid = await api(`${base}/trial`, { method: 'POST', body: { timeout: timeout.get() } });
        localDeadline = Date.now() / 1000 + Number(timeout.get());
      },
    });
    if (!ok) return;
    actionErr.set(null);
    banner.hide();
    // The task may last as long as the trial: the banner does not wait for it.
    feedback.run('Apply with confirm', async () => upid).catch((e) => console.debug('network trial:', e))
      .finally(() => { if (!signal.aborted) refresh(); });
    for (let i = 0; i < 10 && !signal.aborted; i++) {
      const at = await peekRollback();
      if (at) {
        banner.started(at, localDeadline);
        break;
      }
      await new Promise((resolve) => { setTimeout(resolve, 1000); });
    }
    await refresh();
  }

  /** rollback-at as the server has it now (0 when not known or no trial). */
  async function peekRollback() {
    try {
      const c = (await api(`${base}/changes`, { signal })) || {};
      return Number(c['rollback-at']) || 0;
    } catch {
      return 0;
    }
  }

  async function edit(type, i) {
    actionErr.set(null);
    if (await networkDialog(node, type, i, ifaces)) refresh();
  }

  async function remove(i) {
    const ok = await confirmDialog({
      title: `Remove ${i.iface}?`, confirmLabel: 'Remove', danger: true,
      message: `${TYPE_NAMES[i.type] || 'Interface'} ${i.iface} is removed from the pending configuration`
        + `${Number(i.active) ? '; it keeps running until the changes are applied' : ''}.`,
    });
    if (!ok) return;
    try {
      await api(`${base}/${seg(i.iface)}`, { method: 'DELETE', signal });
      actionErr.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      actionErr.set(new Error(`Could not remove ${i.iface}: ${errorText(e)}`));
    }
    refresh();
  }

  buttons();
  refresh();
  return () => ctrl.abort();
}
