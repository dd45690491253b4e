// Node → Storage: the node's storages with their status and usage
// (GET /nodes/{node}/storage); one storage's content opens in the same tab
// (#node/<node>/storage/<id>, see storage-content.js).

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot, meter, nextId } from '../ui.js';
import { formatBytes, formatPercent, ratio } from '../format.js';
import { poll } from '../poll.js';
import { navigate } from '../router.js';
import { CONTENT_LABELS, splitContent } from '../storage.js';
import { mountStorageContent } from './storage-content.js';

const REFRESH_MS = 10000;

/** A usage cell (or another element, `tag`): a meter and "12.5% (1.2 GiB of 9.8 GiB)". */
export function usageCell(s, tag = 'td') {
  if (!Number(s.total)) return h(tag, { class: 'muted' }, s.active === 0 ? 'not active' : '–');
  const id = nextId('use');
  const m = meter(id);
  const frac = ratio(s.used, s.total);
  const text = `${formatPercent(frac, 1)} (${formatBytes(s.used)} of ${formatBytes(s.total)})`;
  m.update(frac, text);
  return h(tag, { class: 'usage-cell' }, m.el, h('span', { id, class: 'small' }, text));
}

export const contentText = (content) => splitContent(content).map((c) => CONTENT_LABELS[c] || c).join(', ');

export function mountNodeStorage(panel, route) {
  if (route.sub) return mountStorageContent(panel, route.node, route.sub);
  const { node } = route;
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the storages of ${node}`);
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const tbody = h('tbody');
  panel.append(
    h('div', { class: 'panel-toolbar' }, count,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', onclick: () => loop.now() }, icon('refresh'), 'Reload'))),
    err.el,
    h('section', { class: 'card card-flush', 'aria-label': `Storages of ${node}` }, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid storage-grid' },
        h('caption', { class: 'sr-only' }, `Storages of ${node}`),
        h('thead', null, h('tr', null, ['Storage', 'Type', 'Content', 'Status', 'Usage'].map((c, i) =>
          h('th', { scope: 'col', class: i === 2 ? 'optional' : null }, c)))),
        tbody))));

  async function refresh() {
    try {
      const list = await api(`/nodes/${seg(node)}/storage`, { signal: ctrl.signal });
      const rows = (Array.isArray(list) ? list : []).filter((s) => s && s.storage)
        .sort((a, b) => a.storage.localeCompare(b.storage))
        .map((s) => h('tr', { dataset: { storage: s.storage } },
          h('th', { scope: 'row' }, h('button', {
            type: 'button', class: 'link', onclick: () => navigate(route.key, `storage/${encodeURIComponent(s.storage)}`),
          }, icon('disk'), s.storage)),
          h('td', null, s.type || '–'),
          h('td', { class: 'optional' }, contentText(s.content)),
          h('td', null, [Number(s.enabled ?? 1) ? (Number(s.active) ? 'active' : 'not active') : 'disabled', Number(s.shared) ? 'shared' : null].filter(Boolean).join(', ')),
          usageCell(s)));
      tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No storage is available on this node.'))]));
      setText(count, `${rows.length} storage${rows.length === 1 ? '' : 's'}`);
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  const loop = poll(refresh, REFRESH_MS);
  return () => { loop.stop(); ctrl.abort(); };
}
