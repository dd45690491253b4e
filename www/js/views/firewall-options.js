// Firewall → Options: the options of the datacenter's, a node's or a guest's firewall (GET {base}/options)
// as a table of name and value — a value not set shows its default — each edited alone through PUT
// {base}/options with the digest it was read with; "Default" removes the option (`delete`).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { formDialog } from '../dialog.js';
import { field } from '../form.js';
import { errorSlot } from '../ui.js';
import { configTable, renderRows } from './config-grid.js';
import { LOG_LEVELS, isGuestScope, text } from './firewall-parts.js';

const POLICIES = ['ACCEPT', 'REJECT', 'DROP'];

/* [key, label, kind, default, hint]: kind is 'flag' (1/0), 'log' (a log level), 'int', 'text' or a list of values. */
const CLUSTER = [
  ['enable', 'Firewall', 'flag', '0', 'Off: no rule of the datacenter, a node or a guest is applied anywhere.'],
  ['policy_in', 'Input policy', POLICIES, 'DROP', 'What happens to incoming traffic no rule decides on.'],
  ['policy_out', 'Output policy', POLICIES, 'ACCEPT', 'What happens to outgoing traffic no rule decides on.'],
  ['policy_forward', 'Forward policy', ['ACCEPT', 'DROP'], 'ACCEPT', 'What happens to forwarded traffic no rule decides on.'],
  ['ebtables', 'ebtables', 'flag', '1'],
  ['log_ratelimit', 'Log rate limit', 'text', 'enable=1,rate=1/second,burst=5', 'enable=0|1, rate=N/second|minute|hour|day, burst=N.'],
];
const NODE = [
  ['enable', 'Firewall', 'flag', '1', 'Off: this node\'s own rules and the datacenter\'s are not applied on it.'],
  ['log_level_in', 'Log level (incoming)', 'log', 'nolog'],
  ['log_level_out', 'Log level (outgoing)', 'log', 'nolog'],
  ['log_level_forward', 'Log level (forwarded)', 'log', 'nolog'],
  ['tcpflags', 'TCP flags filter', 'flag', '0', 'Drops packets with illegal combinations of TCP flags.'],
  ['nosmurfs', 'SMURFS filter', 'flag', '1'],
  ['smurf_log_level', 'SMURFS log level', 'log', 'nolog'],
  ['tcp_flags_log_level', 'TCP flags log level', 'log', 'nolog'],
  ['nf_conntrack_max', 'Connection tracking: maximum entries', 'int', '262144'],
  ['nf_conntrack_allow_invalid', 'Connection tracking: allow invalid packets', 'flag', '0'],
  ['ndp', 'NDP', 'flag', '1', 'Neighbour discovery (IPv6).'],
  ['protection_synflood', 'SYN flood protection', 'flag', '0'],
];
const GUEST = [
  ['enable', 'Firewall', 'flag', '0', 'Applies to the network devices with the firewall option set.'],
  ['dhcp', 'DHCP', 'flag', '0', 'Lets DHCP through.'],
  ['ipfilter', 'IP filter', 'flag', '0', 'Only the addresses of the ipfilter-netN IP sets (and link-local ones) may be sent from.'],
  ['macfilter', 'MAC filter', 'flag', '1', 'Only the device\'s own MAC address may be sent from.'],
  ['ndp', 'NDP', 'flag', '1', 'Neighbour discovery (IPv6).'],
  ['radv', 'Router advertisement', 'flag', '0', 'Lets the guest send router advertisements.'],
  ['policy_in', 'Input policy', POLICIES, 'DROP'],
  ['policy_out', 'Output policy', POLICIES, 'ACCEPT'],
  ['log_level_in', 'Log level (incoming)', 'log', 'nolog'],
  ['log_level_out', 'Log level (outgoing)', 'log', 'nolog'],
];

const VNET = [
  ['enable', 'Firewall', 'flag', '0', 'Applies the forward rules to what crosses the vnet (with the datacenter\'s firewall on).'],
  ['policy_forward', 'Forward policy', ['ACCEPT', 'DROP'], 'ACCEPT', 'What happens to traffic across the vnet no rule decides on.'],
  ['log_level_forward', 'Log level (forwarded)', 'log', 'nolog'],
];

const optionsOf = (scope) => (scope.kind === 'cluster' ? CLUSTER : scope.kind === 'node' ? NODE : scope.kind === 'vnet' ? VNET : GUEST);
const flagText = (v) => (v === '1' ? 'Yes' : v === '0' ? 'No' : v);
const shown = (kind, v) => (kind === 'flag' ? flagText(v) : v);
/** A boolean as the API may answer it (1, "1", true) → '1' / '0'; other values as text. */
const normal = (kind, v) => (kind === 'flag' && v !== undefined && v !== null && v !== '' ? (Number(v) || v === true ? '1' : '0') : text(v));

export function mountFirewallOptions(panel, scope, signal) {
  const path = `${scope.base}/options`;
  const defs = optionsOf(scope);
  const err = errorSlot(`Could not load the firewall options of ${scope.label}`);
  const tbody = h('tbody');
  let options = null;
  const note = scope.kind === 'cluster' ? 'The firewall of the whole datacenter: nothing is filtered anywhere while it is off.'
    : scope.kind === 'vnet' ? `The firewall of ${scope.label}: forward rules for what crosses it.`
    : isGuestScope(scope) ? `The firewall of ${scope.label}.` : `The firewall of ${scope.label} itself (its guests have their own).`;
  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' }, h('p', { class: 'muted small' }, note),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', dataset: { action: 'reload' }, onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    err.el, configTable(`Firewall options of ${scope.label}`, ['Option', 'Value'], tbody));

  async function refresh() {
    try {
      options = (await api(path, { signal })) || {};
      renderRows(tbody, defs.map(([key, label, kind, dflt]) => {
        const v = normal(kind, options[key]);
        return { key, label, value: v === '' ? `${shown(kind, dflt)} (default)` : shown(kind, v), edit: () => edit(key) };
      }), new Map());
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  function edit(key) {
    const [, label, kind, dflt, hint] = defs.find((d) => d[0] === key);
    const now = normal(kind, options[key]);
    const dfltOption = ['', `Default (${shown(kind, dflt)})`];
    let f;
    if (kind === 'flag') f = field({ label, name: key, type: 'select', options: [dfltOption, ['1', 'Yes'], ['0', 'No']], value: now, hint });
    else if (kind === 'log') f = field({ label, name: key, type: 'select', options: [dfltOption, ...LOG_LEVELS], value: now, hint });
    else if (Array.isArray(kind)) f = field({ label, name: key, type: 'select', options: [dfltOption, ...kind], value: now, hint });
    else {
      f = field({ label, name: key, type: kind === 'int' ? 'number' : 'text', min: kind === 'int' ? 0 : undefined, value: now,
        placeholder: `Default: ${dflt}`, hint: hint ? `${hint} Empty: the default.` : 'Empty: the default.', wide: kind === 'text' });
    }
    return formDialog({
      title: `Edit: ${label}`, fields: [f], submitLabel: 'Save',
      onSubmit: async () => {
        const v = f.get();
        if (v === now) return;
        const body = v === '' ? { delete: key } : { [key]: v };
        if (options.digest) body.digest = options.digest;
        await api(path, { method: 'PUT', body });
        await refresh();
        scope.changed?.();
      },
    });
  }

  refresh();
  return null;
}
