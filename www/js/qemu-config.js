// Virtual-machine configuration as PVE's API has it: GET/PUT …/config (PUT
// carries the `digest` read with it, so two editors cannot overwrite each
// other), the keys that name devices, the choices offered for them, and the
// storage lists the editors and the create wizard pick from.

import { api, ApiError } from './api.js';

export const DISK_BUSES = [['scsi', 'SCSI', 31], ['virtio', 'VirtIO block', 16], ['sata', 'SATA', 6], ['ide', 'IDE', 4]];
export const DISK_KEY = /^(ide|sata|scsi|virtio)(\d+)$/;
export const NET_KEY = /^net(\d+)$/;
export const UNUSED_KEY = /^unused(\d+)$/;

export const OSTYPES = [
  ['l26', 'Linux 6.x – 2.6 kernel'], ['l24', 'Linux 2.4 kernel'],
  ['win11', 'Windows 11 / 2022 / 2025'], ['win10', 'Windows 10 / 2016 / 2019'], ['win8', 'Windows 8 / 2012 / 2012r2'],
  ['win7', 'Windows 7 / 2008r2'], ['w2k8', 'Windows Vista / 2008'], ['wvista', 'Windows Vista'],
  ['w2k3', 'Windows 2003'], ['w2k', 'Windows 2000'], ['wxp', 'Windows XP'],
  ['solaris', 'Solaris kernel'], ['other', 'Other'],
];
export const BIOSES = [['seabios', 'SeaBIOS (legacy BIOS)'], ['ovmf', 'OVMF (UEFI)']];
export const MACHINES = [['', 'Default (i440fx)'], ['q35', 'q35']];
export const SCSIHW = [
  ['virtio-scsi-single', 'VirtIO SCSI single'], ['virtio-scsi-pci', 'VirtIO SCSI'], ['lsi', 'LSI 53C895A'],
  ['lsi53c810', 'LSI 53C810'], ['megasas', 'MegaRAID SAS 8708EM2'], ['pvscsi', 'VMware PVSCSI'],
];
export const CPU_TYPES = [['', 'Default (kvm64)'], ['host', 'host'], ['max', 'max'], ['x86-64-v2-AES', 'x86-64-v2-AES'],
  ['x86-64-v3', 'x86-64-v3'], ['x86-64-v4', 'x86-64-v4'], ['kvm64', 'kvm64'], ['qemu64', 'qemu64']];
export const NIC_CHOICES = [['virtio', 'VirtIO (paravirtualized)'], ['e1000', 'Intel E1000'], ['e1000e', 'Intel E1000E'],
  ['rtl8139', 'Realtek RTL8139'], ['vmxnet3', 'VMware vmxnet3']];
export const CACHE_MODES = [['', 'Default (no cache)'], ['directsync', 'Direct sync'], ['writethrough', 'Write through'],
  ['writeback', 'Write back'], ['unsafe', 'Write back (unsafe)'], ['none', 'No cache']];
export const VGA_TYPES = [['', 'Default'], ['std', 'Standard VGA'], ['virtio', 'VirtIO-GPU'], ['qxl', 'SPICE (qxl)'],
  ['vmware', 'VMware compatible'], ['cirrus', 'Cirrus Logic'], ['serial0', 'Serial terminal 0'], ['none', 'None']];

export const labelOf = (list, v) => (list.find(([k]) => k === v) || [v, v])[1];

/** {config, digest, pending: Map(key → {value, pending, delete})} */
export async function loadConfig(base, { signal } = {}) {
  const [config, pending] = await Promise.all([
    api(`${base}/config`, { signal }),
    // Pending changes are extra information: a server without the endpoint just has none to show.
    api(`${base}/pending`, { signal }).catch((err) => {
      if (err.name === 'AbortError') throw err;
      if (!(err instanceof ApiError) || err.status !== 501) console.debug('pending:', err.message);
      return [];
    }),
  ]);
  const cfg = config && typeof config === 'object' ? config : {};
  const map = new Map();
  for (const p of Array.isArray(pending) ? pending : []) {
    if (p && p.key && (p.pending !== undefined || p.delete)) map.set(p.key, p);
  }
  return { config: cfg, digest: cfg.digest, pending: map };
}

/**
 * PUT …/config: `set` values, `remove` keys (sent as `delete`), guarded by `digest`.
 * Resolves to whatever the server answers (null, or a UPID for a background job).
 */
export function putConfig(base, { set = {}, remove = [], digest } = {}, { method = 'PUT' } = {}) {
  const body = { ...set };
  if (remove.length) body.delete = remove.join(',');
  if (digest) body.digest = digest;
  return api(`${base}/config`, { method, body });
}

/** The lowest free index of a bus ("scsi" → 1 when scsi0 is taken); null when all are used. */
export function freeSlot(config, bus) {
  const max = (DISK_BUSES.find(([b]) => b === bus) || [bus, bus, 32])[2];
  for (let i = 0; i < max; i++) if (config[`${bus}${i}`] === undefined) return i;
  return null;
}

export function freeNetSlot(config) {
  for (let i = 0; i < 32; i++) if (config[`net${i}`] === undefined) return i;
  return null;
}

// The storage lists live in storage.js; the editors and the wizard import them from here too.
export { listStorages, storageLabel, listIsos, volName } from './storage.js';
