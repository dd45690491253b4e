// What the firewall views share: the scopes a firewall lives in (the datacenter, a node, a guest, a
// security group) with their API paths, the lists the rule dialogs offer (macros, security groups,
// aliases and IP sets), the log levels, a toolbar and a table of named things one of which is picked
// (security groups, IP sets).

import { api, seg } from '../api.js';
import { h, icon } from '../dom.js';
import { guestBase, guestNoun } from '../guests.js';
import { nextId } from '../ui.js';
import { rowButton } from './access-common.js';
import { listTable } from './list-view.js';

export const LOG_LEVELS = ['nolog', 'emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
export const ACTIONS = ['ACCEPT', 'DROP', 'REJECT'];
/** Names of security groups, IP sets and aliases, as PVE checks them. */
export const NAME_PATTERN = '[A-Za-z][A-Za-z0-9_\\-]+';

/*
 * A scope: {kind, base, rules, label, refs, forward, changed}. `base` is the firewall's path, `rules` the
 * list of its rules (a security group's rules are the group's path itself), `label` names it in a
 * sentence ("node pve1"), `refs` lists the aliases and IP sets its rules may name (a node and a security
 * group use the datacenter's), `forward` says whether its rules may be FORWARD rules, `changed` is told
 * when the options changed (the notice about a firewall switched off reads them again).
 */

export function clusterScope(changed) {
  const base = '/cluster/firewall';
  return { kind: 'cluster', base, rules: `${base}/rules`, label: 'the datacenter', refs: `${base}/refs`, forward: true, changed };
}

export function nodeScope(node, changed) {
  const base = `/nodes/${seg(node)}/firewall`;
  return { kind: 'node', node, base, rules: `${base}/rules`, label: `node ${node}`, refs: '/cluster/firewall/refs', forward: true, changed };
}

export function guestScope(guest, changed) {
  const base = `${guestBase(guest)}/firewall`;
  return {
    kind: guest.type, node: guest.node, vmid: guest.vmid, base, rules: `${base}/rules`,
    label: `${guestNoun(guest.type)} ${guest.vmid}`, refs: `${base}/refs`, forward: false, changed,
  };
}

/** An SDN vnet's firewall (/cluster/sdn/vnets/{vnet}/firewall): forward rules only, and its options. */
export function vnetScope(vnet, changed) {
  const base = `/cluster/sdn/vnets/${seg(vnet)}/firewall`;
  return { kind: 'vnet', vnet, base, rules: `${base}/rules`, label: `vnet ${vnet}`, refs: '/cluster/firewall/refs', forward: true, changed };
}

/** The rules of a security group: GET/POST /cluster/firewall/groups/{group}, PUT/DELETE …/{pos}. */
export function groupScope(group) {
  const base = `/cluster/firewall/groups/${seg(group)}`;
  return { kind: 'group', group, base, rules: base, label: `security group ${group}`, refs: '/cluster/firewall/refs', forward: true };
}

export const isGuestScope = (scope) => scope.kind === 'qemu' || scope.kind === 'lxc';

const asList = (v) => (Array.isArray(v) ? v : []);

let macros = null; // the macros do not change while the console runs: asked for once
/** GET /cluster/firewall/macros, sorted: [{macro, descr}]. */
export function loadMacros() {
  macros ??= api('/cluster/firewall/macros').then((list) => asList(list).filter((m) => m && m.macro)
    .sort((a, b) => String(a.macro).localeCompare(String(b.macro))))
    .catch((e) => { macros = null; throw e; });
  return macros;
}

/** GET /cluster/firewall/groups, sorted: [{group, comment, digest}]. */
export async function loadGroups(signal) {
  return asList(await api('/cluster/firewall/groups', { signal })).filter((g) => g && g.group)
    .sort((a, b) => String(a.group).localeCompare(String(b.group)));
}

/** The aliases and IP sets a rule of the scope may name: [{type, name, ref, scope, comment}]. */
export async function loadRefs(scope, signal) {
  return asList(await api(scope.refs, { signal })).filter((r) => r && r.ref)
    .sort((a, b) => String(a.ref).localeCompare(String(b.ref)));
}

/** A value as a dialog compares it: '' for "not set". */
export const text = (v) => (v === undefined || v === null ? '' : String(v));

/** A toolbar button that tests and styles find by data-action. */
export function actionButton(action, label, iconName, onclick, primary = false) {
  return h('button', { type: 'button', class: `btn${primary ? ' btn-primary' : ''}`, dataset: { action }, onclick }, icon(iconName), label);
}

/** The toolbar above a list: a count (or note), buttons, Reload last. */
export function toolbar(counter, buttons, reload) {
  return h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, counter,
    h('div', { class: 'actions' }, ...buttons, actionButton('reload', 'Reload', 'refresh', reload)));
}

