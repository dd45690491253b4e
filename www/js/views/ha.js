// Datacenter → HA: PVE's high availability, as sub-tabs.
//   Status    — GET /cluster/ha/status/current every 3 s: quorum and master on top, then each node's local
//               resource manager (LRM) with Enter / Leave maintenance (POST /cluster/ha/status/maintenance,
//               beyond PVE, whose CLI alone has it), then each service.
//   Resources — GET /cluster/ha/resources, with where each one is and its state from the status (every 5 s):
//               Add, Edit, Remove, and Migrate / Relocate, which only queue a request the master acts on in
//               its next round: the rows follow the move.
//   Rules     — GET /cluster/ha/rules (PVE 9): node-affinity and resource-affinity, Add, Edit, Remove.
//   Groups    — GET /cluster/ha/groups, read only: PVE 9 replaces them with node-affinity rules.
// The dialogs are in ha-dialogs.js.

import { api, errorText, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { formatTimestamp, formatTimestampLong } from '../format.js';
import { isOnline, loadNodes } from '../nodes.js';
import { poll } from '../poll.js';
import { isGuest, loadResources } from '../resources.js';
import { hashFor } from '../router.js';
import { errorSlot } from '../ui.js';
import { splitList } from './access-common.js';
import { actionButton, counter, pickList, rowAction, text, toolbar } from './firewall-parts.js';
import { listTable, plural } from './list-view.js';
import { mountSubTabs } from './subtabs.js';
import { card } from './summary-parts.js';
import { AFFINITIES, moveDialog, parseNodes, resourceDialog, ruleDialog, ruleTypeLabel, sidOf } from './ha-dialogs.js';

const STATUS_MS = 3000;
const RESOURCES_MS = 5000;

const asList = (v) => (Array.isArray(v) ? v : []);
const bySid = (a, b) => text(a).localeCompare(text(b), undefined, { numeric: true });

/** The state in a master's or an LRM's status line: "n1 (active, Fri Dec  4 22:00:00 2026)" → "active". */
const statusMode = (s) => (/\(([^,)]+)/.exec(text(s))?.[1] || text(s)).trim();

/** ok | warning | error for a manager's state. */
const modeKind = (mode) => (/dead|lost|fence|error/.test(mode) ? 'error' : /maintenance|wait|unknown/.test(mode) ? 'warning' : 'ok');

/** A service's state: running or resting where asked is fine; moving or waiting is worth a look. */
const SERVICE_KIND = { started: 'ok', stopped: 'muted', disabled: 'muted', ignored: 'muted', error: 'error', fence: 'error', recovery: 'error' };
const serviceKind = (state) => SERVICE_KIND[state] || 'warning';

function statusText(label, kind, title = null) {
  if (kind === 'muted') return h('span', { class: 'status muted', title }, h('span', { class: 'status-text' }, label));
  return h('span', { class: `status status-${kind}`, title }, icon(kind === 'ok' ? 'check' : 'alert'), h('span', { class: 'status-text' }, label));
}

/** "vm:100" → a link to VM 100, "ct:101" → to CT 101. */
function sidLink(sid) {
  const m = /^(vm|ct):(\d+)$/.exec(text(sid));
  return m ? h('a', { class: 'link mono', href: hashFor(`${m[1] === 'vm' ? 'qemu' : 'lxc'}/${m[2]}`) }, sid) : h('span', { class: 'mono' }, text(sid));
}

/**
 * Refill a table that refreshes on a timer: refill(key, fill) does nothing when the data (key) did not change, so
 * a screen reader or a focused button is left alone; otherwise fill() runs and a focused row control gets the focus
 * back in the new row of the same data-<attr>.
 */
function refiller(box, attr) {
  let shown = null;
  return (key, fill) => {
    if (key === shown) return;
    shown = key;
    const at = document.activeElement;
    const was = at && box.contains(at) ? at.closest('tr')?.dataset[attr] : undefined;
    fill();
    if (was === undefined) return;
    const row = [...box.querySelectorAll('tbody tr')].find((r) => r.dataset[attr] === was);
    (row?.querySelector(`[data-action="${at.dataset.action}"]`) || row?.querySelector('button, input'))?.focus({ preventScroll: true });
  };
}

/** The line saying what was asked of the manager (it acts later). */
const noteLine = () => h('p', { class: 'muted small ha-note', role: 'status', dataset: { role: 'ha-note' } });

/** The guests of the cluster by HA resource id ({} when they cannot be listed: names are a nicety). */
async function guestsBySid() {
  const list = await loadResources({ maxAge: 10000 }).catch(() => []);
  return new Map(list.filter(isGuest).map((g) => [sidOf(g), g]));
}

// --- Status --------------------------------------------------------------------------------------

function mountStatus(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the HA status');
  const actionErr = errorSlot();
  const note = noteLine();
  const quorum = h('div', { class: 'health', dataset: { role: 'ha-quorum' } }, '–');
  const master = h('div', { class: 'health', dataset: { role: 'ha-master' } }, '–');
  const lrms = listTable('Local resource managers', ['Node', 'State', { label: 'Updated', optional: true }, { label: 'Actions', actions: true }]);
  const services = listTable('HA services', ['Service', 'Node', 'State', 'Requested', { label: 'Max. restarts / relocations', optional: true }]);
  lrms.el.dataset.role = 'ha-lrms';
  services.el.dataset.role = 'ha-services';
  lrms.el.prepend(h('h2', { class: 'card-title' }, 'Nodes'));
  services.el.prepend(h('h2', { class: 'card-title' }, 'Services'));
  panel.append(toolbar(count, [], () => loop.now()), note, err.el, actionErr.el,
    h('div', { class: 'cards ha-summary' }, card('Quorum', quorum), card('Master', master)), lrms.el, services.el);
  const refillLrms = refiller(lrms.el, 'lrm');
  const refillServices = refiller(services.el, 'sid');
  let shownSummary = null;

  function lrmRow(r) {
    const node = text(r.node);
    const mode = statusMode(r.status);
    const resting = /maintenance/.test(text(r.status));
    return h('tr', { dataset: { lrm: node, mode } },
      h('th', { scope: 'row' }, node),
      h('td', null, statusText(mode, modeKind(mode), text(r.status))),
      h('td', { class: 'optional nowrap', title: formatTimestampLong(r.timestamp) || null }, formatTimestamp(r.timestamp)),
      h('td', { class: 'row-actions' }, resting
        ? rowAction('leave-maintenance', 'Leave maintenance', 'play', () => maintenance(node, false), `Take node ${node} out of maintenance`)
        : rowAction('enter-maintenance', 'Enter maintenance', 'pause', () => maintenance(node, true), `Put node ${node} into maintenance`)));
  }

  function serviceRow(r) {
    const state = text(r.state || r.crm_state) || 'unknown';
    return h('tr', { dataset: { sid: text(r.sid), state } },
      h('th', { scope: 'row' }, sidLink(r.sid)),
      h('td', null, text(r.node) || '–'),
      h('td', null, statusText(r.target ? `${state} → ${r.target}` : state, serviceKind(state), text(r.status))),
      h('td', null, text(r.request_state) || '–'),
      h('td', { class: 'optional num' }, `${text(r.max_restart) || '–'} / ${text(r.max_relocate) || '–'}`));
  }

  function summary(q, m) {
    const key = JSON.stringify([q, m]);
    if (key === shownSummary) return;
    shownSummary = key;
    quorum.dataset.quorate = q ? String(Number(q.quorate) ? 1 : 0) : '';
    quorum.replaceChildren(q ? statusText(text(q.status), Number(q.quorate) ? 'ok' : 'error') : h('span', { class: 'muted' }, 'Unknown'));
    const mode = m ? statusMode(m.status) : '';
    master.dataset.node = m ? text(m.node) : '';
    master.replaceChildren(m
      ? statusText(`${text(m.node)}: ${mode}`, modeKind(mode), text(m.status))
      : h('span', { class: 'muted' }, 'None: a node becomes master once there is an HA resource.'));
  }

  async function refresh() {
    try {
      const rows = asList(await api('/cluster/ha/status/current', { signal })).filter((r) => r && r.type);
      err.set(null);
      summary(rows.find((r) => r.type === 'quorum'), rows.find((r) => r.type === 'master'));
      const nodes = rows.filter((r) => r.type === 'lrm').sort((a, b) => bySid(a.node, b.node));
      const svcs = rows.filter((r) => r.type === 'service').sort((a, b) => bySid(a.sid, b.sid));
      refillLrms(JSON.stringify(nodes), () => lrms.fill(nodes.map(lrmRow), 'No node runs a local manager yet: they start with the first HA resource.'));
      refillServices(JSON.stringify(svcs), () => services.fill(svcs.map(serviceRow), 'No HA services: add a guest under Resources.'));
      setText(count, `${plural(nodes.length, 'node')} · ${plural(svcs.length, 'service')} · refreshes every ${STATUS_MS / 1000} s`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function maintenance(node, enable) {
    actionErr.set(null);
    if (enable) {
      const ok = await confirmDialog({
        title: `Put node ${node} into maintenance?`,
        message: `The HA manager moves the HA services of ${node} to other nodes, and back once maintenance ends.`,
        confirmLabel: 'Enter maintenance',
      });
      if (!ok) return;
    }
    try {
      await api('/cluster/ha/status/maintenance', { method: 'POST', body: { node, enable: enable ? 1 : 0 }, signal });
      setText(note, `${enable ? 'Maintenance' : 'The end of maintenance'} of ${node} requested: the manager acts on its next round.`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      actionErr.set(new Error(`Could not ${enable ? 'put' : 'take'} node ${node} ${enable ? 'into' : 'out of'} maintenance: ${errorText(e)}`));
    }
    loop.now();
  }

  const loop = poll(refresh, STATUS_MS);
  return () => loop.stop();
}

// --- Resources -----------------------------------------------------------------------------------

/** What a resource has other than the defaults: "no failback · group web", or "–". */
const options = (r) => [Number(r.failback ?? 1) ? null : 'no failback', r.group ? `group ${r.group}` : null].filter(Boolean).join(' · ') || '–';

function mountResources(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the HA resources');
  const actionErr = errorSlot();
  const note = noteLine();
  // Migrate and Relocate act on the row picked: four buttons a row would not fit beside the columns.
  const moves = [
    actionButton('migrate', 'Migrate', 'arrow-up', () => move(false)),
    actionButton('relocate', 'Relocate', 'reboot', () => move(true)),
  ];
  for (const b of moves) b.disabled = true;
  panel.append(toolbar(count, [actionButton('add-resource', 'Add', 'plus', () => edit(null), true), ...moves], () => loop.now()),
    note, err.el, actionErr.el);
  const box = h('div', { dataset: { role: 'ha-resources' } });
  panel.append(box);
  let items = [];            // the resources shown
  let states = new Map();    // sid → its service row of the status
  let guests = new Map();    // sid → its guest, for the name and the node
  const list = pickList(box, {
    caption: 'HA resources', noun: 'HA resource', attr: 'sid', keyOf: (r) => r.sid,
    columns: ['Resource', { label: 'Name', optional: true }, 'Requested', 'State', 'Node', { label: 'Restarts / relocations', optional: true },
      { label: 'Options', optional: true }, { label: 'Comment', optional: true }],
    cells: (r) => {
      const st = states.get(r.sid);
      const state = text(st?.state);
      return [
        h('td', { class: 'optional nowrap' }, text(guests.get(r.sid)?.name)),
        h('td', null, text(r.state) || 'started'),
        h('td', null, state ? statusText(st.target ? `${state} → ${st.target}` : state, serviceKind(state)) : '–'),
        h('td', null, text(st?.node) || text(guests.get(r.sid)?.node) || '–'),
        h('td', { class: 'optional num' }, `${text(r.max_restart ?? 1)} / ${text(r.max_relocate ?? 1)}`),
        h('td', { class: 'optional' }, options(r)),
        h('td', { class: 'optional desc-cell' }, text(r.comment)),
      ];
    },
    edit: (r) => edit(r), remove: (r) => remove(r),
    onPick: (r) => { for (const b of moves) b.disabled = !r; },
    empty: 'No HA resources: Add puts a guest under HA management.',
  });
  const refill = refiller(box, 'sid');

  async function refresh() {
    try {
      // Where each one is comes from the status; without it the list still shows.
      const [answer, current, byGuest] = await Promise.all([
        api('/cluster/ha/resources', { signal }),
        api('/cluster/ha/status/current', { signal }).catch((e) => { if (e.name === 'AbortError') throw e; return []; }),
        guestsBySid(),
      ]);
      items = asList(answer).filter((r) => r && r.sid).sort((a, b) => bySid(a.sid, b.sid));
      states = new Map(asList(current).filter((s) => s && s.type === 'service').map((s) => [s.sid, s]));
      guests = byGuest;
      err.set(null);
      const key = JSON.stringify(items.map((r) => [r, states.get(r.sid), guests.get(r.sid)?.name, guests.get(r.sid)?.node]));
      refill(key, () => list.show(items));
      setText(count, plural(items.length, 'HA resource'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(r) {
    actionErr.set(null);
    let listed = [];
    let groups = [];
    try {
      [listed, groups] = await Promise.all([
        r ? [] : api('/cluster/resources', { params: { type: 'vm' }, signal }),
        api('/cluster/ha/groups', { signal }).catch((e) => { if (e.name === 'AbortError') throw e; return []; }),
      ]);
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not list the guests: ${errorText(e)}`));
      return;
    }
    const taken = new Set(items.map((x) => x.sid));
    const free = asList(listed).filter((g) => isGuest(g) && !Number(g.template) && !taken.has(sidOf(g)))
      .sort((a, b) => Number(a.vmid) - Number(b.vmid));
    if (!r && !free.length) {
      actionErr.set(new Error(asList(listed).some(isGuest) ? 'Every guest is an HA resource already.' : 'There is no guest to add.'));
      return;
    }
    const groupNames = asList(groups).map((g) => g && g.group).filter(Boolean).sort(bySid);
    if (await resourceDialog(r, { guests: free, groups: groupNames })) loop.now();
  }

  async function move(relocate) {
    const r = list.picked();
    if (!r) return;
    actionErr.set(null);
    let nodes;
    try {
      nodes = (await loadNodes({ maxAge: 5000 })).filter(isOnline).map((n) => n.node);
    } catch (e) {
      actionErr.set(new Error(`Could not read the node list: ${errorText(e)}`));
      return;
    }
    const target = await moveDialog(r, { relocate, nodes, current: states.get(r.sid)?.node });
    if (!target) return;
    setText(note, `${relocate ? 'Relocation' : 'Migration'} of ${r.sid} to ${target} requested: the HA manager moves it on its next round.`);
    loop.now();
  }

  async function remove(r) {
    actionErr.set(null);
    const ok = await confirmDialog({
      title: `Remove HA resource ${r.sid}?`,
      message: `The guest stays as it is, no longer managed by HA. Rules naming ${r.sid} lose it; a rule left without resources goes.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/ha/resources/${seg(r.sid)}`, { method: 'DELETE', signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not remove HA resource ${r.sid}: ${errorText(e)}`));
    }
    loop.now();
  }

  const loop = poll(refresh, RESOURCES_MS);
  return () => loop.stop();
}

// --- Rules ---------------------------------------------------------------------------------------

/** "n1:2,n2" → "n1 (priority 2), n2" ('–' for none). */
const nodesLabel = (v) => [...parseNodes(v)].map(([n, p]) => (p ? `${n} (priority ${p})` : n)).join(', ') || '–';

/** What a rule says beyond its resources: "n1 (priority 2), n2 · strict", or "Together (positive)". */
function ruleDetail(r) {
  if (r.type === 'resource-affinity') return (AFFINITIES.find(([a]) => a === r.affinity) || [null, text(r.affinity) || '–'])[1];
  return `${nodesLabel(r.nodes)}${Number(r.strict) ? ' · strict' : ''}`;
}

function mountRules(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the HA rules');
  const actionErr = errorSlot();
  panel.append(toolbar(count, [actionButton('add-rule', 'Add', 'plus', () => edit(null), true)], () => refresh()), err.el, actionErr.el);
  const box = h('div', { dataset: { role: 'ha-rules' } });
  panel.append(box);
  const list = pickList(box, {
    caption: 'HA rules', noun: 'rule', attr: 'rule', keyOf: (r) => r.rule,
    columns: ['Rule', 'Type', 'Resources', 'Nodes / affinity', 'Enabled', { label: 'Comment', optional: true }],
    cells: (r) => [
      h('td', null, ruleTypeLabel(r.type)),
      h('td', { class: 'mono' }, splitList(r.resources).join(', ')),
      h('td', null, ruleDetail(r)),
      h('td', null, Number(r.disable) ? h('span', { class: 'status status-error' }, 'No') : 'Yes'),
      h('td', { class: 'optional desc-cell' }, text(r.comment)),
    ],
    edit: (r) => edit(r), remove: (r) => remove(r),
    empty: 'No rules: the HA resources may run on any node.',
  });

  async function refresh() {
    try {
      const rules = asList(await api('/cluster/ha/rules', { signal })).filter((r) => r && r.rule).sort((a, b) => bySid(a.rule, b.rule));
      list.show(rules);
      for (const r of rules) box.querySelector(`tr[data-rule="${CSS.escape(r.rule)}"]`)?.classList.toggle('is-disabled', !!Number(r.disable));
      setText(count, plural(rules.length, 'rule'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(r) {
    actionErr.set(null);
    let resources;
    let nodes;
    let guests;
    try {
      [resources, nodes, guests] = await Promise.all([
        api('/cluster/ha/resources', { signal }),
        loadNodes({ maxAge: 10000 }),
        guestsBySid(),
      ]);
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read the HA resources and nodes: ${errorText(e)}`));
      return;
    }
    const sids = asList(resources).map((x) => x && x.sid).filter(Boolean).sort(bySid);
    const labels = Object.fromEntries(sids.map((sid) => [sid, guests.get(sid)?.name ? `${sid} (${guests.get(sid).name})` : sid]));
    if (await ruleDialog(r, { resources: sids, nodes: nodes.map((n) => n.node), labels })) refresh();
  }

  async function remove(r) {
    actionErr.set(null);
    const ok = await confirmDialog({
      title: `Remove HA rule ${r.rule}?`,
      message: `Rule ${r.rule} (${ruleTypeLabel(r.type)}) no longer constrains where its resources run.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/ha/rules/${seg(r.rule)}`, { method: 'DELETE', signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not remove HA rule ${r.rule}: ${errorText(e)}`));
    }
    if (!signal.aborted) refresh();
  }

  refresh();
}

// --- Groups (legacy) -----------------------------------------------------------------------------

function mountGroups(panel, signal) {
  const count = counter();
  const err = errorSlot('Could not load the HA groups');
  const table = listTable('HA groups', ['Group', 'Nodes', 'Restricted', 'No failback', { label: 'Comment', optional: true }]);
  table.el.dataset.role = 'ha-groups';
  panel.append(toolbar(count, [], () => refresh()),
    h('p', { class: 'muted small ha-note' }, 'HA groups are deprecated since PVE 9, where node-affinity rules (under Rules) replace them. '
      + 'They are shown read only; resources that name a group still follow it.'),
    err.el, table.el);

  async function refresh() {
    try {
      const groups = asList(await api('/cluster/ha/groups', { signal })).filter((g) => g && g.group).sort((a, b) => bySid(a.group, b.group));
      const yes = (v) => (Number(v) ? 'Yes' : 'No');
      table.fill(groups.map((g) => h('tr', { dataset: { group: g.group } },
        h('th', { scope: 'row', class: 'mono' }, g.group),
        h('td', null, nodesLabel(g.nodes)),
        h('td', null, yes(g.restricted)),
        h('td', null, yes(g.nofailback)),
        h('td', { class: 'optional desc-cell' }, text(g.comment)))), 'No HA groups.');
      setText(count, plural(groups.length, 'group'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  refresh();
}

// --- the tab -------------------------------------------------------------------------------------

const SUBS = [
  { id: 'status', label: 'Status', mount: mountStatus },
  { id: 'resources', label: 'Resources', mount: mountResources },
  { id: 'rules', label: 'Rules', mount: mountRules },
  { id: 'groups', label: 'Groups', mount: mountGroups },
];

export function mountDcHa(panel, route) {
  const ctl = new AbortController();
  const cleanup = mountSubTabs(panel, route, 'HA views', SUBS.map((t) => ({ ...t, mount: (p) => t.mount(p, ctl.signal) || null })));
  return () => { ctl.abort(); cleanup(); };
}
