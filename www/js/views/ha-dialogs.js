// The dialogs of Datacenter → HA: a resource (a guest the HA manager keeps in a state), a rule (PVE 9's
// node-affinity and resource-affinity) and the target of a migration or relocation. Add is a POST to the
// list; Edit is a PUT of only what changed — an emptied value goes into `delete` — with the digest the row
// was read with, so a change someone made meanwhile is refused instead of overwritten.

import { ApiError, api, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { formDialog } from '../dialog.js';
import { editBody, field } from '../form.js';
import { nextId } from '../ui.js';
import { checkList, splitList } from './access-common.js';
import { NAME_PATTERN, text } from './firewall-parts.js';

const flag = (v) => (Number(v) === 1 ? '1' : '');
const byName = (a, b) => String(a).localeCompare(String(b), undefined, { numeric: true });

/** A guest of GET /cluster/resources → its HA resource id: "vm:100" (qemu), "ct:101" (lxc). */
export const sidOf = (g) => `${g.type === 'lxc' ? 'ct' : 'vm'}:${g.vmid}`;

/** "VM 100 (web) on n1" */
const guestLabel = (g) => `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}${g.name ? ` (${g.name})` : ''}${g.node ? ` on ${g.node}` : ''}`;

const RESOURCE_STATES = [['started', 'Started'], ['stopped', 'Stopped'], ['disabled', 'Disabled'], ['ignored', 'Ignored']];
const STATE_HINT = 'Started: kept running. Stopped: kept stopped, still recovered when its node fails. '
  + 'Disabled: stopped and not recovered. Ignored: the manager leaves it alone.';

const RULE_TYPES = [['node-affinity', 'Node affinity'], ['resource-affinity', 'Resource affinity']];
export const ruleTypeLabel = (type) => (RULE_TYPES.find(([t]) => t === type) || [null, text(type) || '–'])[1];
const RULE_ABOUT = {
  'node-affinity': 'Keeps its resources on the nodes ticked, those of the highest priority first.',
  'resource-affinity': 'Keeps its resources together on one node (positive) or on different nodes (negative).',
};
export const AFFINITIES = [['positive', 'Together (positive)'], ['negative', 'Apart (negative)']];

/** A node-affinity rule's nodes, "n1:2,n2" → Map(node → priority text, '' when none given). */
export function parseNodes(v) {
  return new Map(splitList(v).map((e) => {
    const [node, prio = ''] = e.split(':');
    return [node, prio];
  }));
}
const nodesText = (map) => [...map].sort(([a], [b]) => byName(a, b)).map(([n, p]) => (p ? `${n}:${p}` : n)).join(',');
const sortedList = (v) => splitList(v).sort(byName).join(',');

/**
 * Add a guest as an HA resource (res null; guests: those of GET /cluster/resources not yet managed) or edit one
 * (a row of GET /cluster/ha/resources). groups: the legacy HA groups, offered only when there are any (or the
 * resource names one). Resolves to true once saved.
 */
export function resourceDialog(res, { guests = [], groups = [] } = {}) {
  const r = res || {};
  const sid = res
    ? field({ label: 'Guest', name: 'sid', value: res.sid, disabled: true })
    : field({
      label: 'Guest', name: 'sid', type: 'select', required: true,
      options: [['', '–'], ...guests.map((g) => [sidOf(g), guestLabel(g)])],
    });
  const state = field({ label: 'Requested state', name: 'state', type: 'select', options: RESOURCE_STATES,
    value: text(r.state) || 'started', hint: STATE_HINT, wide: true });
  const maxRestart = field({ label: 'Max. restarts', name: 'max_restart', type: 'number', min: 0, max: 10, step: 1,
    value: text(r.max_restart ?? 1), hint: 'Start attempts on the same node after a failed start.' });
  const maxRelocate = field({ label: 'Max. relocations', name: 'max_relocate', type: 'number', min: 0, max: 10, step: 1,
    value: text(r.max_relocate ?? 1), hint: 'Then attempts on other nodes.' });
  const failback = field({ label: 'Failback: back to its preferred node once that node is back', name: 'failback', type: 'checkbox',
    value: text(r.failback ?? 1) !== '0' });
  const groupNames = [...groups, ...(r.group && !groups.includes(r.group) ? [r.group] : [])];
  const group = groupNames.length ? field({
    label: 'Group (legacy)', name: 'group', type: 'select', options: [['', 'None'], ...groupNames], value: text(r.group),
    hint: 'Deprecated since PVE 9: node-affinity rules replace groups.',
  }) : null;
  const comment = field({ label: 'Comment', name: 'comment', value: text(r.comment), wide: true });
  const fields = [sid, state, maxRestart, maxRelocate, failback, group, comment].filter(Boolean);
  const wanted = () => ({
    state: state.get(), max_restart: maxRestart.get(), max_relocate: maxRelocate.get(), failback: failback.get() ? '1' : '0',
    comment: comment.get(), ...(group ? { group: group.get() } : {}),
  });
  return formDialog({
    title: res ? `Edit HA resource ${res.sid}` : 'Add an HA resource',
    className: 'ha-dialog',
    fields,
    submitLabel: res ? 'Save' : 'Add',
    onSubmit: async () => {
      if (!res) {
        const body = { sid: sid.get() };
        for (const [k, v] of Object.entries(wanted())) if (v !== '') body[k] = v;
        await api('/cluster/ha/resources', { method: 'POST', body });
        return;
      }
      const before = {
        state: text(r.state), max_restart: text(r.max_restart), max_relocate: text(r.max_relocate),
        failback: text(r.failback), comment: text(r.comment), group: text(r.group),
      };
      const body = editBody(before, wanted());
      if (!Object.keys(body).length) return;
      if (r.digest) body.digest = r.digest;
      await api(`/cluster/ha/resources/${seg(res.sid)}`, { method: 'PUT', body });
    },
  });
}

/**
 * The nodes of a node-affinity rule: a box and a priority per node (nodes the rule names that are not in the
 * cluster stay offered, ticked). → the field interface of form.js, plus check(): a message about a bad
 * priority, or null (a <fieldset> does not check the inputs inside it).
 */
function nodePicker(value, nodes) {
  const chosen = parseNodes(value);
  const names = [...new Set([...nodes, ...chosen.keys()])].sort(byName);
  const errId = nextId('ha-nodes-err');
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  const rows = names.map((node) => {
    const box = h('input', { type: 'checkbox', id: nextId('ha-node'), value: node, checked: chosen.has(node) });
    const prio = h('input', {
      type: 'number', id: nextId('ha-prio'), name: 'priority', min: 0, max: 1000, step: 1, placeholder: '0',
      value: chosen.get(node) || '', disabled: !chosen.has(node), dataset: { node },
    });
    box.addEventListener('change', () => { prio.disabled = !box.checked; self.setError(null); });
    prio.addEventListener('input', () => self.setError(null));
    const el = h('div', { class: 'ha-node', dataset: { node } },
      h('label', { class: 'check', for: box.id }, box, ' ', node),
      h('label', { class: 'ha-prio', for: prio.id }, 'Priority', prio));
    return { node, box, prio, el };
  });
  const input = h('fieldset', { class: 'check-fieldset', name: 'nodes', 'aria-describedby': errId },
    h('legend', null, 'Nodes'),
    h('p', { class: 'field-hint' }, 'Where its resources may run; a higher priority is preferred (none given: 0).'),
    rows.length ? h('div', { class: 'ha-nodes' }, rows.map((r) => r.el)) : h('p', { class: 'muted small' }, 'No nodes.'),
    err);
  const self = {
    el: h('div', { class: 'field field-wide' }, input), input, name: 'nodes', sub: null,
    get: () => nodesText(new Map(rows.filter((r) => r.box.checked).map((r) => [r.node, r.prio.value.trim()]))),
    check() {
      const bad = rows.find((r) => r.box.checked && !r.prio.checkValidity());
      return bad ? `Priority of ${bad.node}: ${bad.prio.validationMessage}` : null;
    },
    setError(msg) {
      setText(err, msg || '');
      err.hidden = !msg;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    },
    focus() { (rows[0]?.box || input).focus(); },
  };
  return self;
}

/**
 * Add an HA rule (rule null) or edit one (a row of GET /cluster/ha/rules; its type stays). resources: the HA
 * resources' ids, labels: {sid: text shown}; nodes: the cluster's node names. The type picked shows its own
 * options: nodes and strict for node-affinity, affinity for resource-affinity. Resolves to true once saved.
 */
export function ruleDialog(rule, { resources = [], nodes = [], labels = {} } = {}) {
  const r = rule || {};
  const id = field({ label: 'Rule', name: 'rule', value: text(r.rule), required: true, pattern: NAME_PATTERN, disabled: !!rule,
    hint: rule ? null : 'A letter, then letters, digits, - or _.' });
  const type = field({ label: 'Type', name: 'type', type: 'select', options: RULE_TYPES, value: text(r.type) || 'node-affinity',
    disabled: !!rule, hint: ' ', wide: true });
  const typeHint = type.el.querySelector('.field-hint');
  const members = checkList({ label: 'Resources', name: 'resources', options: resources, value: splitList(r.resources), labels,
    columns: true, hint: 'The HA resources the rule is about.', empty: 'No HA resources yet: add them under Resources first.' });
  const nodePick = nodePicker(text(r.nodes), nodes);
  const strict = field({ label: 'Strict: on no other node, even when none of these can take them', name: 'strict', type: 'checkbox',
    value: flag(r.strict) === '1' });
  const affinity = field({ label: 'Affinity', name: 'affinity', type: 'select', options: AFFINITIES, value: text(r.affinity) || 'positive' });
  const enabled = field({ label: 'Enabled', name: 'disable', type: 'checkbox', value: flag(r.disable) !== '1' });
  const comment = field({ label: 'Comment', name: 'comment', value: text(r.comment), wide: true });
  const sync = () => {
    const t = type.get();
    nodePick.el.hidden = strict.el.hidden = t !== 'node-affinity';
    affinity.el.hidden = t !== 'resource-affinity';
    setText(typeHint, RULE_ABOUT[t] || '');
  };
  type.input.addEventListener('change', sync);
  sync();

  const own = (t) => (t === 'node-affinity' ? { nodes: nodePick.get(), strict: strict.get() ? '1' : '' } : { affinity: affinity.get() });
  const wanted = (t) => ({ resources: sortedList(members.get()), ...own(t), disable: enabled.get() ? '' : '1', comment: comment.get() });
  return formDialog({
    title: rule ? `Edit HA rule ${rule.rule}` : 'Add an HA rule',
    className: 'ha-dialog',
    fields: [id, type, members, nodePick, strict, affinity, enabled, comment],
    submitLabel: rule ? 'Save' : 'Add',
    onSubmit: async () => {
      const t = type.get();
      const bad = t === 'node-affinity' ? nodePick.check() : null;
      if (bad) throw new ApiError(400, bad, { nodes: bad });
      if (!rule) {
        const body = { rule: id.get(), type: t };
        for (const [k, v] of Object.entries(wanted(t))) if (v !== '') body[k] = v;
        await api('/cluster/ha/rules', { method: 'POST', body });
        return;
      }
      const before = {
        resources: sortedList(r.resources), disable: flag(r.disable), comment: text(r.comment),
        ...(t === 'node-affinity' ? { nodes: nodesText(parseNodes(r.nodes)), strict: flag(r.strict) } : { affinity: text(r.affinity) }),
      };
      const body = editBody(before, wanted(t));
      if (!Object.keys(body).length) return;
      body.type = t; // PVE's update asks for it (and refuses another)
      if (r.digest) body.digest = r.digest;
      await api(`/cluster/ha/rules/${seg(rule.rule)}`, { method: 'PUT', body });
    },
  });
}

/**
 * Ask the HA manager to move a resource (POST …/migrate, or …/relocate: stop, move, start) to a node of `nodes`
 * (the online ones) other than `current`. The request only queues the move. Resolves to the target, or null.
 */
export function moveDialog(res, { relocate = false, nodes = [], current = null } = {}) {
  const what = relocate ? 'Relocate' : 'Migrate';
  const targets = nodes.filter((n) => n !== current).sort(byName);
  const node = field({ label: 'Target node', name: 'node', type: 'select', required: true, options: targets });
  const body = h('div', { class: 'form-grid' }, node.el,
    targets.length ? null : h('p', { class: 'field field-wide muted', dataset: { role: 'no-target' } }, 'No other node is online.'));
  let target = null;
  return formDialog({
    title: `${what} HA resource ${res.sid}`,
    intro: relocate
      ? 'The HA manager stops the guest, moves it to the target node and starts it there.'
      : 'The HA manager moves the guest to the target node on its next round; the Status tab shows the move.',
    fields: [node], body, submitLabel: what, className: 'ha-dialog',
    onSubmit: async () => {
      target = node.get();
      await api(`/cluster/ha/resources/${seg(res.sid)}/${relocate ? 'relocate' : 'migrate'}`, { method: 'POST', body: { node: target } });
    },
  }).then((ok) => (ok ? target : null));
}