/** The count line of a toolbar. */
export const counter = () => h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');

/** An AbortController that also aborts with `signal` (a detail view inside a view). */
export function childController(signal) {
  const ctl = new AbortController();
  if (signal.aborted) ctl.abort(); else signal.addEventListener('abort', () => ctl.abort(), { once: true });
  return ctl;
}

/**
 * A table of named things (security groups, IP sets, aliases, IP set entries) with Edit and Remove on each row
 * (a double-click edits too). With onPick, one row is picked — a radio button per row; a click on the row picks
 * it, Enter on its radio button edits it — and onPick(item | null) is told when that changes.
 * pickList(parent, {caption, noun, attr, keyOf, columns, cells(item) → [td], edit, remove, onPick, empty})
 * → {show(items), picked()}. Rows carry data-<attr>="<key>".
 */
export function pickList(parent, { caption, noun, attr, keyOf, columns, cells, edit, remove, onPick = null, empty }) {
  const group = nextId('fw-pick');
  const table = listTable(caption, [...columns, { label: 'Actions', actions: true }]);
  parent.append(table.el);
  let items = [];
  let picked = null;
  const current = () => items.find((x) => keyOf(x) === picked) || null;

  function mark() {
    for (const tr of table.tbody.rows) {
      const on = picked !== null && tr.dataset[attr] === picked;
      tr.classList.toggle('is-picked', on);
      const radio = tr.querySelector('input[type=radio]');
      if (radio) radio.checked = on;
    }
  }

  function pick(key) {
    const next = items.some((x) => keyOf(x) === key) ? key : null;
    const moved = next !== picked;
    picked = next;
    mark();
    if (moved && onPick) onPick(current());
  }

  function row(item) {
    const key = keyOf(item);
    let first = h('span', { class: 'mono' }, key);
    if (onPick) {
      const radio = h('input', { type: 'radio', name: group, value: key });
      radio.addEventListener('change', () => pick(key));
      radio.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); pick(key); edit(item); } });
      first = h('label', { class: 'row-pick' }, radio, first);
    }
    return h('tr', {
      dataset: { [attr]: key },
      onclick: (ev) => { if (onPick && !ev.target.closest('button, input, label')) pick(key); },
      ondblclick: (ev) => { if (!ev.target.closest('button')) edit(item); },
    },
    h('th', { scope: 'row' }, first),
    cells(item),
    h('td', { class: 'row-actions' },
      rowAction('edit', 'Edit', 'edit', () => edit(item), `Edit ${noun} ${key}`),
      rowAction('remove', 'Remove', 'trash', () => remove(item), `Remove ${noun} ${key}`)));
  }

  return {
    /** Put the items in; the pick stays on its item, else goes to the first (onPick is told). */
    show(list) {
      items = list;
      table.fill(list.map(row), empty);
      if (!onPick) return;
      if (current()) mark(); else pick(items.length ? keyOf(items[0]) : null);
    },
    pick,
    picked: current,
  };
}

/** A row button (its text hides at phone width) that tests find by data-action. */
export function rowAction(action, label, iconName, onclick, ariaLabel) {
  const b = rowButton(label, iconName, onclick, ariaLabel);
  b.dataset.action = action;
  return b;
}
