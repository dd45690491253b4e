// A firewall rule list — of the datacenter, a node, a guest or a security group — as a table in the order the
// rules are checked: position, enabled (a checkbox: PUT {list}/{pos} enable=0|1), direction (and interface),
// action (and log level), macro, source, destination, protocol and ports, comment. Add, Insert security group (not
// inside a group), Edit (a double-click too) and Remove (DELETE {list}/{pos}). A rule moves by drag and drop
// or by its Move up / Move down buttons: PUT {list}/{pos} moveto=<place>, counted as PVE counts it — before
// the rule is taken out, so "one down" is pos + 2. Every change carries the digest the list was read with:
// a list changed elsewhere meanwhile refuses it, and the table is read again.

import { api, errorText } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { errorSlot } from '../ui.js';
import { actionButton, counter, text, toolbar } from './firewall-parts.js';
import { directionText, groupRuleDialog, ruleDialog } from './firewall-rule-dialog.js';
import { listTable, plural } from './list-view.js';

/** "In ACCEPT (HTTP)", "Out DROP tcp 23", "Security group web". */
export function ruleSummary(r) {
  if (r.type === 'group') return `Security group ${text(r.action)}`;
  const what = r.macro ? `(${r.macro})` : [text(r.proto), text(r.dport)].filter(Boolean).join(' ');
  return [directionText(r.type), text(r.action), what].filter(Boolean).join(' ');
}

