// Datacenter → SDN: PVE's software-defined networks, as sub-tabs.
//   Zones  — GET /cluster/sdn/zones?pending=1; Add (a menu of zone types), Edit, Remove (sdn-dialogs.js).
//   VNets  — GET /cluster/sdn/vnets?pending=1 on the left; the subnets of the vnet picked on the right
//            (GET /cluster/sdn/vnets/{vnet}/subnets?pending=1), each with Add, Edit and Remove.
//   IPAM   — the addresses the IPAMs hold (GET /cluster/sdn/ipams, …/ipams/{ipam}/status): gateways, guests.
//   Status — the zones each node runs and whether they are up (GET /nodes/{node}/sdn/zones per node of GET /nodes).
//   Firewall — a vnet's forward rules and options (/cluster/sdn/vnets/{vnet}/firewall, the firewall views).
// Changes are pending — a badge in the State column says new, changed or deleted, and a changed value is
// marked — until Apply (PUT /cluster/sdn, a task that waits for every node), which the Zones and VNets
// toolbars offer with Preview (GET /cluster/sdn/dry-run?node=…, beyond PVE: what a node would get).

import { api, errorText, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { isOnline, loadNodes } from '../nodes.js';
import { taskFeedback } from '../taskrun.js';
import { errorSlot, menuButton } from '../ui.js';
import { splitList } from './access-common.js';
import { actionButton, childController, counter, pickList, text, toolbar } from './firewall-parts.js';
import { listTable, plural } from './list-view.js';
import { mountSubTabs } from './subtabs.js';
import { vnetScope } from './firewall-parts.js';
import { mountRules } from './firewall-rules.js';
import { mountFirewallOptions } from './firewall-options.js';
import {
  ZONE_TYPES, dhcpRanges, effective, previewDialog, subnetDialog, vnetDialog, zoneDialog, zoneTypeLabel,
} from './sdn-dialogs.js';

const asList = (v) => (Array.isArray(v) ? v : []);
const byKey = (key) => (a, b) => String(a[key]).localeCompare(String(b[key]), undefined, { numeric: true });

/** GET path?pending=1, the rows that have `key`, sorted by it. */
async function loadPending(path, key, signal) {
  return asList(await api(path, { params: { pending: 1 }, signal })).filter((x) => x && x[key]).sort(byKey(key));
}

/** The zones as they will be once applied, without those about to go: the vnet and subnet dialogs' choices. */
async function liveZones(signal) {
  return (await loadPending('/cluster/sdn/zones', 'zone', signal)).filter((z) => z.state !== 'deleted').map(effective);
}

/** The badge of a pending state (new, changed, deleted); nothing for an applied object. */
function stateBadge(state) {
  return state ? h('span', { class: 'badge sdn-state', dataset: { state }, title: 'Not applied yet' }, state) : null;
}

/**
 * A cell of an object's value as it will be; when the object is changed and one of `keys` with it, the cell
 * is marked and its title says what runs now.
 */
function cell(row, keys, content, cls = null) {
  const changed = row.state === 'changed' ? [].concat(keys).filter((k) => row.pending && k in row.pending) : [];
  const was = changed.map((k) => `${k}: ${text(row[k]) || 'not set'}`).join('; ');
  return h('td', {
    class: [cls, changed.length && 'sdn-changed'].filter(Boolean).join(' ') || null,
    title: changed.length ? `Changed; applied now: ${was}` : null,
  }, content);
}

/**
 * After pickList.show(): each row says its state (data-state), and a row about to be deleted cannot be edited or
 * removed again (its buttons are off; Apply removes it).
 */
function markStates(box, attr, items, keyOf) {
  for (const item of items) {
    const tr = box.querySelector(`tr[data-${attr}="${CSS.escape(keyOf(item))}"]`);
    if (!tr) continue;
    tr.dataset.state = item.state || '';
    const gone = item.state === 'deleted';
    tr.classList.toggle('is-deleted', gone);
    for (const b of tr.querySelectorAll('button[data-action=edit], button[data-action=remove]')) {
      b.disabled = gone;
      b.title = gone ? 'Removed once the configuration is applied' : '';
    }
  }
}

/** The count line: "2 zones" and how many of them wait for Apply. */
function countText(items, one, many) {
  const waiting = items.filter((x) => x.state).length;
  return plural(items.length, one, many) + (waiting ? ` · ${waiting} not applied` : '');
}

/**
 * Preview and Apply for a toolbar, and the feedback line Apply's task reports in. after(): read again once the
 * task ended (or failed).
 */
function applyControls(signal, after) {
  const feedback = taskFeedback({ signal });
  let busy = false;
  const applyBtn = actionButton('sdn-apply', 'Apply', 'check', () => apply());
  const previewBtn = actionButton('sdn-preview', 'Preview', 'search', () => previewDialog({ onApply: () => apply() }));
  async function apply() {
    if (busy) return;
    busy = true;
    applyBtn.disabled = true;
    try {
      await feedback.run('Apply the SDN configuration', () => api('/cluster/sdn', { method: 'PUT', signal }));
    } catch (e) {
      console.debug('sdn apply:', e); // the feedback line shows it
    } finally {
      busy = false;
      applyBtn.disabled = false;
    }
    if (!signal.aborted) after();
  }
  return { buttons: [previewBtn, applyBtn], feedback };
}

/** Remove an object (DELETE path) after asking; the error goes to `slot`. */
async function removeObject({ title, message, path, what, slot, signal }) {
  slot.set(null);
  const ok = await confirmDialog({ title, message, confirmLabel: 'Remove', danger: true });
  if (!ok) return;
  try {
    await api(path, { method: 'DELETE', signal });
  } catch (e) {
    if (e.name !== 'AbortError') slot.set(new Error(`Could not remove ${what}: ${errorText(e)}`));
  }
}

const removeNote = (item) => (item.state === 'new'
  ? 'It was never applied: nothing runs yet.'
  : 'The nodes keep running it until the configuration is applied.');

// --- Zones -------------------------------------------------------------------------------------

const ZONE_DETAILS = ['bridge', 'tag', 'vlan-protocol', 'peers', 'vxlan-port', 'controller', 'vrf-vxlan'];

function mountZones(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the SDN zones');
  const actionErr = errorSlot();
  const applying = applyControls(signal, () => refresh());
  const add = menuButton({
    label: 'Add', iconName: 'plus', primary: true, data: { action: 'add-zone' },
    items: Object.entries(ZONE_TYPES).map(([type, t]) => ({ label: t.label, data: { type }, onSelect: () => edit(type, null) })),
  });
  panel.append(toolbar(count, [add, ...applying.buttons], () => refresh()), applying.feedback.el, err.el, actionErr.el);
  const box = h('div');
  panel.append(box);
  const keyOf = (z) => z.zone;
  const list = pickList(box, {
    caption: 'SDN zones', noun: 'zone', attr: 'zone', keyOf,
    columns: ['Zone', 'State', 'Type', 'MTU', 'IPAM', 'DHCP', { label: 'Nodes', optional: true }, { label: 'Details', optional: true }],
    cells: (z) => {
      const e = effective(z);
      return [
        h('td', null, stateBadge(z.state)),
        cell(z, 'type', zoneTypeLabel(e.type)),
        cell(z, 'mtu', text(e.mtu) || 'auto'),
        cell(z, 'ipam', text(e.ipam) || '–'),
        cell(z, 'dhcp', text(e.dhcp) || '–'),
        cell(z, 'nodes', e.nodes ? splitList(e.nodes).join(', ') : 'all', 'optional'),
        cell(z, ZONE_DETAILS, ZONE_DETAILS.filter((k) => text(e[k])).map((k) => `${k} ${e[k]}`).join(' · '), 'optional mono'),
      ];
    },
    edit: (z) => edit(z.type, z), remove: (z) => remove(z),
    empty: 'No zones. A vnet lives in a zone: add one first.',
  });

  async function refresh() {
    try {
      const zones = await loadPending('/cluster/sdn/zones', 'zone', signal);
      list.show(zones);
      markStates(box, 'zone', zones, keyOf);
      setText(count, countText(zones, 'zone'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(type, z) {
    actionErr.set(null);
    if (z?.state === 'deleted') return;
    if (await zoneDialog(z ? effective(z).type : type, z)) refresh();
  }

  async function remove(z) {
    if (z.state === 'deleted') return;
    await removeObject({
      title: `Remove zone ${z.zone}?`, path: `/cluster/sdn/zones/${seg(z.zone)}`, what: `zone ${z.zone}`, slot: actionErr, signal,
      message: `Zone ${z.zone} is removed from the configuration. ${removeNote(z)}`,
    });
    if (!signal.aborted) refresh();
  }

  refresh();
}

// --- VNets and their subnets ---------------------------------------------------------------------

function mountVnets(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the vnets');
  const actionErr = errorSlot();
  const applying = applyControls(signal, () => { refresh(); subnets?.refresh(); });
  const left = h('section', { class: 'sdn-vnets', 'aria-label': 'VNets' });
  const right = h('section', { class: 'sdn-subnets fw-detail', dataset: { role: 'subnets' }, hidden: true });
  panel.append(h('div', { class: 'sdn-split' }, left, right));
  left.append(toolbar(count, [actionButton('add-vnet', 'Add', 'plus', () => edit(null), true), ...applying.buttons], () => refresh()),
    applying.feedback.el, err.el, actionErr.el);
  const keyOf = (v) => v.vnet;
  const list = pickList(left, {
    caption: 'VNets', noun: 'vnet', attr: 'vnet', keyOf,
    columns: ['VNet', 'State', 'Zone', 'Tag', { label: 'Alias', optional: true }],
    cells: (v) => {
      const e = effective(v);
      return [
        h('td', null, stateBadge(v.state)),
        cell(v, 'zone', text(e.zone)),
        cell(v, 'tag', text(e.tag) || '–'),
        cell(v, 'alias', text(e.alias), 'optional desc-cell'),
      ];
    },
    edit: (v) => edit(v), remove: (v) => remove(v), onPick: (v) => showSubnets(v),
    empty: 'No vnets.',
  });
  let subnets = null;   // the subnets panel: {refresh}
  let detailCtl = null;

  async function refresh(select = null) {
    try {
      const vnets = await loadPending('/cluster/sdn/vnets', 'vnet', signal);
      list.show(vnets);
      if (select) list.pick(select);
      markStates(left, 'vnet', vnets, keyOf);
      subnets?.setGone(list.picked()?.state === 'deleted');
      setText(count, countText(vnets, 'vnet'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  function showSubnets(v) {
    detailCtl?.abort();
    right.replaceChildren();
    right.hidden = !v;
    subnets = null;
    if (!v) return;
    right.dataset.vnet = v.vnet;
    detailCtl = childController(signal);
    subnets = mountSubnets(right, v.vnet, detailCtl.signal);
    subnets.setGone(v.state === 'deleted');
  }

  async function edit(v) {
    actionErr.set(null);
    if (v?.state === 'deleted') return;
    let zones;
    try {
      zones = await liveZones(signal);
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read the zones: ${errorText(e)}`));
      return;
    }
    if (!v && !zones.length) {
      actionErr.set(new Error('There is no zone to put a vnet in: add one under Zones first.'));
      return;
    }
    const saved = await vnetDialog(v, zones);
    // A new vnet is picked: its subnets can be added at once.
    if (saved) refresh(v ? null : saved);
  }

  async function remove(v) {
    if (v.state === 'deleted') return;
    await removeObject({
      title: `Remove vnet ${v.vnet}?`, path: `/cluster/sdn/vnets/${seg(v.vnet)}`, what: `vnet ${v.vnet}`, slot: actionErr, signal,
      message: `VNet ${v.vnet} is removed from the configuration (a vnet with subnets cannot be). ${removeNote(v)}`,
    });
    if (!signal.aborted) refresh();
  }

  refresh();
  return () => detailCtl?.abort();
}

/** The subnets of vnet `vnet` in `parent`. → {refresh, setGone(on): the vnet is about to be deleted (no Add)}. */
function mountSubnets(parent, vnet, signal) {
  const path = `/cluster/sdn/vnets/${seg(vnet)}/subnets`;
  const count = counter();
  const err = errorSlot(`Could not load the subnets of ${vnet}`);
  const actionErr = errorSlot();
  const addBtn = actionButton('add-subnet', 'Add', 'plus', () => edit(null), true);
  parent.append(h('h2', { class: 'card-title' }, 'Subnets of vnet ', h('code', null, vnet)),
    toolbar(count, [addBtn], () => refresh()), err.el, actionErr.el);
  const box = h('div');
  parent.append(box);
  const keyOf = (s) => text(s.cidr || s.subnet);
  const list = pickList(box, {
    caption: `Subnets of vnet ${vnet}`, noun: 'subnet', attr: 'cidr', keyOf,
    columns: ['Subnet', 'State', 'Gateway', 'DHCP ranges', { label: 'SNAT', optional: true }],
    cells: (s) => {
      const e = effective(s);
      return [
        h('td', null, stateBadge(s.state)),
        cell(s, 'gateway', text(e.gateway) || '–', 'mono'),
        cell(s, 'dhcp-range', dhcpRanges(e['dhcp-range']).map((r) => h('span', { class: 'sdn-range-text' }, `${r.start} – ${r.end}`)), 'mono'),
        cell(s, 'snat', Number(e.snat) ? 'Yes' : 'No', 'optional'),
      ];
    },
    edit: (s) => edit(s), remove: (s) => remove(s),
    empty: 'No subnets: the vnet is a plain bridge, without gateway or DHCP.',
  });

  async function refresh() {
    try {
      const items = asList(await api(path, { params: { pending: 1 }, signal })).filter((s) => s && (s.cidr || s.subnet))
        .sort((a, b) => keyOf(a).localeCompare(keyOf(b), undefined, { numeric: true }));
      list.show(items);
      markStates(box, 'cidr', items, keyOf);
      setText(count, countText(items, 'subnet'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  /** Whether the vnet's zone has DHCP (null when it cannot be told). */
  async function zoneDhcp() {
    try {
      const v = effective(asList(await api('/cluster/sdn/vnets', { params: { pending: 1 }, signal })).find((x) => x && x.vnet === vnet) || {});
      const z = (await liveZones(signal)).find((x) => x.zone === v.zone);
      return z ? !!z.dhcp : null;
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      return null;
    }
  }

  async function edit(s) {
    actionErr.set(null);
    if (s?.state === 'deleted') return;
    let dhcp;
    try {
      dhcp = await zoneDhcp();
    } catch {
      return; // aborted
    }
    if (await subnetDialog(vnet, s, { dhcp })) refresh();
  }

  async function remove(s) {
    if (s.state === 'deleted') return;
    const name = keyOf(s);
    await removeObject({
      title: `Remove subnet ${name}?`, path: `${path}/${seg(s.subnet)}`, what: `subnet ${name}`, slot: actionErr, signal,
      message: `Subnet ${name} is removed from vnet ${vnet} (its gateway leaves the IPAM). ${removeNote(s)}`,
    });
    if (!signal.aborted) refresh();
  }

  refresh();
  return {
    refresh,
    setGone(on) {
      addBtn.disabled = on;
      addBtn.title = on ? `VNet ${vnet} is removed once the configuration is applied` : '';
    },
  };
}

// --- IPAM ----------------------------------------------------------------------------------------

/** An address as a sort key: IPv4 octets zero-padded, anything else as it is. */
const ipKey = (ip) => (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip.split('.').map((o) => o.padStart(3, '0')).join('.') : String(ip));

function mountIpam(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the IPAM');
  const table = listTable('Addresses held by the IPAM', ['Address', 'Zone', 'VNet', 'Subnet', 'MAC', 'Guest',
    { label: 'Hostname', optional: true }, { label: 'IPAM', optional: true }]);
  panel.append(toolbar(count, [], () => refresh()), err.el, table.el);

  function row(e) {
    const gw = Number(e.gateway) === 1;
    return h('tr', { dataset: { ip: text(e.ip), zone: text(e.zone), kind: gw ? 'gateway' : e.vmid ? 'guest' : 'other' } },
      h('th', { scope: 'row', class: 'mono' }, text(e.ip)),
      h('td', null, text(e.zone)),
      h('td', null, text(e.vnet) || '–'),
      h('td', { class: 'mono' }, text(e.subnet)),
      h('td', { class: 'mono' }, text(e.mac) || '–'),
      h('td', null, gw ? h('span', { class: 'badge' }, 'gateway') : text(e.vmid) || '–'),
      h('td', { class: 'optional' }, text(e.hostname)),
      h('td', { class: 'optional' }, text(e.ipam)));
  }

  async function refresh() {
    try {
      const ipams = asList(await api('/cluster/sdn/ipams', { signal })).map((i) => i && i.ipam).filter(Boolean).sort();
      // One IPAM that cannot tell (an external one unreachable) does not hide the others.
      const answers = await Promise.allSettled(ipams.map((ipam) => api(`/cluster/sdn/ipams/${seg(ipam)}/status`, { signal })
        .then((list) => asList(list).filter((e) => e && e.ip).map((e) => ({ ...e, ipam })))));
      if (signal.aborted) return;
      const failed = answers.map((a, i) => (a.status === 'rejected' ? `${ipams[i]}: ${errorText(a.reason)}` : null)).filter(Boolean);
      const entries = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []))
        .sort((a, b) => text(a.zone).localeCompare(text(b.zone))
          || text(a.subnet).localeCompare(text(b.subnet), undefined, { numeric: true }) || ipKey(a.ip).localeCompare(ipKey(b.ip)));
      table.fill(entries.map(row), ipams.length ? 'The IPAM holds no addresses: a subnet\'s gateway and guests on SDN vnets show here.'
        : 'There is no IPAM.');
      setText(count, plural(entries.length, 'address', 'addresses'));
      err.set(failed.length ? new Error(failed.join('; ')) : null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  refresh();
}

// --- Status --------------------------------------------------------------------------------------

const STATUS_KIND = { available: 'ok', pending: 'warning', error: 'error' };

function mountStatus(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the node list');
  const table = listTable('SDN zones on each node', ['Node', 'Zone', 'Type', 'Status', { label: 'Message', optional: true }]);
  panel.append(toolbar(count, [], () => refresh()), err.el, table.el);

  function zoneRow(node, z) {
    const status = text(z.status) || 'unknown';
    const kind = STATUS_KIND[status] || 'warning';
    return h('tr', { dataset: { node, zone: text(z.zone), status } },
      h('th', { scope: 'row' }, node),
      h('td', { class: 'mono' }, text(z.zone)),
      h('td', null, zoneTypeLabel(z.type)),
      h('td', null, h('span', { class: `status status-${kind}` }, icon(kind === 'ok' ? 'check' : 'alert'), h('span', { class: 'status-text' }, status))),
      h('td', { class: 'optional desc-cell' }, text(z.statusmsg)));
  }

  /** A row for a node as a whole: offline, no zones, or its answer failed. */
  function nodeRow(node, what, kind = null) {
    return h('tr', { dataset: { node, status: kind || '' } },
      h('th', { scope: 'row' }, node),
      h('td', { colspan: 4, class: kind ? `status-${kind}` : 'muted' }, what));
  }

  async function refresh() {
    let nodes;
    try {
      nodes = await loadNodes({ maxAge: 5000 });
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
      return;
    }
    const answers = await Promise.allSettled(nodes.map((n) => (isOnline(n)
      ? api(`/nodes/${seg(n.node)}/sdn/zones`, { signal }) : Promise.resolve(null))));
    if (signal.aborted) return;
    const rows = [];
    let zones = 0;
    let problems = 0;
    nodes.forEach((n, i) => {
      const a = answers[i];
      if (a.status === 'rejected') {
        problems++;
        rows.push(nodeRow(n.node, `Could not ask the node: ${errorText(a.reason)}`, 'error'));
      } else if (a.value === null) {
        rows.push(nodeRow(n.node, 'The node is offline.', 'warning'));
      } else {
        const list = asList(a.value).filter((z) => z && z.zone).sort(byKey('zone'));
        zones += list.length;
        problems += list.filter((z) => z.status !== 'available').length;
        rows.push(...(list.length ? list.map((z) => zoneRow(n.node, z)) : [nodeRow(n.node, 'No zones on this node.')]));
      }
    });
    table.fill(rows, 'No nodes.');
    setText(count, `${plural(zones, 'zone')} on ${plural(nodes.length, 'node')}${problems ? ` · ${problems} not available` : ''}`);
  }

  refresh();
}

// --- the tab -------------------------------------------------------------------------------------

/** A vnet picker, then the picked vnet's firewall rules and options. */
function mountVnetFirewall(panel, signal) {
  const err = errorSlot('Could not load the vnets');
  const select = h('select', { id: 'sdn-fw-vnet', name: 'vnet', 'aria-label': 'VNet' });
  const body = h('div', { class: 'sdn-fw', dataset: { role: 'vnet-firewall' } });
  panel.append(h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
    h('label', { for: 'sdn-fw-vnet' }, 'VNet '), select), err.el, body);
  let ctl = null;
  function show(vnet) {
    if (ctl) ctl.abort();
    body.replaceChildren();
    if (!vnet) { body.append(h('p', { class: 'muted' }, 'No vnet yet.')); return; }
    ctl = childController(signal);
    const scope = vnetScope(vnet, () => {});
    const rules = h('div', { dataset: { role: 'vnet-rules' } });
    const options = h('div', { dataset: { role: 'vnet-options' } });
    body.append(h('h2', { class: 'card-title' }, 'Firewall rules of vnet ', h('code', null, vnet)), rules, h('h2', { class: 'card-title' }, 'Firewall options'), options);
    mountRules(rules, scope, ctl.signal);
    mountFirewallOptions(options, scope, ctl.signal);
  }
  select.addEventListener('change', () => show(select.value));
  api('/cluster/sdn/vnets', { signal }).then((list) => {
    const names = asList(list).map((v) => v.vnet).filter(Boolean).sort();
    select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    show(names[0] || '');
  }).catch((e) => { if (e.name !== 'AbortError') err.set(e); });
}

const SUBS = [
  { id: 'zones', label: 'Zones', mount: mountZones },
  { id: 'vnets', label: 'VNets', mount: mountVnets },
  { id: 'ipam', label: 'IPAM', mount: mountIpam },
  { id: 'status', label: 'Status', mount: mountStatus },
  { id: 'firewall', label: 'Firewall', mount: mountVnetFirewall },
];

export function mountDcSdn(panel, route) {
  const ctl = new AbortController();
  const cleanup = mountSubTabs(panel, route, 'SDN views', SUBS.map((t) => ({ ...t, mount: (p) => t.mount(p, ctl.signal) || null })));
  return () => { ctl.abort(); cleanup(); };
}
