// Datacenter → Storage: the storage configuration (GET /storage) as a
// table: id, type, content, where it lives, shared, enabled, nodes.

import { api } from '../api.js';
import { h } from '../dom.js';
import { accessView, listPanel, showError, toolButton, yesNo } from './access-common.js';
import { contentText } from './node-storage.js';

export const mountDcStorage = accessView((panel, signal) => {
  const list = listPanel(panel, {
    what: 'storages', caption: 'Configured storages',
    columns: ['ID', 'Type', { label: 'Content', optional: true }, 'Path / target', 'Shared', 'Enabled', { label: 'Nodes', optional: true }],
    buttons: [toolButton('Reload', 'refresh', () => refresh())],
  });

  async function refresh() {
    try {
      const all = await api('/storage', { signal });
      const rows = (Array.isArray(all) ? all : []).filter((s) => s && s.storage)
        .sort((a, b) => a.storage.localeCompare(b.storage))
        .map((s) => h('tr', { dataset: { storage: s.storage } },
          h('th', { scope: 'row' }, s.storage),
          h('td', null, s.type || '–'),
          h('td', { class: 'optional' }, contentText(s.content)),
          h('td', null, h('code', null, s.path || s.export || s.pool || s.vgname || s.thinpool || s.server || '–')),
          h('td', null, yesNo(s.shared, 0)),
          h('td', null, Number(s.disable) ? 'No' : 'Yes'),
          h('td', { class: 'optional' }, s.nodes || 'all'),
          h('td')));
      list.show(rows, `${rows.length} storage${rows.length === 1 ? '' : 's'}`, 'No storage is configured.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  refresh();
});
