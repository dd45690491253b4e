// Guest → Backup: the guest's backups on every storage of its node that holds
// backups (GET …/storage/{id}/content?content=backup&vmid=N), newest first;
// taking one (POST …/vzdump), restoring one over the guest, showing the
// configuration it archived and removing one. Tasks go to the feedback line.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatBytes, formatTimestamp } from '../format.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { taskFeedback, isUpid } from '../taskrun.js';
import { guestNoun, guestView } from '../guests.js';
import { listStorages, storageLabel, volName } from '../storage.js';
import { rowButton } from './access-common.js';
import { COMPRESS, restoreBackup, showBackupConfig } from './backup-restore.js';

const MODES = [['snapshot', 'Snapshot'], ['suspend', 'Suspend'], ['stop', 'Stop']];

export const mountGuestBackups = guestView((panel, guest, signal) => {
  const node = seg(guest.node);
  const noun = guestNoun(guest.type);
  const err = errorSlot(`Could not load the backups of ${noun} ${guest.vmid}`);
  const feedback = taskFeedback({ signal });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const tbody = h('tbody');
  const backupBtn = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'backup' }, onclick: backupNow },
    icon('archive'), 'Backup now');
  let storages = [];
  let busy = false;

  panel.append(
    h('div', { class: 'panel-toolbar' }, count, h('div', { class: 'actions' }, backupBtn,
      h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el,
    h('div', { class: 'card card-flush' }, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid backups' },
        h('caption', { class: 'sr-only' }, `Backups of ${noun} ${guest.vmid}`),
        h('thead', null, h('tr', null,
          ['Date', 'Size', 'Format', 'Storage', 'Notes'].map((c, i) => h('th', { scope: 'col', class: i === 2 || i === 3 ? 'optional' : null }, c)),
          h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        tbody))));

  function row(v) {
    const name = volName(v.volid);
    const locked = Number(v.protected) === 1;
    const del = rowButton('Remove', 'trash', () => remove(v), `Remove backup ${name}`);
    if (locked) Object.assign(del, { disabled: true, title: 'A protected backup cannot be removed.' });
    return h('tr', { dataset: locked ? { volid: v.volid, protected: '1' } : { volid: v.volid } },
      h('th', { scope: 'row', class: 'nowrap' }, formatTimestamp(v.ctime),
        locked ? icon('lock', { cls: 'vol-lock', label: 'Protected' }) : null),
      h('td', null, formatBytes(v.size)),
      h('td', { class: 'optional' }, v.format || '–'),
      h('td', { class: 'optional' }, v.volid.split(':')[0]),
      h('td', { class: 'desc-cell' }, v.notes || ''),
      h('td', { class: 'row-actions' },
        rowButton('Restore', 'undo', () => restore(v), `Restore ${name}`),
        rowButton('Show configuration', 'options', () => showBackupConfig(guest.node, v.volid), `Show the configuration in ${name}`),
        del));
  }

  async function refresh() {
    try {
      storages = await listStorages(guest.node, 'backup', { signal });
      const lists = await Promise.all(storages.map((s) => api(`/nodes/${node}/storage/${seg(s.storage)}/content`,
        { params: { content: 'backup', vmid: guest.vmid }, signal })));
      const vols = lists.flat().filter((v) => v && v.volid && Number(v.vmid) === guest.vmid)
        .sort((a, b) => (Number(b.ctime) || 0) - (Number(a.ctime) || 0));
      tbody.replaceChildren(...(vols.length ? vols.map(row)
        : [h('tr', null, h('td', { colspan: 6, class: 'empty' }, storages.length ? 'No backups yet.' : 'No storage on this node holds backups.'))]));
      for (const b of tbody.querySelectorAll('button:not([title])')) b.disabled = busy;
      setText(count, vols.length ? `${vols.length} backup${vols.length === 1 ? '' : 's'}` : 'No backups yet.');
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  /** Run a task with the buttons locked; refresh after. */
  async function runTask(label, fn) {
    busy = true;
    backupBtn.disabled = true;
    for (const b of tbody.querySelectorAll('button')) b.disabled = true;
    try {
      await feedback.run(label, fn);
    } catch (e) {
      console.debug(`${label} failed:`, e);
    } finally {
      busy = false;
      backupBtn.disabled = false;
      if (!signal.aborted) await refresh();
    }
  }

  function backupNow() {
    const storage = field({ label: 'Storage', name: 'storage', type: 'select', required: true,
      options: storages.map((s) => [s.storage, storageLabel(s)]), value: storages[0]?.storage });
    const mode = field({ label: 'Mode', name: 'mode', type: 'select', options: MODES, value: 'snapshot' });
    const compress = field({ label: 'Compression', name: 'compress', type: 'select', options: COMPRESS, value: 'zstd' });
    const notes = field({ label: 'Notes', name: 'notes-template', value: '{{guestname}}', wide: true,
      hint: '{{guestname}}, {{node}}, {{vmid}} and {{cluster}} are replaced.' });
    const keep = field({ label: 'Protected (cannot be removed)', name: 'protected', type: 'checkbox', value: false });
    // A deduplicating store (dedup) compresses its chunks itself: the archive's compression does not apply.
    const toStore = () => storages.find((s) => s.storage === storage.get())?.type === 'dedup';
    const syncCompress = () => { compress.input.disabled = toStore(); };
    storage.input.addEventListener('change', syncCompress);
    syncCompress();
    return formDialog({
      title: `Back up ${noun} ${guest.vmid}`, fields: [storage, mode, compress, notes, keep], submitLabel: 'Backup',
      onSubmit: async (_, { setStatus }) => {
        const body = { vmid: guest.vmid, storage: storage.get(), mode: mode.get(), compress: toStore() ? undefined : compress.get() };
        if (notes.get()) body['notes-template'] = notes.get();
        if (keep.get()) body.protected = 1;
        const upid = await api(`/nodes/${node}/vzdump`, { method: 'POST', body });
        if (isUpid(upid)) {
          setStatus('Backing up…');
          runTask(`Backup to ${storage.get()}`, () => upid);
        }
      },
    });
  }

  async function restore(v) {
    const how = await restoreBackup({ node: guest.node, v, vmid: guest.vmid, signal });
    if (how) runTask(`Restore ${volName(v.volid)}`, how.start);
  }

  async function remove(v) {
    const ok = await confirmDialog({
      title: `Remove ${volName(v.volid)}?`,
      message: `The backup ${v.volid} of ${noun} ${guest.vmid} is deleted from its storage. This cannot be undone.`,
      confirmLabel: 'Remove', danger: true,
    });
    const path = `/nodes/${node}/storage/${seg(v.volid.split(':')[0])}/content/${seg(v.volid)}`;
    if (ok) runTask(`Remove ${volName(v.volid)}`, () => api(path, { method: 'DELETE', signal }));
  }

  refresh();
  return null;
});
