// The dialogs of Datacenter → SDN: a zone (the options of its type), a vnet, a subnet with its DHCP
// ranges, and the Preview of what Apply would write on a node. Add is a POST to the list, Edit a PUT to
// the object with only what changed — a value emptied goes into `delete`, as PVE's PUTs take it. Every
// change is pending: the nodes run as before until Apply (PUT /cluster/sdn). The lists are read with
// pending=1: a row holds the applied values, `pending` what would change ({key: new value | null}) and
// `state` (new, changed, deleted); a dialog starts from the values as they will be (effective()).

import { api, seg } from '../api.js';
import { h, icon } from '../dom.js';
import { formDialog, modal } from '../dialog.js';
import { editBody, field, rule } from '../form.js';
import { loadNodes, offerBridges } from '../nodes.js';
import { parsePropString } from '../propstring.js';
import { errorSlot } from '../ui.js';
import { checkList, splitList } from './access-common.js';
import { text } from './firewall-parts.js';
import { diffLine } from './node-network.js';

/** Zone and vnet names, as PVE checks them (pve-sdn-zone-id, pve-sdn-vnet-id). */
export const ID_PATTERN = '[a-z][a-z0-9]{0,7}';
const ID_HINT = 'A lowercase letter, then up to 7 lowercase letters or digits.';
const PENDING = 'Saved as a pending change: the nodes run as before until the SDN configuration is applied.';

const IP4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IP6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\/\d{1,3})$/;
const isIP = (v) => IP4.test(v) || IP6.test(v);
const ipWhy = (v) => (isIP(v) ? null : 'An IPv4 or IPv6 address.');
const flag = (v) => (Number(v) === 1 || v === true ? '1' : '');

/** The zone types, the options each one's dialog shows (in this order) and a line about what it is. */
export const ZONE_TYPES = {
  simple: { label: 'Simple', options: ['ipam', 'dhcp', 'mtu', 'nodes'], about: 'A bridge of its own on each node, routed and NATed by the node.' },
  vlan: { label: 'VLAN', options: ['bridge', 'mtu', 'nodes', 'ipam'], about: 'Each vnet is a VLAN on an existing bridge.' },
  qinq: { label: 'QinQ', options: ['bridge', 'tag', 'vlan-protocol', 'mtu'], about: 'Each vnet is a VLAN inside the zone\'s service VLAN.' },
  vxlan: { label: 'VXLAN', options: ['peers', 'mtu', 'vxlan-port', 'nodes', 'ipam'], about: 'Each vnet is a VXLAN tunnel between the peers.' },
  evpn: { label: 'EVPN', options: ['controller', 'vrf-vxlan', 'mtu'], about: 'VXLAN with BGP EVPN routing (needs a controller).' },
};
export const zoneTypeLabel = (type) => ZONE_TYPES[type]?.label || text(type) || '–';

/** What an object will be once applied: the row with its pending changes (null: the key goes). */
export function effective(row) {
  const out = { ...row };
  delete out.pending;
  for (const [k, v] of Object.entries(row.pending || {})) {
    if (v === null) delete out[k]; else out[k] = v;
  }
  return out;
}

/** A subnet's DHCP ranges as [{start, end}]: the API gives objects, a pending change strings. */
export function dhcpRanges(v) {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  return list.map((r) => (typeof r === 'string' ? parsePropString(r) : r || {}))
    .map((o) => ({ start: text(o['start-address']), end: text(o['end-address']) }))
    .filter((r) => r.start || r.end);
}
const rangeText = (r) => `start-address=${r.start},end-address=${r.end}`;

/** The names of the IPAMs (GET /cluster/sdn/ipams); [] when they cannot be read. */
async function ipamNames() {
  try {
    const list = await api('/cluster/sdn/ipams');
    return (Array.isArray(list) ? list : []).map((i) => i && i.ipam).filter(Boolean).sort();
  } catch (e) {
    console.debug('sdn ipams:', e.message);
    return [];
  }
}

/** The nodes' names, sorted ([] when they cannot be read). */
const nodeNames = () => loadNodes({ maxAge: 10000 }).then((list) => list.map((n) => n.node)).catch(() => []);

/**
 * One option of a zone: {key, f (the field), value() → text to send, was (the text it has)}. z: the zone's
 * values as they will be, or null for a new zone.
 */
