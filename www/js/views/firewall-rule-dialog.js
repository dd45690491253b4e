// The dialogs of a firewall rule list (datacenter, node, guest or security group). A rule: direction,
// action, macro (GET /cluster/firewall/macros), interface, source and destination (the aliases and IP
// sets of GET {scope}/refs offered), protocol, ports, ICMP type, log level, comment, enabled. A security
// group put into a list is a rule of type `group` whose action is the group's name. Add is a POST to the
// list (the rule goes first, as in PVE); Edit is a PUT to {list}/{pos} with the digest the list was read
// with, sending only what changed — a value emptied goes into `delete`.

import { api } from '../api.js';
import { setText } from '../dom.js';
import { formDialog } from '../dialog.js';
import { editBody, field } from '../form.js';
import { ACTIONS, LOG_LEVELS, isGuestScope, loadGroups, loadMacros, loadRefs, text } from './firewall-parts.js';

const PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv6', 'ipv6-icmp', 'sctp', 'udplite', 'gre', 'esp', 'ah', 'igmp', 'ospf', 'vrrp'];
const ICMP_PROTOCOLS = new Set(['icmp', 'icmpv6', 'ipv6-icmp', '1', '58']);
const ICMP_TYPES = ['any', 'echo-request', 'echo-reply', 'destination-unreachable', 'time-exceeded', 'parameter-problem',
  'router-advertisement', 'router-solicitation', 'neighbour-solicitation', 'neighbour-advertisement'];
const MACRO_HINT = 'A named service: it brings its own protocol and ports.';

const DIRECTIONS = { in: 'In', out: 'Out', forward: 'Forward', group: 'Group' };
export const directionText = (type) => DIRECTIONS[type] || text(type);

/** Where the dialog's requests go: a new rule is POSTed to the list, an edit PUT to the rule. */
function save(scope, rule, want, before) {
  if (!rule) {
    const body = {};
    for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
    return api(scope.rules, { method: 'POST', body });
  }
  const body = editBody(before, want);
  if (!Object.keys(body).length) return null;
  if (rule.digest) body.digest = rule.digest;
  return api(`${scope.rules}/${Number(rule.pos)}`, { method: 'PUT', body });
}

/** The interfaces a guest's rules name (its network devices); other scopes take free text. */
const ifaceList = (scope) => (isGuestScope(scope) ? Array.from({ length: 10 }, (_, i) => `net${i}`) : []);

