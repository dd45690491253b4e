// Datacenter → Metric Server: the external servers every node sends its figures to (GET /cluster/metrics/server),
// Graphite or InfluxDB — ID, type, server, port, enabled — with Add (a menu of the two types), and Edit and
// Remove on each row (a double-click edits too). The tab is offered with Sys.Audit on /, the buttons with
// Sys.Modify on / (the API checks both itself). The dialog is metric-server-dialog.js.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { hasCap } from '../login.js';
import { errorSlot, menuButton } from '../ui.js';
import { accessView } from './access-common.js';
import { counter, rowAction, text, toolbar } from './firewall-parts.js';
import { listTable, plural } from './list-view.js';
import { METRIC_TYPES, addMetricServerDialog, editMetricServerDialog } from './metric-server-dialog.js';

const typeLabel = (type) => METRIC_TYPES[type]?.label || text(type) || '–';

export const mountDcMetrics = accessView((panel, signal) => {
  const canModify = hasCap('dc', 'Sys.Modify');
  const count = counter();
  const err = errorSlot('Could not load the metric servers');
  const actionErr = errorSlot();
  const add = canModify ? menuButton({
    label: 'Add', iconName: 'plus', primary: true, data: { action: 'add' },
    items: Object.entries(METRIC_TYPES).map(([type, t]) => ({ label: t.label, data: { type }, onSelect: () => addOne(type) })),
  }) : null;
  const table = listTable('Metric servers', ['ID', 'Type', 'Server', 'Port', 'Enabled', ...(canModify ? [{ label: 'Actions', actions: true }] : [])]);
  table.el.dataset.role = 'metric-servers';
  const readOnly = canModify ? [] : [h('p', { class: 'muted small metric-note', dataset: { role: 'read-only' } },
    'Read only: changing the metric servers takes Sys.Modify on /.')];
  panel.append(toolbar(count, add ? [add] : [], () => refresh()), ...readOnly, err.el, actionErr.el, table.el);

  function row(s) {
    const id = text(s.id);
    const off = Number(s.disable) === 1;
    return h('tr', {
      dataset: { metric: id, type: text(s.type) }, class: off ? 'is-disabled' : null,
      ondblclick: canModify ? (ev) => { if (!ev.target.closest('button')) edit(id); } : null,
    },
    h('th', { scope: 'row', class: 'mono nowrap' }, id),
    h('td', null, typeLabel(s.type)),
    h('td', { class: 'mono' }, text(s.server) || '–'),
    h('td', { class: 'num' }, text(s.port) || '–'),
    h('td', null, off ? h('span', { class: 'status status-error' }, 'No') : 'Yes'),
    canModify ? h('td', { class: 'row-actions' },
      rowAction('edit', 'Edit', 'edit', () => edit(id), `Edit metric server ${id}`),
      rowAction('remove', 'Remove', 'trash', () => remove(s), `Remove metric server ${id}`)) : null);
  }

  async function refresh(focusId = null) {
    try {
      const list = await api('/cluster/metrics/server', { signal });
      const rows = (Array.isArray(list) ? list : []).filter((s) => s && s.id)
        .sort((a, b) => String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
      const focused = focusId ?? document.activeElement?.closest?.('tr[data-metric]')?.dataset.metric;
      table.fill(rows.map(row), canModify ? 'No metric servers: Add one to send the figures of every node to Graphite or InfluxDB.'
        : 'No metric servers.');
      setText(count, plural(rows.length, 'metric server'));
      err.set(null);
      if (focused) {
        const tr = [...table.tbody.rows].find((r) => r.dataset.metric === focused);
        tr?.querySelector('button')?.focus({ preventScroll: true });
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function addOne(type) {
    actionErr.set(null);
    const id = await addMetricServerDialog(type);
    if (id && !signal.aborted) refresh(id);
  }

  async function edit(id) {
    actionErr.set(null);
    try {
      if (await editMetricServerDialog(id) && !signal.aborted) refresh(id);
    } catch (e) {
      actionErr.set(new Error(`Could not read metric server ${id}: ${errorText(e)}`));
    }
  }

  async function remove(s) {
    actionErr.set(null);
    const id = text(s.id);
    const ok = await confirmDialog({
      title: `Remove metric server ${id}?`,
      message: `The nodes stop sending their figures to ${typeLabel(s.type)} server ${text(s.server) || id}`
        + `${s.port ? ` (port ${s.port})` : ''}; a token stored for it is deleted too. What it has received stays there.`,
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/cluster/metrics/server/${seg(id)}`, { method: 'DELETE', signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not remove metric server ${id}: ${errorText(e)}`));
    }
    if (!signal.aborted) refresh();
  }

  refresh();
});