function zoneOption(key, z) {
  const was = z ? text(z[key]) : '';
  const opt = (f, value = () => f.get(), before = was) => ({ key, f, value, was: before });
  switch (key) {
    case 'ipam': {
      const f = field({ label: 'IPAM', name: 'ipam', type: 'select', options: [['', 'None']], value: was,
        hint: 'Records the addresses of the zone\'s subnets; DHCP needs one.' });
      ipamNames().then((names) => {
        f.setOptions([['', 'None'], ...names, ...(was && !names.includes(was) ? [was] : [])], false);
        f.set(z ? was : names.includes('pve') ? 'pve' : '');
      });
      return opt(f);
    }
    case 'dhcp': {
      const f = field({ label: 'Automatic DHCP (dnsmasq)', name: 'dhcp', type: 'checkbox', value: was === 'dnsmasq',
        hint: 'Guests get their addresses from the DHCP ranges of the subnets; needs an IPAM.' });
      return opt(f, () => (f.get() ? 'dnsmasq' : ''));
    }
    case 'mtu':
      return opt(field({ label: 'MTU', name: 'mtu', type: 'number', min: 1280, max: 65520, step: 1, value: was, placeholder: 'auto' }));
    case 'nodes': {
      const f = checkList({ label: 'Nodes', name: 'nodes', value: splitList(was), hint: 'None ticked: every node has the zone.' });
      nodeNames().then((names) => f.setOptions(names));
      const sorted = (v) => splitList(v).sort().join(',');
      return opt(f, () => sorted(f.get()), sorted(was));
    }
    case 'bridge': {
      const f = field({ label: 'Bridge', name: 'bridge', value: was, required: true, list: [], placeholder: 'vmbr0',
        hint: 'The bridge of each node the vnets\' VLANs go on.' });
      nodeNames().then((names) => { if (names.length) offerBridges(f, names[0]); });
      return opt(f);
    }
    case 'tag':
      return opt(field({ label: 'Service VLAN', name: 'tag', type: 'number', min: 0, max: 4094, step: 1, value: was, required: true,
        hint: 'The outer tag every vnet of the zone is inside.' }));
    case 'vlan-protocol':
      return opt(field({ label: 'Service VLAN protocol', name: 'vlan-protocol', type: 'select', value: was,
        options: [['', 'Default (802.1q)'], '802.1q', '802.1ad'] }));
    case 'peers':
      return opt(rule(field({ label: 'Peers', name: 'peers', value: was, required: true, wide: true, placeholder: '192.0.2.1,192.0.2.2',
        hint: 'The addresses of the nodes, separated by commas: the tunnels go between them.' }),
      (v) => (splitList(v).every(isIP) ? null : 'IP addresses, separated by commas.')));
    case 'vxlan-port':
      return opt(field({ label: 'VXLAN port', name: 'vxlan-port', type: 'number', min: 1, max: 65535, step: 1, value: was, placeholder: '4789' }));
    case 'controller':
      return opt(field({ label: 'Controller', name: 'controller', value: was, required: true, hint: 'The EVPN controller (BGP) of the zone.' }));
    case 'vrf-vxlan':
      return opt(field({ label: 'VRF VXLAN ID', name: 'vrf-vxlan', type: 'number', min: 1, max: 16777215, step: 1, value: was, required: true }));
    default:
      return opt(field({ label: key, name: key, value: was }));
  }
}

/** Add a zone of `type` (zone null) or edit one (a row of GET /cluster/sdn/zones?pending=1). Resolves to true once saved. */
export function zoneDialog(type, zone = null) {
  const t = ZONE_TYPES[type] || { label: type, options: [], about: '' };
  const z = zone ? effective(zone) : null;
  const id = field({ label: 'ID', name: 'zone', value: zone ? zone.zone : '', required: true, pattern: ID_PATTERN, disabled: !!zone,
    hint: zone ? null : ID_HINT });
  const opts = t.options.map((key) => zoneOption(key, z));
  const wanted = () => Object.fromEntries(opts.map((o) => [o.key, o.value()]));
  const before = Object.fromEntries(opts.map((o) => [o.key, o.was]));
  return formDialog({
    title: zone ? `Edit ${t.label} zone ${zone.zone}` : `Add: ${t.label} zone`,
    className: 'sdn-dialog',
    intro: `${t.about} ${PENDING}`.trim(),
    fields: [id, ...opts.map((o) => o.f)],
    submitLabel: zone ? 'Save' : 'Add',
    onSubmit: async () => {
      if (!zone) {
        const body = { zone: id.get(), type };
        for (const [k, v] of Object.entries(wanted())) if (v !== '') body[k] = v;
        await api('/cluster/sdn/zones', { method: 'POST', body });
        return;
      }
      const body = editBody(before, wanted());
      if (Object.keys(body).length) await api(`/cluster/sdn/zones/${seg(zone.zone)}`, { method: 'PUT', body });
    },
  });
}