/** Add (rule null) or edit a rule. Resolves to true once saved. */
export function ruleDialog(scope, rule, { signal } = {}) {
  if (rule && rule.type === 'group') return groupRuleDialog(scope, rule, { signal });
  const r = rule || {};
  const str = (k) => text(r[k]);
  // a vnet's rules are forward rules only
  const directions = (scope.kind === 'vnet' ? ['forward'] : ['in', 'out', ...(scope.forward || r.type === 'forward' ? ['forward'] : [])])
    .map((d) => [d, DIRECTIONS[d]]);
  const type = field({ label: 'Direction', name: 'type', type: 'select', options: directions,
    value: str('type') || (scope.kind === 'vnet' ? 'forward' : 'in') });
  const action = field({ label: 'Action', name: 'action', type: 'select', options: ACTIONS, value: str('action') || 'ACCEPT' });
  const macro = field({ label: 'Macro', name: 'macro', type: 'select', options: [['', 'None'], ...(str('macro') ? [str('macro')] : [])],
    value: str('macro'), hint: MACRO_HINT });
  const iface = field({ label: 'Interface', name: 'iface', value: str('iface'), list: ifaceList(scope),
    placeholder: isGuestScope(scope) ? 'net0' : '', hint: 'Empty: any interface.' });
  const addrHint = 'An address, a network (CIDR), a range (a-b), an alias or an IP set (+name); empty: any.';
  const source = field({ label: 'Source', name: 'source', value: str('source'), list: [], hint: addrHint });
  const dest = field({ label: 'Destination', name: 'dest', value: str('dest'), list: [], hint: addrHint });
  const proto = field({ label: 'Protocol', name: 'proto', value: str('proto'), list: PROTOCOLS, hint: 'A name or number; empty: any.' });
  const dport = field({ label: 'Destination port', name: 'dport', value: str('dport'), hint: 'A port or service name, a range (a:b), or a list of them.' });
  const sport = field({ label: 'Source port', name: 'sport', value: str('sport') });
  const icmp = field({ label: 'ICMP type', name: 'icmp-type', value: str('icmp-type'), list: ICMP_TYPES, hint: 'For ICMP and ICMPv6 only.' });
  const log = field({ label: 'Log level', name: 'log', type: 'select', options: LOG_LEVELS, value: str('log') || 'nolog' });
  const enable = field({ label: 'Enabled', name: 'enable', type: 'checkbox', value: rule ? Number(r.enable ?? 0) === 1 : true });
  const comment = field({ label: 'Comment', name: 'comment', value: str('comment'), wide: true });

  // A macro brings protocol and ports; an ICMP type only goes with ICMP.
  const hint = macro.el.querySelector('.field-hint');
  let descriptions = new Map();
  const icmpOn = () => !macro.get() && ICMP_PROTOCOLS.has(proto.get().toLowerCase());
  function sync() {
    const m = macro.get();
    for (const f of [proto, dport, sport]) f.input.disabled = !!m;
    icmp.input.disabled = !icmpOn();
    setText(hint, (m && descriptions.get(m)) || MACRO_HINT);
  }
  macro.input.addEventListener('change', sync);
  proto.input.addEventListener('input', sync);
  proto.input.addEventListener('change', sync);
  sync();

  loadMacros().then((list) => {
    descriptions = new Map(list.map((m) => [m.macro, text(m.descr)]));
    const opts = [['', 'None'], ...list.map((m) => m.macro)];
    if (str('macro') && !descriptions.has(str('macro'))) opts.push(str('macro'));
    macro.setOptions(opts);
    sync();
  }).catch((e) => macro.setError(`Could not list the macros: ${e.message}`));
  loadRefs(scope, signal).then((refs) => {
    const refList = refs.map((x) => x.ref);
    source.setOptions(refList);
    dest.setOptions(refList);
  }).catch((e) => { if (e.name !== 'AbortError') console.debug('firewall refs:', e.message); });

  const wanted = () => ({
    type: type.get(),
    action: action.get(),
    macro: macro.get(),
    iface: iface.get(),
    source: source.get(),
    dest: dest.get(),
    proto: macro.get() ? '' : proto.get(),
    dport: macro.get() ? '' : dport.get(),
    sport: macro.get() ? '' : sport.get(),
    'icmp-type': icmpOn() ? icmp.get() : '',
    log: log.get() === 'nolog' ? '' : log.get(),
    enable: enable.get() ? '1' : '0',
    comment: comment.get(),
  });
  const before = { ...Object.fromEntries(Object.keys(wanted()).map((k) => [k, str(k)])), enable: Number(r.enable ?? 0) === 1 ? '1' : '0' };
  if (before.log === 'nolog') before.log = '';

  const fields = [type, action, macro, iface, source, dest, proto, dport, sport, icmp, log, enable, comment];
  return formDialog({
    title: rule ? `Edit rule ${rule.pos} of ${scope.label}` : `Add a rule to ${scope.label}`,
    className: 'dialog-wide fw-rule-dialog',
    fields,
    submitLabel: rule ? 'Save' : 'Add',
    onSubmit: () => save(scope, rule, wanted(), before),
  });
}

/** Insert (rule null) or edit a security group in a rule list. Resolves to true once saved. */
export function groupRuleDialog(scope, rule, { signal } = {}) {
  const r = rule || {};
  const str = (k) => text(r[k]);
  const group = field({ label: 'Security group', name: 'action', type: 'select', required: true,
    options: str('action') ? [str('action')] : [], value: str('action'), hint: 'Its rules are checked here, in its place.' });
  const iface = field({ label: 'Interface', name: 'iface', value: str('iface'), list: ifaceList(scope), hint: 'Empty: any interface.' });
  const enable = field({ label: 'Enabled', name: 'enable', type: 'checkbox', value: rule ? Number(r.enable ?? 0) === 1 : true });
  const comment = field({ label: 'Comment', name: 'comment', value: str('comment'), wide: true });
  const comments = new Map();
  const groupHint = group.el.querySelector('.field-hint');
  const showComment = () => setText(groupHint, comments.get(group.get()) || 'Its rules are checked here, in its place.');
  group.input.addEventListener('change', showComment);
  loadGroups(signal).then((list) => {
    for (const g of list) comments.set(g.group, text(g.comment));
    const names = list.map((g) => g.group);
    if (str('action') && !names.includes(str('action'))) names.push(str('action'));
    group.setOptions(names);
    if (!group.get() && names.length) group.set(names[0]);
    if (!names.length) group.setError('There is no security group yet: create one under Datacenter → Firewall → Security Groups.');
    showComment();
  }).catch((e) => { if (e.name !== 'AbortError') group.setError(`Could not list the security groups: ${e.message}`); });

  const wanted = () => ({ type: 'group', action: group.get(), iface: iface.get(), enable: enable.get() ? '1' : '0', comment: comment.get() });
  const before = { type: 'group', action: str('action'), iface: str('iface'), enable: Number(r.enable ?? 0) === 1 ? '1' : '0', comment: str('comment') };
  return formDialog({
    title: rule ? `Edit rule ${rule.pos} of ${scope.label}` : `Insert a security group into ${scope.label}`,
    className: 'fw-rule-dialog',
    intro: rule ? null : 'The group\'s rules apply here as if they stood in this place of the list.',
    fields: [group, iface, enable, comment],
    submitLabel: rule ? 'Save' : 'Insert',
    onSubmit: () => save(scope, rule, wanted(), before),
  });
}
