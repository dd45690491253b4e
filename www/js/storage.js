// Storages as the console sees them: the lists the views and wizards pick
// from (GET /nodes/{node}/storage, …/content), what the content types are
// called, and volume names.

import { api, seg } from './api.js';
import { formatBytes } from './format.js';

/** PVE's content types, as the console names them. */
export const CONTENT_LABELS = {
  iso: 'ISO images', vztmpl: 'Container templates', images: 'Disk images', rootdir: 'Container volumes',
  backup: 'Backups', snippets: 'Snippets', import: 'Import',
};
export const CONTENT_ONE = {
  iso: 'ISO image', vztmpl: 'Container template', images: 'Disk image', rootdir: 'Container volume', backup: 'Backup',
  snippets: 'Snippet', import: 'Import source',
};
/** The content types a storage's Content view can list, in the order its filter offers them. */
export const BROWSABLE = ['iso', 'vztmpl', 'images', 'rootdir', 'backup', 'snippets', 'import'];
/** The content types download-url fetches (POST …/download-url), with the file names each takes. */
export const DOWNLOADABLE = {
  iso: ['.iso', '.img'], vztmpl: ['.tar.gz', '.tar.xz', '.tar.zst', '.tar.bz2'], import: ['.ova', '.qcow2', '.raw', '.vmdk'],
};
/** The content types one can upload, with the file names each takes. */
export const UPLOADABLE = { iso: ['.iso', '.img'], vztmpl: ['.tar.gz', '.tar.xz', '.tar.zst', '.tgz'] };

export const splitContent = (s) => String(s || '').split(/[,;\s]+/).filter(Boolean);

/** Storages of a node that can hold `content` (images, iso, rootdir, …), enabled ones only. */
export async function listStorages(node, content, { signal } = {}) {
  const list = await api(`/nodes/${seg(node)}/storage`, { params: { content, enabled: 1 }, signal });
  return (Array.isArray(list) ? list : []).filter((s) => s && s.storage && s.active !== 0)
    .sort((a, b) => a.storage.localeCompare(b.storage));
}

/** "local — 120 GiB free (dir)" for a storage select. */
export function storageLabel(s) {
  const free = Number.isFinite(Number(s.avail)) && s.avail !== undefined ? `${formatBytes(s.avail)} free` : null;
  return [s.storage, [free, s.type].filter(Boolean).join(', ')].filter(Boolean).join(' — ');
}

/** Volumes of one content type on a storage: [{volid, size, …}] sorted by name. */
export async function listContent(node, storage, content, { signal } = {}) {
  const list = await api(`/nodes/${seg(node)}/storage/${seg(storage)}/content`, { params: { content }, signal });
  return (Array.isArray(list) ? list : []).filter((v) => v && v.volid)
    .sort((a, b) => a.volid.localeCompare(b.volid, undefined, { numeric: true }));
}

/** ISO images on a storage. */
export const listIsos = (node, storage, opts) => listContent(node, storage, 'iso', opts);

/** "local:iso/debian-12.iso" → "debian-12.iso", "local:vztmpl/x.tar.gz" → "x.tar.gz" */
export const volName = (volid) => String(volid).replace(/^[^:]*:((iso|vztmpl|backup|snippets|import)\/)?/, '');
