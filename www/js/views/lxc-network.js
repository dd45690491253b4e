// CT → Network: the container's network devices (net0…net9) with an
// editor for each (name, bridge, IPv4/IPv6, VLAN, firewall), adding and
// removing them. Written as PUT …/config with the digest.

import { h, icon } from '../dom.js';
import { formDialog } from '../dialog.js';
import { guestBase, guestView } from '../guests.js';
import { offerBridges } from '../nodes.js';
import { parsePropString } from '../propstring.js';
import { CT_NET_KEY, freeIndex, netFields } from '../ct-config.js';
import { configView } from './config-grid.js';

/** "eth0 on vmbr0, 192.0.2.10/24 via 192.0.2.1" */
function netSummary(v) {
  const n = parsePropString(v);
  const v4 = n.ip ? `${n.ip}${n.gw ? ` via ${n.gw}` : ''}` : null;
  const v6 = n.ip6 ? `${n.ip6}${n.gw6 ? ` via ${n.gw6}` : ''}` : null;
  return `${n.name || '?'} on ${n.bridge || '?'}${n.tag ? ` (VLAN ${n.tag})` : ''}: ${[v4, v6].filter(Boolean).join(', ') || 'no address'}${n.hwaddr ? ` · ${n.hwaddr}` : ''}`;
}

export const mountLxcNetwork = guestView((panel, guest, signal) => {
  const addBtn = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => edit(null) }, icon('plus'), 'Add network device');
  const view = configView(panel, guestBase(guest), signal, {
    caption: `Network devices of CT ${guest.vmid}`, heads: ['Device', 'Configuration'], buttons: [addBtn], rows,
  });

  function rows(cfg) {
    const keys = Object.keys(cfg).filter((k) => CT_NET_KEY.test(k)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    if (!keys.length) return [{ key: 'none', label: 'No network device', value: 'The container has only its loopback interface.' }];
    return keys.map((k) => ({ key: k, icon: 'network', label: k, value: netSummary(cfg[k]), edit: () => edit(k), remove: () => remove(k) }));
  }

  async function edit(key) {
    const cfg = view.config();
    const k = key ?? `net${freeIndex(cfg, 'net', 10)}`;
    const net = netFields(k, key ? cfg[key] : undefined);
    offerBridges(net.f.bridge, guest.node, { signal });
    const fields = net.keys.map((x) => net.f[x]);
    return formDialog({
      title: key ? `Edit network device ${key}` : `Add network device ${k}`, fields, submitLabel: key ? 'Save' : 'Add',
      onSubmit: () => view.save({ [k]: net.value() }),
    });
  }

  const remove = (key) => view.removeKey(key, `Network device ${key} is removed from CT ${guest.vmid}.`);
  return null;
});
