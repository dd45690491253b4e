// The Create and Edit dialog of Node → Network: a Linux bridge (ports, VLAN aware), bond (slaves, mode,
// hash policy) or VLAN (raw device and tag, unless the name says them: eno1.100), and for every kind the
// addresses (IPv4 and IPv6 in CIDR form, gateways), autostart, MTU and comment. Create is POST
// /nodes/{node}/network, Edit is PUT /nodes/{node}/network/{iface}; `type` goes with both. Edit sends only
// what changed — a value emptied goes into `delete`. Either changes the pending configuration only: nothing
// runs differently until Apply.

import { api, seg } from '../api.js';
import { formDialog } from '../dialog.js';
import { editBody, field, rule } from '../form.js';

export const TYPE_NAMES = {
  bridge: 'Linux Bridge', bond: 'Linux Bond', vlan: 'Linux VLAN', eth: 'Network Device', alias: 'Alias', loopback: 'Loopback',
  OVSBridge: 'OVS Bridge', OVSBond: 'OVS Bond', OVSPort: 'OVS Port', OVSIntPort: 'OVS IntPort', vnet: 'VNet', fabric: 'Fabric',
};
/** The kinds this dialog edits (others are shown, not edited). */
export const EDITABLE = new Set(['bridge', 'bond', 'vlan', 'eth']);

const BOND_MODES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'];
const HASHED_MODES = new Set(['balance-xor', '802.3ad']);
const HASH_POLICIES = ['layer2', 'layer2+3', 'layer3+4'];
const IFACE_PATTERN = '[A-Za-z][A-Za-z0-9_.\\-]*';
const CIDR4 = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const CIDR6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\/\d{1,3}$/;
const IP4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IP6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
/** "eno1.100": the raw device and the tag are in the name. */
const VLAN_NAME = /^(.+)\.(\d{1,4})$/;

/** The first free name with a prefix: vmbr0, vmbr1, … */
export function freeName(prefix, ifaces) {
  const taken = new Set(ifaces.map((i) => i.iface));
  let n = 0;
  while (taken.has(`${prefix}${n}`)) n++;
  return `${prefix}${n}`;
}

const flag = (v) => (Number(v) === 1 || v === true ? '1' : '');

/**
 * networkDialog(node, type, iface, ifaces): iface is the row to edit (GET …/network), null to create one of
 * `type`; ifaces, the node's interfaces (names to suggest). Resolves to true once saved.
 */
