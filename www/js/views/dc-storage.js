// Datacenter → Storage: the storage configuration (GET /storage) as a table —
// id, type, content, where it lives, shared, enabled, nodes — and its editor:
// Add (one entry per type of storage-types.js), Edit and Remove act on the row picked
// (a radio button per row; a double-click or Enter edits). Dialogs: storage-dialog.js.

import { api, errorText, seg } from '../api.js';
import { h } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { errorSlot, menuButton } from '../ui.js';
import { accessView, listPanel, showError, toolButton, yesNo } from './access-common.js';
import { contentText } from './node-storage.js';
import { STORAGE_TYPES, addStorageDialog, editStorageDialog } from './storage-dialog.js';
import { storagePlace as where } from './storage-types.js';

export const mountDcStorage = accessView((panel, signal) => {
  const action = (id, label, iconName, fn) => {
    const b = toolButton(label, iconName, fn);
    b.dataset.action = id;
    return b;
  };
  const editBtn = action('edit', 'Edit', 'edit', () => edit());
  const removeBtn = action('remove', 'Remove', 'trash', () => remove());
  const add = menuButton({
    label: 'Add', iconName: 'plus', primary: true, data: { action: 'add' },
    items: Object.entries(STORAGE_TYPES).map(([type, t]) => ({ label: t.label, data: { type }, onSelect: () => addOne(type) })),
  });
  const actionErr = errorSlot();
  const list = listPanel(panel, {
    what: 'storages', before: [actionErr.el], caption: 'Configured storages',
    columns: ['ID', 'Type', { label: 'Content', optional: true }, 'Path / target', { label: 'Shared', optional: true }, 'Enabled', { label: 'Nodes', optional: true }],
    buttons: [add, editBtn, removeBtn, toolButton('Reload', 'refresh', () => refresh())],
  });
  // The toolbar acts on the picked row: no column of row buttons.
  list.tbody.parentElement.querySelector('thead th.actions-col')?.remove();
  const pickName = `storage-pick-${Math.random().toString(36).slice(2, 8)}`;
  let rows = [];           // the storages shown
  let picked = null;       // the ID of the row picked, if it is still there

  function pick(id) {
    picked = rows.some((s) => s.storage === id) ? id : null;
    for (const tr of list.tbody.rows) {
      const on = tr.dataset.storage === picked;
      tr.classList.toggle('is-picked', on);
      const radio = tr.querySelector('input[type=radio]');
      if (radio) radio.checked = on;
    }
    editBtn.disabled = removeBtn.disabled = !picked;
  }

  function row(s) {
    const radio = h('input', { type: 'radio', name: pickName, value: s.storage, 'aria-label': `Pick storage ${s.storage}` });
    radio.addEventListener('change', () => pick(s.storage));
    radio.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); pick(s.storage); edit(); } });
    const disabled = Number(s.disable);
    return h('tr', {
      dataset: { storage: s.storage },
      onclick: (ev) => { if (ev.target !== radio) pick(s.storage); },
      ondblclick: () => { pick(s.storage); edit(); },
    },
    h('th', { scope: 'row' }, h('label', { class: 'row-pick' }, radio, h('span', null, s.storage))),
    h('td', null, STORAGE_TYPES[s.type]?.label || s.type || '–'),
    h('td', { class: 'optional' }, contentText(s.content)),
    h('td', { class: 'path-cell' }, h('code', null, where(s) || '–')),
    h('td', { class: 'optional' }, yesNo(s.shared, 0)),
    h('td', null, disabled ? h('span', { class: 'status status-error' }, 'No') : 'Yes'),
    h('td', { class: 'optional' }, s.nodes ? s.nodes.split(',').join(', ') : 'all'));
  }

  async function refresh(select = picked) {
    try {
      const all = await api('/storage', { signal });
      const focused = document.activeElement?.closest?.('tr[data-storage]')?.dataset.storage;
      rows = (Array.isArray(all) ? all : []).filter((s) => s && s.storage).sort((a, b) => a.storage.localeCompare(b.storage));
      list.show(rows.map(row), `${rows.length} storage${rows.length === 1 ? '' : 's'}`, 'No storage is configured.');
      pick(select);
      if (focused) [...list.tbody.rows].find((r) => r.dataset.storage === focused)?.querySelector('input')?.focus({ preventScroll: true });
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  async function addOne(type) {
    actionErr.set(null);
    const id = await addStorageDialog(type);
    if (id) refresh(id);
  }

  async function edit() {
    if (!picked) return;
    try {
      actionErr.set(null);
      if (await editStorageDialog(picked)) refresh();
    } catch (e) {
      actionErr.set(new Error(`Could not read storage ${picked}: ${errorText(e)}`));
    }
  }

  async function remove() {
    const s = rows.find((x) => x.storage === picked);
    if (!s) return;
    const place = where(s);
    const ok = await confirmDialog({
      title: `Remove storage ${s.storage}?`,
      message: `Storage ${s.storage} is removed from the configuration of every node. Its volumes stay where they are`
        + `${place ? ` (${place})` : ''}: nothing is deleted from disk, but guests whose disks are on it can no longer reach them `
        + 'until a storage with this ID is added again.',
      confirmLabel: 'Remove', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/storage/${seg(s.storage)}`, { method: 'DELETE' });
      actionErr.set(null);
    } catch (e) {
      actionErr.set(new Error(`Could not remove storage ${s.storage}: ${errorText(e)}`));
    }
    refresh(null);
  }

  pick(null);
  refresh();
});