/** mountRules(parent, scope, signal) → {refresh}: the rule list of `scope` (firewall-parts.js) in `parent`. */
export function mountRules(parent, scope, signal) {
  const count = counter();
  const err = errorSlot(`Could not load the rules of ${scope.label}`);
  const actionErr = errorSlot();
  const buttons = [actionButton('add', 'Add', 'plus', () => add(), true)];
  if (scope.kind !== 'group' && scope.kind !== 'vnet') buttons.push(actionButton('insert-group', 'Insert security group', 'shield', () => insertGroup()));
  const table = listTable(`Firewall rules of ${scope.label}`, [
    '#', 'On', 'Direction', 'Action', 'Macro', 'Source', 'Destination', 'Protocol', 'Dest. port',
    { label: 'Source port', optional: true }, { label: 'Comment', optional: true }, { label: 'Actions', actions: true }],
  { className: 'fw-rules' });
  parent.append(toolbar(count, buttons, () => refresh()),
    h('p', { class: 'muted small fw-note' }, 'Rules are checked from the top; the first that matches decides. '
      + 'Drag a row, or use its arrows, to move it.'),
    err.el, actionErr.el, table.el);

  let rules = [];
  let busy = false; // a change is on its way: the positions shown may be about to shift

  function row(r) {
    const pos = Number(r.pos);
    const on = Number(r.enable ?? 0) === 1;
    const box = h('input', { type: 'checkbox', checked: on, disabled: busy });
    box.addEventListener('change', () => change(`Could not ${box.checked ? 'enable' : 'disable'} rule ${pos}`,
      () => api(`${scope.rules}/${pos}`, { method: 'PUT', body: { enable: box.checked ? 1 : 0, digest: r.digest } }),
      () => rowAt(pos)?.querySelector('input[type=checkbox]')?.focus()));
    const cell = (v, cls = null) => h('td', { class: cls }, text(v));
    const aside = (v) => (v ? h('span', { class: 'muted small' }, v) : null);
    // Icon buttons: the table is wide already (their names are their labels and tooltips).
    const iconButton = (action, label, iconName, onclick, off = false, name = `${label} rule ${pos}`) => h('button', {
      type: 'button', class: 'icon-btn', disabled: busy || off, dataset: { action }, 'aria-label': name, title: label, onclick,
    }, icon(iconName));
    const moveBtn = (dir, to, off) => iconButton(dir, `Move ${dir}`, dir === 'up' ? 'arrow-up' : 'arrow-down',
      () => change(`Could not move rule ${pos}`, () => moveRule(r, to), () => focusMoved(pos, to, dir)), off, `Move rule ${pos} ${dir}`);
    const log = r.log && r.log !== 'nolog' ? r.log : '';
    return h('tr', {
      draggable: busy ? 'false' : 'true', class: on ? null : 'is-disabled', dataset: { pos },
      ondblclick: (ev) => { if (!ev.target.closest('button, input, label')) edit(r); },
    },
    h('th', { scope: 'row', class: 'nowrap' }, h('span', { class: 'fw-grip', 'aria-hidden': 'true', title: 'Drag to move' }, '⠿'), String(pos)),
    h('td', null, h('label', { class: 'check' }, box, h('span', { class: 'sr-only' }, `Rule ${pos} enabled`))),
    h('td', { class: 'nowrap' }, directionText(r.type), aside(r.iface ? ` on ${r.iface}` : '')),
    h('td', { class: 'nowrap' }, h('span', { class: r.type === 'group' ? 'mono' : null }, text(r.action)), aside(log ? ` · log ${log}` : '')),
    cell(r.macro),
    cell(r.source, 'mono'),
    cell(r.dest, 'mono'),
    cell(r['icmp-type'] ? `${text(r.proto)} (${r['icmp-type']})` : r.proto),
    cell(r.dport, 'mono'),
    cell(r.sport, 'optional mono'),
    cell(r.comment, 'optional desc-cell'),
    h('td', { class: 'row-actions' },
      h('span', { class: 'order-moves' },
        moveBtn('up', pos - 1, pos === 0), moveBtn('down', pos + 2, pos === rules.length - 1),
        iconButton('edit', 'Edit', 'edit', () => edit(r)),
        iconButton('remove', 'Remove', 'trash', () => remove(r)))));
  }

  async function refresh() {
    try {
      const list = await api(scope.rules, { signal });
      rules = (Array.isArray(list) ? list : []).filter((r) => r && Number.isInteger(Number(r.pos)))
        .sort((a, b) => Number(a.pos) - Number(b.pos));
      table.fill(rules.map(row), 'No rules.');
      setText(count, plural(rules.length, 'rule'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  /** Run one change (a move, a toggle, a removal), then read the list again; then(): after the table is redrawn. */
  async function change(what, fn, then = null) {
    if (busy) return;
    busy = true;
    for (const el of table.tbody.querySelectorAll('button, input')) el.disabled = true;
    for (const tr of table.tbody.rows) tr.draggable = false;
    actionErr.set(null);
    try {
      await fn();
    } catch (e) {
      if (e.name === 'AbortError') return;
      actionErr.set(new Error(`${what}: ${errorText(e)}`));
      then = null;
    } finally {
      busy = false;
    }
    await refresh();
    then?.();
  }

  const moveRule = (r, to) => api(`${scope.rules}/${Number(r.pos)}`, { method: 'PUT', body: { moveto: to, digest: r.digest } });

  const rowAt = (pos) => [...table.tbody.rows].find((x) => x.dataset.pos === String(pos));

  /** Keyboard users keep moving the same rule: its button gets the focus at the rule's new place. */
  function focusMoved(pos, to, dir) {
    const tr = rowAt(to > pos ? to - 1 : to);
    const b = tr?.querySelector(`button[data-action=${dir}]:not(:disabled)`) || tr?.querySelector('button[data-action=edit]');
    b?.focus();
  }

  // Drag and drop: the row lands before or after the row it is dropped on (the upper or lower half).
  let dragFrom = null;
  const rowOf = (ev) => (ev.target instanceof Element ? ev.target : ev.target?.parentElement)?.closest('tr[data-pos]');
  const below = (ev, tr) => { const box = tr.getBoundingClientRect(); return ev.clientY > box.top + box.height / 2; };
  const unmark = () => { for (const tr of table.tbody.rows) tr.classList.remove('drop-before', 'drop-after', 'is-dragged'); };
  table.tbody.addEventListener('dragstart', (ev) => {
    const tr = rowOf(ev);
    if (!tr || busy) { ev.preventDefault(); return; }
    dragFrom = Number(tr.dataset.pos);
    ev.dataTransfer.effectAllowed = 'move';
    ev.dataTransfer.setData('text/plain', `rule ${dragFrom}`);
    tr.classList.add('is-dragged');
  });
  table.tbody.addEventListener('dragover', (ev) => {
    const tr = dragFrom === null ? null : rowOf(ev);
    if (!tr) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'move';
    const after = below(ev, tr);
    for (const x of table.tbody.rows) {
      x.classList.toggle('drop-before', x === tr && !after);
      x.classList.toggle('drop-after', x === tr && after);
    }
  });
  table.tbody.addEventListener('drop', (ev) => {
    const tr = dragFrom === null ? null : rowOf(ev);
    const from = dragFrom;
    dragFrom = null;
    unmark();
    if (!tr) return;
    ev.preventDefault();
    const to = Number(tr.dataset.pos) + (below(ev, tr) ? 1 : 0);
    const rule = rules.find((r) => Number(r.pos) === from);
    if (!rule || to === from || to === from + 1) return; // dropped where it was
    change(`Could not move rule ${from}`, () => moveRule(rule, to));
  });
  table.tbody.addEventListener('dragend', () => { dragFrom = null; unmark(); });
  table.tbody.addEventListener('dragleave', (ev) => { if (!table.tbody.contains(ev.relatedTarget)) unmark(); });

  async function add() {
    actionErr.set(null);
    if (await ruleDialog(scope, null, { signal })) refresh();
  }

  async function insertGroup() {
    actionErr.set(null);
    if (await groupRuleDialog(scope, null, { signal })) refresh();
  }

  async function edit(r) {
    if (busy) return;
    actionErr.set(null);
    if (await ruleDialog(scope, r, { signal })) refresh();
  }

  async function remove(r) {
    const pos = Number(r.pos);
    const ok = await confirmDialog({
      title: `Remove rule ${pos}?`, confirmLabel: 'Remove', danger: true,
      message: `The rule "${ruleSummary(r)}"${r.comment ? ` (${r.comment})` : ''} is removed from ${scope.label}; the rules after it move up.`,
    });
    if (ok) change(`Could not remove rule ${pos}`, () => api(`${scope.rules}/${pos}`, { method: 'DELETE', params: { digest: r.digest } }));
  }

  refresh();
  return { refresh };
}