export function networkDialog(node, type, iface, ifaces) {
  const base = `/nodes/${seg(node)}/network`;
  const r = iface || {};
  const str = (k) => (r[k] === undefined || r[k] === null ? '' : String(r[k]).trim());
  const physical = ifaces.filter((i) => i.type === 'eth' || i.type === 'bond').map((i) => i.iface).sort();
  const defaultName = type === 'bridge' ? freeName('vmbr', ifaces) : type === 'bond' ? freeName('bond', ifaces) : '';

  const name = field({ label: 'Name', name: 'iface', value: iface ? iface.iface : defaultName, required: true, pattern: IFACE_PATTERN,
    disabled: !!iface, placeholder: type === 'vlan' ? `${physical[0] || 'eno1'}.100` : '' });
  const autostart = field({ label: 'Autostart', name: 'autostart', type: 'checkbox', value: iface ? flag(r.autostart) === '1' : true,
    hint: 'Brought up when the node boots.' });
  const cidr = rule(field({ label: 'IPv4/CIDR', name: 'cidr', value: str('cidr'), placeholder: '192.0.2.10/24' }),
    (v) => (CIDR4.test(v) ? null : 'An IPv4 address with its prefix length, e.g. 192.0.2.10/24.'));
  const gateway = rule(field({ label: 'Gateway (IPv4)', name: 'gateway', value: str('gateway') }),
    (v) => (IP4.test(v) ? null : 'An IPv4 address.'));
  const cidr6 = rule(field({ label: 'IPv6/CIDR', name: 'cidr6', value: str('cidr6'), placeholder: '2001:db8::10/64' }),
    (v) => (CIDR6.test(v) ? null : 'An IPv6 address with its prefix length, e.g. 2001:db8::10/64.'));
  const gateway6 = rule(field({ label: 'Gateway (IPv6)', name: 'gateway6', value: str('gateway6') }),
    (v) => (IP6.test(v) ? null : 'An IPv6 address.'));
  const mtu = field({ label: 'MTU', name: 'mtu', type: 'number', min: 1280, max: 65520, step: 1, value: str('mtu'), placeholder: '1500' });
  const comments = field({ label: 'Comment', name: 'comments', value: str('comments'), wide: true });

  // The kind's own fields.
  const own = [];
  const ownWanted = [];
  if (type === 'bridge') {
    const ports = field({ label: 'Bridge ports', name: 'bridge_ports', value: str('bridge_ports'), list: physical,
      hint: 'Interfaces, separated by spaces; empty: a bridge of the guests alone.' });
    const vlanAware = field({ label: 'VLAN aware', name: 'bridge_vlan_aware', type: 'checkbox', value: flag(r.bridge_vlan_aware) === '1' });
    own.push(ports, vlanAware);
    ownWanted.push(() => ({ bridge_ports: ports.get(), bridge_vlan_aware: vlanAware.get() ? '1' : '' }));
  } else if (type === 'bond') {
    const slaves = field({ label: 'Slaves', name: 'slaves', value: str('slaves'), required: true, list: physical,
      hint: 'The interfaces it bonds, separated by spaces.' });
    const mode = field({ label: 'Mode', name: 'bond_mode', type: 'select', options: BOND_MODES, value: str('bond_mode') || 'balance-rr' });
    const hash = field({ label: 'Hash policy', name: 'bond_xmit_hash_policy', type: 'select', options: [['', 'Default'], ...HASH_POLICIES],
      value: str('bond_xmit_hash_policy') });
    const sync = () => { hash.el.hidden = !HASHED_MODES.has(mode.get()); };
    mode.input.addEventListener('change', sync);
    sync();
    own.push(slaves, mode, hash);
    ownWanted.push(() => ({ slaves: slaves.get(), bond_mode: mode.get(), bond_xmit_hash_policy: hash.el.hidden ? '' : hash.get() }));
  } else if (type === 'vlan') {
    const raw = field({ label: 'VLAN raw device', name: 'vlan-raw-device', value: str('vlan-raw-device'), list: physical });
    const tag = field({ label: 'VLAN tag', name: 'vlan-id', type: 'number', min: 1, max: 4094, step: 1, value: str('vlan-id') });
    // A name like eno1.100 says both: the fields show them and are not sent.
    const fromName = () => VLAN_NAME.exec(name.get());
    const sync = () => {
      const m = fromName();
      raw.input.disabled = tag.input.disabled = !!m;
      raw.input.required = tag.input.required = !m;
      if (m) { raw.set(m[1]); tag.set(m[2]); }
    };
    name.input.addEventListener('input', sync);
    sync();
    own.push(raw, tag);
    ownWanted.push(() => (fromName() ? {} : { 'vlan-raw-device': raw.get(), 'vlan-id': tag.get() }));
  }

  const wanted = () => Object.assign({
    autostart: autostart.get() ? '1' : '0',
    cidr: cidr.get(), gateway: gateway.get(), cidr6: cidr6.get(), gateway6: gateway6.get(), mtu: mtu.get(), comments: comments.get(),
  }, ...ownWanted.map((f) => f()));
  const before = Object.fromEntries(Object.keys(wanted()).map((k) => [k, str(k)]));
  before.autostart = flag(r.autostart) === '1' ? '1' : '0';
  if ('bridge_vlan_aware' in before) before.bridge_vlan_aware = flag(r.bridge_vlan_aware);

  const fields = [name, ...own, cidr, gateway, cidr6, gateway6, mtu, autostart, comments];
  const kind = TYPE_NAMES[type] || type;
  return formDialog({
    title: iface ? `Edit ${kind} ${iface.iface}` : `Create: ${kind}`,
    className: 'net-dialog',
    intro: 'Saved as a pending change: the node runs as before until the changes are applied.',
    fields,
    submitLabel: iface ? 'Save' : 'Create',
    onSubmit: async () => {
      if (!iface) {
        const body = { iface: name.get(), type };
        for (const [k, v] of Object.entries(wanted())) if (v !== '') body[k] = v;
        await api(base, { method: 'POST', body });
        return;
      }
      const body = editBody(before, wanted());
      if (!Object.keys(body).length) return;
      await api(`${base}/${seg(iface.iface)}`, { method: 'PUT', body: { type, ...body } });
    },
  });
}
