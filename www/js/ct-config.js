// Container configuration as PVE's API has it: the keys that name mount
// points and network devices, and the network device's fields (name, bridge,
// IPv4/IPv6 by DHCP, SLAAC or a static address) as the create wizard and the
// Network view both edit them: net0=name=eth0,bridge=vmbr0,ip=dhcp,…

import { field } from './form.js';
import { parsePropString, formatPropString } from './propstring.js';

export const MP_KEY = /^mp(\d+)$/;
export const CT_NET_KEY = /^net(\d+)$/;

const IPV4_CIDR = '^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$';
const IPV4 = '^(\\d{1,3}\\.){3}\\d{1,3}$';
const IPV6_CIDR = '^[0-9A-Fa-f:.]+/\\d{1,3}$';
const IPV6 = '^[0-9A-Fa-f:.]+$';

/** The lowest free index of mpN / netN. */
export function freeIndex(config, prefix, max = 256) {
  for (let i = 0; i < max; i++) if (config[`${prefix}${i}`] === undefined) return i;
  return null;
}

const mode4 = (ip) => (!ip ? '' : ip === 'dhcp' || ip === 'manual' ? ip : 'static');
const mode6 = (ip) => (!ip ? '' : ['dhcp', 'auto', 'manual'].includes(ip) ? ip : 'static');

/**
 * Fields for one network device of parameter `param` (net0, …), filled from its property
 * string `current` (undefined for a new device). Returns {f, keys, sync(hidden), value()}: f the fields by key, keys their order,
 * sync() shows the address fields the modes need, value() the property string (unknown
 * keys of the old value, hwaddr among them, are kept).
 */
export function netFields(param, current) {
  const old = parsePropString(current);
  const f = {
    ifname: field({ label: 'Name', name: param, sub: 'name', value: old.name || 'eth0', required: true, pattern: '^[A-Za-z][A-Za-z0-9_.\\-]{0,14}$' }),
    bridge: field({ label: 'Bridge', name: param, sub: 'bridge', value: old.bridge || 'vmbr0', required: true, list: [] }),
    ip4mode: field({ label: 'IPv4', name: param, sub: 'ip', type: 'select', options: [['dhcp', 'DHCP'], ['static', 'Static'], ['manual', 'Manual'], ['', 'None']], value: current === undefined ? 'dhcp' : mode4(old.ip) }),
    ip: field({ label: 'IPv4 address (CIDR)', name: param, sub: 'ip', pattern: IPV4_CIDR, placeholder: '192.0.2.10/24', required: true, value: mode4(old.ip) === 'static' ? old.ip : '' }),
    gw: field({ label: 'IPv4 gateway', name: param, sub: 'gw', pattern: IPV4, placeholder: 'optional', value: old.gw }),
    ip6mode: field({ label: 'IPv6', name: param, sub: 'ip6', type: 'select', options: [['', 'None'], ['dhcp', 'DHCPv6'], ['auto', 'SLAAC'], ['static', 'Static'], ['manual', 'Manual']], value: mode6(old.ip6) }),
    ip6: field({ label: 'IPv6 address (CIDR)', name: param, sub: 'ip6', pattern: IPV6_CIDR, placeholder: '2001:db8::10/64', required: true, value: mode6(old.ip6) === 'static' ? old.ip6 : '' }),
    gw6: field({ label: 'IPv6 gateway', name: param, sub: 'gw6', pattern: IPV6, placeholder: 'optional', value: old.gw6 }),
    tag: field({ label: 'VLAN tag', name: param, sub: 'tag', type: 'number', min: 1, max: 4094, step: 1, placeholder: 'none', inputmode: 'numeric', value: old.tag }),
    firewall: field({ label: 'Firewall', name: param, sub: 'firewall', type: 'checkbox', value: old.firewall === '1' }),
  };
  const keys = Object.keys(f);
  function sync(hidden = false) {
    for (const k of keys) f[k].el.hidden = hidden;
    if (hidden) return;
    f.ip.el.hidden = f.ip4mode.get() !== 'static';
    f.gw.el.hidden = f.ip4mode.get() !== 'static';
    f.ip6.el.hidden = f.ip6mode.get() !== 'static';
    f.gw6.el.hidden = f.ip6mode.get() !== 'static';
  }
  f.ip4mode.input.addEventListener('change', () => sync());
  f.ip6mode.input.addEventListener('change', () => sync());
  sync();
  function value() {
    const ip4 = f.ip4mode.get();
    const ip6 = f.ip6mode.get();
    return formatPropString({
      ...old,
      name: f.ifname.get(), bridge: f.bridge.get(),
      ip: ip4 === 'static' ? f.ip.get() : ip4, gw: ip4 === 'static' ? f.gw.get() : '',
      ip6: ip6 === 'static' ? f.ip6.get() : ip6, gw6: ip6 === 'static' ? f.gw6.get() : '',
      tag: f.tag.get(), firewall: f.firewall.get() ? 1 : '',
    });
  }
  return { f, keys, sync, value };
}