/**
 * Add a vnet (vnet null) or edit one (a row of GET /cluster/sdn/vnets?pending=1); zones: the zones it may be in
 * (as they will be). A vnet of a simple zone has no tag; in the other types the tag is its VLAN or VXLAN id.
 * Resolves to the vnet's name once saved, null when cancelled.
 */
export function vnetDialog(vnet, zones) {
  const v = vnet ? effective(vnet) : {};
  const typeOf = (id) => zones.find((z) => z.zone === id)?.type || '';
  const choices = zones.map((z) => [z.zone, `${z.zone} (${zoneTypeLabel(z.type)})`]);
  if (v.zone && !zones.some((z) => z.zone === v.zone)) choices.push([v.zone, v.zone]);
  const id = field({ label: 'Name', name: 'vnet', value: vnet ? vnet.vnet : '', required: true, pattern: ID_PATTERN, disabled: !!vnet,
    hint: vnet ? 'Guests\' network devices name it as their bridge.' : `Guests' network devices name it as their bridge. ${ID_HINT}` });
  const zone = field({ label: 'Zone', name: 'zone', type: 'select', required: true, options: [['', '–'], ...choices],
    value: text(v.zone) || (choices.length === 1 ? choices[0][0] : '') });
  const alias = field({ label: 'Alias', name: 'alias', value: text(v.alias), hint: 'A description.' });
  const tag = field({ label: 'Tag', name: 'tag', type: 'number', min: 1, max: 16777215, step: 1, value: text(v.tag),
    hint: 'Its VLAN (VLAN, QinQ) or VXLAN id (VXLAN, EVPN).' });
  const vlanaware = field({ label: 'VLAN aware', name: 'vlanaware', type: 'checkbox', value: flag(v.vlanaware) === '1',
    hint: 'Guests may send VLAN-tagged traffic through it.' });
  const isolate = field({ label: 'Isolate ports', name: 'isolate-ports', type: 'checkbox', value: flag(v['isolate-ports']) === '1',
    hint: 'Guests on it reach the outside, not each other.' });
  const sync = () => {
    const type = typeOf(zone.get());
    tag.el.hidden = type === 'simple';
    tag.input.required = !!type && type !== 'simple';
    tag.input.max = type === 'vlan' || type === 'qinq' ? '4094' : '16777215';
  };
  zone.input.addEventListener('change', sync);
  sync();
  const wanted = () => ({
    zone: zone.get(), alias: alias.get(), tag: tag.el.hidden ? '' : tag.get(),
    vlanaware: vlanaware.get() ? '1' : '', 'isolate-ports': isolate.get() ? '1' : '',
  });
  const before = { zone: text(v.zone), alias: text(v.alias), tag: text(v.tag), vlanaware: flag(v.vlanaware), 'isolate-ports': flag(v['isolate-ports']) };
  let saved = null;
  return formDialog({
    title: vnet ? `Edit vnet ${vnet.vnet}` : 'Add a vnet',
    className: 'sdn-dialog',
    intro: PENDING,
    fields: [id, zone, alias, tag, vlanaware, isolate],
    submitLabel: vnet ? 'Save' : 'Add',
    onSubmit: async () => {
      if (!vnet) {
        const body = { vnet: id.get() };
        for (const [k, x] of Object.entries(wanted())) if (x !== '') body[k] = x;
        await api('/cluster/sdn/vnets', { method: 'POST', body });
        saved = body.vnet;
        return;
      }
      const body = editBody(before, wanted());
      if (Object.keys(body).length) await api(`/cluster/sdn/vnets/${seg(vnet.vnet)}`, { method: 'PUT', body });
      saved = vnet.vnet;
    },
  }).then((ok) => (ok ? saved : null));
}

/**
 * The DHCP ranges of a subnet: a start and an end address per row, rows added and removed. Their fields go
 * into `fields` (the dialog's: checked and given the server's errors about dhcp-range, the part the message
 * names). → {el, get() → ["start-address=…,end-address=…"]}.
 */
