// Backups (vzdump archives on a storage with `backup` content, or backups in a
// deduplicating store: `dedup`, volumes backup/<vm|ct>/<vmid>/<time>), shared by a
// guest's Backup tab and a storage's content view: the guest type a backup
// holds, its archived configuration (GET …/vzdump/extractconfig) in a
// monospace dialog, the restore dialog, which creates the guest from the
// backup (POST …/qemu with `archive`, POST …/lxc with `ostemplate` and
// `restore=1`) under a new VMID or, with force=1, over the one it came from,
// and the export of a deduplicated backup as a vzdump archive (POST …/export-backup).

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { errorSlot } from '../ui.js';
import { field } from '../form.js';
import { confirmDialog, formDialog, modal } from '../dialog.js';
import { isUpid } from '../taskrun.js';
import { listStorages, storageLabel, volName } from '../storage.js';

/** qemu | lxc: the list's subtype, else what the volume's name says (vzdump-lxc-…, a store's backup/ct/…). */
export const backupType = (v) => v.subtype || (/vzdump-lxc-|:backup\/ct\//.test(v.volid) ? 'lxc' : 'qemu');

/** vzdump's compressions (POST …/vzdump, …/export-backup `compress`). */
export const COMPRESS = [['0', 'None'], ['lzo', 'LZO (fast)'], ['gzip', 'GZIP (good)'], ['zstd', 'ZSTD (fast and good)']];

/** The configuration archived with a backup, read-only. */
export function showBackupConfig(node, volid) {
  const ctrl = new AbortController();
  const err = errorSlot('Could not read the configuration');
  const text = h('pre', { class: 'log backup-config', tabindex: 0, 'aria-label': `Configuration in ${volName(volid)}` }, 'Loading…');
  const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
  const m = modal({
    title: `Configuration: ${volName(volid)}`, className: 'changelog-dialog dialog-wide',
    body: [err.el, text], foot: [h('span', { class: 'spacer' }), close], onClose: () => ctrl.abort(),
  });
  close.addEventListener('click', () => m.close());
  text.focus();
  api(`/nodes/${seg(node)}/vzdump/extractconfig`, { params: { volume: volid }, signal: ctrl.signal })
    .then((cfg) => { text.textContent = typeof cfg === 'string' ? cfg : ''; })
    .catch((e) => {
      if (e.name === 'AbortError') return;
      text.textContent = '';
      err.set(e);
    });
}

/**
 * Ask how to restore backup `v` on `node` and start it. With `vmid` the archive replaces that
 * guest (force=1, after a confirmation); without, the dialog asks for a new VMID (/cluster/nextid).
 * Resolves to null when cancelled, else {vmid, type, start()}: start() → the UPID (for a task
 * feedback line; over an existing guest the POST happens there, a new one's in the dialog).
 */
export async function restoreBackup({ node, v, vmid = null, signal }) {
  const type = backupType(v);
  const over = vmid !== null;
  const noun = type === 'lxc' ? 'CT' : 'VM';
  const id = field({ label: 'VMID', name: 'vmid', type: 'number', required: true, min: 100, max: 999999999, disabled: over,
    value: over ? vmid : '' });
  const storage = field({ label: 'Target storage', name: 'storage', type: 'select', options: [['', 'As in the backup']], value: '',
    hint: 'Where the restored disks go.' });
  const unique = field({ label: 'Unique (new MAC addresses)', name: 'unique', type: 'checkbox', value: !over });
  const content = type === 'lxc' ? 'rootdir' : 'images';
  listStorages(node, content, { signal })
    .then((list) => storage.setOptions([['', 'As in the backup'], ...list.map((s) => [s.storage, storageLabel(s)])]))
    .catch((e) => console.debug('restore storages:', e));
  if (!over) {
    api('/cluster/nextid', { signal }).then((n) => { if (!id.get()) id.set(n); }).catch((e) => console.debug('nextid:', e));
  }

  const send = (target) => {
    const body = type === 'lxc' ? { vmid: target, ostemplate: v.volid, restore: 1 } : { vmid: target, archive: v.volid };
    if (storage.get()) body.storage = storage.get();
    if (unique.get()) body.unique = 1;
    if (over) body.force = 1;
    return api(`/nodes/${seg(node)}/${type}`, { method: 'POST', body, signal });
  };

  let started = null;
  const ok = await formDialog({
    title: over ? `Restore ${noun} ${vmid} from ${volName(v.volid)}` : `Restore ${volName(v.volid)}`,
    fields: [id, storage, unique], submitLabel: 'Restore',
    onSubmit: async () => {
      if (over) return; // the confirmation comes after the dialog, the POST after that
      const upid = await send(Number(id.get()));
      if (isUpid(upid)) started = { vmid: Number(id.get()), type, start: async () => upid };
    },
  });
  if (!ok) return null;
  if (over) {
    const sure = await confirmDialog({
      title: `Replace ${noun} ${vmid}?`,
      message: `The current ${noun} ${vmid} is replaced by the backup ${volName(v.volid)}: its configuration and disks are overwritten. This cannot be undone.`,
      confirmLabel: 'Restore', danger: true,
    });
    if (!sure) return null;
    return { vmid, type, start: () => send(vmid) };
  }
  return started;
}

/**
 * Ask where backup `v` of deduplicating store `storage` goes as a vzdump archive (VMA for a VM, tar
 * for a container) and with which compression, and start the export. Resolves to the POST's answer
 * (the task's UPID), or null when cancelled.
 */
export async function exportBackup({ node, storage, v, signal }) {
  const target = field({ label: 'Target storage', name: 'target-storage', type: 'select', required: true, options: [],
    hint: 'A storage that holds backup archives; the archive is named as vzdump names its own.' });
  const compress = field({ label: 'Compression', name: 'compress', type: 'select', options: COMPRESS, value: 'zstd' });
  // Another deduplicating store keeps no archives: the server refuses it as a target.
  listStorages(node, 'backup', { signal })
    .then((list) => {
      const archives = list.filter((s) => s.type !== 'dedup');
      target.setOptions(archives.map((s) => [s.storage, storageLabel(s)]));
      if (!archives.length) target.setError('No storage of this node holds backup archives.');
    })
    .catch((e) => { if (e.name !== 'AbortError') target.setError(`Could not list the storages: ${e.message}`); });

  let upid = null;
  const ok = await formDialog({
    title: `Export ${volName(v.volid)}`, fields: [target, compress], submitLabel: 'Export',
    intro: `The backup is written as a ${backupType(v) === 'lxc' ? 'container (tar)' : 'VM (VMA)'} archive that PVE's own tools restore; it stays in this store.`,
    onSubmit: async () => {
      upid = await api(`/nodes/${seg(node)}/storage/${seg(storage)}/export-backup`, {
        method: 'POST', body: { volume: v.volid, 'target-storage': target.get(), compress: compress.get() }, signal,
      });
    },
  });
  return ok ? upid : null;
}
