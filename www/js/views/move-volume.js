// Moving a guest's disk to another storage: VM → Hardware's Move (POST …/qemu/{vmid}/move_disk)
// and CT → Resources' Move (POST …/lxc/{vmid}/move_volume). The copy can take long, so the dialog
// closes once the server has started the task; the view's task line follows it, with its log.

import { api } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { guestBase } from '../guests.js';
import { listStorages, storageLabel } from '../storage.js';

// Storages that keep VM disks as files: only these can hold qcow2 or vmdk.
const FILE_STORAGES = new Set(['dir', 'nfs', 'cifs', 'glusterfs']);
const FORMATS = [['', 'As now, if the storage takes it'], ['raw', 'Raw disk image (raw)'], ['qcow2', 'QEMU image (qcow2)'], ['vmdk', 'VMware image (vmdk)']];

/** A volume a move can start from: on a storage (STORAGE:NAME), not a host path bound in. */
export const movable = (volume) => /^[a-z][a-z0-9\-_.]*[a-z0-9]:./i.test(String(volume || ''));

/**
 * Ask where to move `key` (scsi0, efidisk0, unused1 of a VM; rootfs, mp0 of a CT), whose volume is
 * `volume`, and start the move. Resolves to the task's UPID, or null when cancelled. `digest`: the
 * config's, so a move decided on an outdated view is refused.
 */
export async function moveVolumeDialog({ guest, key, volume, digest, signal }) {
  const vm = guest.type === 'qemu';
  const from = String(volume).split(':')[0];
  const storage = field({ label: 'Target storage', name: 'storage', type: 'select', required: true, wide: true });
  const format = vm ? field({ label: 'Format', name: 'format', type: 'select', options: FORMATS, value: '' }) : null;
  const remove = field({ label: 'Delete the source afterwards', name: 'delete', type: 'checkbox', value: false,
    hint: `Unticked, the old volume stays, as an unused ${vm ? 'disk' : 'volume'} of ${vm ? 'VM' : 'CT'} ${guest.vmid}.` });
  const bwlimit = field({ label: 'Bandwidth limit (KiB/s)', name: 'bwlimit', type: 'number', min: 0, step: 1, inputmode: 'numeric',
    placeholder: 'default', hint: 'Empty: the limit the datacenter or the storages set; 0: none.' });
  let types = new Map();
  const syncFormat = () => { if (format) format.el.hidden = !FILE_STORAGES.has(types.get(storage.get())); };
  syncFormat();
  storage.input.addEventListener('change', syncFormat);
  listStorages(guest.node, vm ? 'images' : 'rootdir', { signal }).then((list) => {
    types = new Map(list.map((s) => [s.storage, s.type]));
    storage.setOptions(list.map((s) => [s.storage, `${storageLabel(s)}${s.storage === from ? ' (where it is now)' : ''}`]));
    const other = list.find((s) => s.storage !== from);
    if (other) storage.set(other.storage);
    if (!list.length) storage.setError(`No storage on ${guest.node} holds ${vm ? 'disk images' : 'container volumes'}.`);
    syncFormat();
  }).catch((e) => { if (e.name !== 'AbortError') storage.setError(`Could not list storages: ${e.message}`); });

  const fields = [storage, ...(format ? [format] : []), remove, bwlimit];
  let upid = null;
  const done = await formDialog({
    title: `Move ${vm ? 'disk' : 'volume'} ${key}`, fields, submitLabel: 'Move', className: 'move-dialog',
    intro: `${volume} is copied to the storage chosen${vm ? '' : ' (the container must be stopped)'}; `
      + `then ${key} uses the copy. The copy runs as a task.`,
    body: h('div', { class: 'form-grid' }, fields.map((f) => f.el)),
    onSubmit: async (_, { setStatus }) => {
      const body = vm ? { disk: key } : { volume: key };
      body.storage = storage.get();
      if (format && !format.el.hidden && format.get()) body.format = format.get();
      if (remove.get()) body.delete = 1;
      if (bwlimit.get() !== '') body.bwlimit = bwlimit.get();
      if (digest) body.digest = digest;
      setStatus('Starting the move…');
      upid = await api(`${guestBase(guest)}/${vm ? 'move_disk' : 'move_volume'}`, { method: 'POST', body, signal });
    },
  });
  return done ? upid : null;
}