function rangeEditor(initial, fields, dhcp) {
  const rows = [];
  const box = h('div', { class: 'sdn-ranges', dataset: { role: 'dhcp-ranges' } });
  function add(r = { start: '', end: '' }) {
    const start = rule(field({ label: 'Start address', name: 'dhcp-range', sub: 'start-address', value: r.start, placeholder: '10.0.0.100' }), ipWhy);
    const end = rule(field({ label: 'End address', name: 'dhcp-range', sub: 'end-address', value: r.end, placeholder: '10.0.0.200' }), ipWhy);
    start.input.dataset.part = 'start';
    end.input.dataset.part = 'end';
    // A range is both addresses or none.
    const both = () => { start.input.required = end.input.required = !!(start.get() || end.get()); };
    start.input.addEventListener('input', both);
    end.input.addEventListener('input', both);
    both();
    const row = { start, end, el: null };
    row.el = h('div', { class: 'sdn-range', role: 'group', 'aria-label': 'DHCP range' }, start.el, end.el,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Remove this range', dataset: { action: 'remove-range' }, onclick: () => drop(row) },
        icon('trash')));
    rows.push(row);
    fields.push(start, end);
    box.append(row.el);
    return row;
  }
  function drop(row) {
    rows.splice(rows.indexOf(row), 1);
    for (const f of [row.start, row.end]) fields.splice(fields.indexOf(f), 1);
    row.el.remove();
  }
  for (const r of initial) add(r);
  if (!rows.length) add();
  const el = h('div', { class: 'field field-wide' },
    h('fieldset', { class: 'check-fieldset sdn-ranges-field' },
      h('legend', null, 'DHCP ranges'),
      h('p', { class: 'field-hint' }, dhcp === false
        ? 'The zone has no DHCP: the ranges are kept, and served once the zone has it.'
        : 'The addresses DHCP hands out to guests; empty: none.'),
      box,
      h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'add-range' }, onclick: () => add().start.focus() },
        icon('plus'), 'Add a range')));
  return {
    el,
    get: () => rows.map((r) => ({ start: r.start.get(), end: r.end.get() })).filter((r) => r.start || r.end).map(rangeText),
  };
}

/**
 * Add a subnet to vnet `vnet` (subnet null) or edit one (a row of GET …/subnets?pending=1). dhcp: whether the
 * vnet's zone has DHCP (null: not known). The subnet is POSTed as its CIDR with type=subnet; afterwards its
 * id (zone-address-prefix) names it in the path.
 */
export function subnetDialog(vnet, subnet = null, { dhcp = null } = {}) {
  const s = subnet ? effective(subnet) : {};
  const cidr = rule(field({ label: 'Subnet', name: 'subnet', value: text(s.cidr || s.subnet), required: true, disabled: !!subnet,
    placeholder: '10.0.0.0/24', hint: subnet ? 'The network names the subnet: for another one, add a new subnet.' : 'The network, in CIDR form.' }),
  (v) => (CIDR.test(v) ? null : 'A network in CIDR form, e.g. 10.0.0.0/24.'));
  const gateway = rule(field({ label: 'Gateway', name: 'gateway', value: text(s.gateway), placeholder: '10.0.0.1',
    hint: 'The vnet\'s own address in the subnet: the guests\' default route.' }), ipWhy);
  const snat = field({ label: 'SNAT: guests reach other networks through the node\'s address', name: 'snat', type: 'checkbox',
    value: flag(s.snat) === '1' });
  const fields = [cidr, gateway, snat];
  const was = dhcpRanges(s['dhcp-range']);
  const ranges = rangeEditor(was, fields, dhcp);
  const path = `/cluster/sdn/vnets/${seg(vnet)}/subnets`;
  return formDialog({
    title: subnet ? `Edit subnet ${text(s.cidr || s.subnet)} of ${vnet}` : `Add a subnet to ${vnet}`,
    className: 'sdn-dialog',
    intro: PENDING,
    fields,
    body: h('div', { class: 'form-grid' }, cidr.el, gateway.el, snat.el, ranges.el),
    submitLabel: subnet ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = { gateway: gateway.get(), snat: snat.get() ? '1' : '' };
      const list = ranges.get();
      if (!subnet) {
        const body = { subnet: cidr.get(), type: 'subnet' };
        for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
        if (list.length) body['dhcp-range'] = list;
        await api(path, { method: 'POST', body });
        return;
      }
      const body = editBody({ gateway: text(s.gateway), snat: flag(s.snat) }, want);
      if (list.join(' ') !== was.map(rangeText).join(' ')) {
        if (list.length) body['dhcp-range'] = list;
        else body.delete = body.delete ? `${body.delete},dhcp-range` : 'dhcp-range';
      }
      if (Object.keys(body).length) await api(`${path}/${seg(subnet.subnet)}`, { method: 'PUT', body });
    },
  });
}

/** A titled block of the preview: a <pre> (lines coloured as a diff when `diff`). */
function previewBlock(title, content, diff = false) {
  const body = String(content ?? '');
  const pre = h('pre', { class: `log net-diff${diff ? '' : ' sdn-plain'}`, tabindex: 0, 'aria-label': title });
  if (diff && body) pre.append(...body.replace(/\n$/, '').split('\n').map(diffLine));
  else pre.textContent = body || '(empty)';
  return h('section', { class: 'sdn-preview-block' }, h('h3', null, title), pre);
}

/**
 * The blocks of a dry run's answer: `interfaces` (the text of /etc/network/interfaces.d/sdn the node would
 * get), `interfaces-diff` (how that differs from what it runs), `dnsmasq` ({zone or file: text | {file: text}}),
 * and any other text the answer has.
 */
function previewBlocks(d) {
  const blocks = [];
  if (typeof d === 'string') return [previewBlock('Network interfaces', d)];
  if (!d || typeof d !== 'object') return blocks;
  if ('interfaces' in d) blocks.push(previewBlock('Network interfaces (/etc/network/interfaces.d/sdn)', d.interfaces));
  if ('interfaces-diff' in d) {
    blocks.push(d['interfaces-diff'] ? previewBlock('Changes to the network interfaces', d['interfaces-diff'], true)
      : h('p', { class: 'muted' }, 'The network interfaces stay as they are.'));
  }
  const dns = d.dnsmasq;
  if (dns && typeof dns === 'object') {
    for (const [name, v] of Object.entries(dns).sort(([a], [b]) => a.localeCompare(b))) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [file, t] of Object.entries(v)) blocks.push(previewBlock(`dnsmasq ${name}: ${file}`, typeof t === 'string' ? t : JSON.stringify(t, null, 2)));
      } else {
        blocks.push(previewBlock(`dnsmasq ${name}`, typeof v === 'string' ? v : JSON.stringify(v, null, 2)));
      }
    }
  } else if (typeof dns === 'string') {
    blocks.push(previewBlock('dnsmasq', dns));
  }
  for (const [k, v] of Object.entries(d)) {
    if (['interfaces', 'interfaces-diff', 'dnsmasq'].includes(k) || v === null || v === undefined) continue;
    blocks.push(previewBlock(k, typeof v === 'string' ? v : JSON.stringify(v, null, 2)));
  }
  return blocks;
}

/**
 * Preview (GET /cluster/sdn/dry-run?node=…, beyond PVE): what applying the pending configuration would write on
 * the node chosen. onApply: offered as the dialog's Apply button (the dialog closes first).
 */
export function previewDialog({ onApply = null } = {}) {
  const ctrl = new AbortController();
  const err = errorSlot('Could not work out the preview');
  const node = field({ label: 'Node', name: 'node', type: 'select', options: [] });
  const out = h('div', { class: 'sdn-preview-out', dataset: { role: 'sdn-preview' }, 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Loading…'));
  const close = h('button', { type: 'button', class: 'btn' }, 'Close');
  const apply = onApply ? h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'sdn-apply' } }, icon('check'), 'Apply') : null;
  const m = modal({
    title: 'Preview: what Apply would write',
    className: 'changelog-dialog dialog-wide sdn-preview',
    body: [h('div', { class: 'sdn-preview-node' }, node.el), err.el, out],
    foot: [h('span', { class: 'spacer' }), close, apply],
    onClose: () => ctrl.abort(),
  });
  close.addEventListener('click', () => m.close());
  apply?.addEventListener('click', () => { m.close(); onApply(); });
  let seq = 0;

  async function load() {
    const my = ++seq;
    out.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    err.set(null);
    try {
      const d = await api('/cluster/sdn/dry-run', { params: { node: node.get() || undefined }, signal: ctrl.signal });
      if (my !== seq) return;
      const blocks = previewBlocks(d);
      out.replaceChildren(...(blocks.length ? blocks : [h('p', { class: 'muted' }, 'Applying changes nothing on this node.')]));
    } catch (e) {
      if (e.name === 'AbortError' || my !== seq) return;
      out.replaceChildren();
      err.set(e);
    }
  }
  node.input.addEventListener('change', load);
  close.focus();
  nodeNames().then((names) => {
    if (ctrl.signal.aborted) return;
    node.setOptions(names, false);
    node.el.hidden = names.length < 2; // one node: nothing to choose
    load();
  });
  return m;
}
