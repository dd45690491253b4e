// The storage types Datacenter → Storage can add, and each one's options as fields named after
// PVE's (the keys of storage.cfg). `fixed` options are set once, when the storage is added:
// PVE's update (PUT /storage/{storage}) refuses them, so Edit shows them read-only. `secret` ones
// (a password, a Ceph keyring) are kept apart from storage.cfg and never read back: they are sent
// only when typed. A `scan` names the GET /nodes/{node}/scan/… whose answer the field suggests
// (storage-scan.js), the answer's key that holds a name, and the fields the scan needs.

import { field, rule } from '../form.js';

const LVM_NAME = /^[a-zA-Z0-9.+_][a-zA-Z0-9.+_-]*$/;
const lvmName = (v) => (LVM_NAME.test(v) ? null : 'Letters, digits, ".", "+", "_" and "-" (not first).');
const absolute = (v) => (v.startsWith('/') ? null : 'Give an absolute path: it starts with "/".');
const FIXED_HINT = 'Fixed once the storage exists.';

/** A flag as storage.cfg may spell it (1/yes/on, or for is_mountpoint a path). */
export const isSet = (v) => v !== undefined && v !== null && !['', '0', 'no', 'off'].includes(String(v));

const FILES = ['images', 'rootdir', 'iso', 'vztmpl', 'backup', 'snippets', 'import'];
const BLOCKS = ['images', 'rootdir'];

// Options more than one type has.
const mountPoint = {
  name: 'path', label: 'Mount point', fixed: true, wide: true, placeholder: '/mnt/pve/<ID>', check: absolute,
  hint: 'Where every node mounts it; empty: /mnt/pve/ and the storage ID.',
};
const isMountpoint = {
  name: 'is_mountpoint', kind: 'flag', on: 'yes', label: 'Expect a mount point',
  hint: 'The storage works only while a file system is mounted at the directory.',
};
const portal = { name: 'portal', label: 'Portal', fixed: true, required: true, placeholder: '192.0.2.10:3260', hint: 'Address of the iSCSI portal (port 3260 unless given).' };
const target = {
  name: 'target', label: 'Target', fixed: true, required: true, wide: true, placeholder: 'iqn.2003-01.org.example:target',
  scan: { path: 'iscsi', key: 'target', params: { portal: 'portal' } },
};
const monhost = {
  name: 'monhost', label: 'Monitors', wide: true, placeholder: '192.0.2.1 192.0.2.2 192.0.2.3',
  hint: 'The monitors of an external Ceph cluster (space separated); empty: this cluster\'s own Ceph.',
};
const cephUser = { name: 'username', label: 'Ceph user', placeholder: 'admin', hint: 'Empty: admin.' };
const keyring = {
  name: 'keyring', kind: 'textarea', secret: true, label: 'Keyring', rows: 3,
  hint: 'The client keyring of an external Ceph cluster; not needed for this cluster\'s own.',
};

/** The types this node can add: what each can hold, what a new one holds, its option fields in order. */
export const STORAGE_TYPES = {
  dir: {
    label: 'Directory', content: FILES, defaultContent: BLOCKS,
    fields: [
      { name: 'path', label: 'Directory', fixed: true, required: true, wide: true, placeholder: '/mnt/data', check: absolute,
        hint: 'An absolute path; every node that has this storage uses it.' },
      { name: 'shared', kind: 'flag', label: 'Shared',
        hint: 'The directory holds the same files on every node (a network or cluster file system mounted there); this does not share it.' },
      { name: 'format', kind: 'select', label: 'Default image format', options: [['', 'Default (raw)'], ['raw', 'raw'], ['qcow2', 'qcow2'], ['vmdk', 'vmdk']] },
      { name: 'preallocation', kind: 'select', label: 'Preallocation',
        options: [['', 'Default'], ['off', 'off'], ['metadata', 'metadata'], ['falloc', 'falloc'], ['full', 'full']] },
      { name: 'create-base-path', kind: 'flagOn', label: 'Create the directory if it is missing',
        hint: 'Untick for a mount point: then a missing directory is an error, not an empty new one.' },
      isMountpoint,
    ],
  },
  lvm: {
    label: 'LVM', content: BLOCKS, defaultContent: ['images'],
    fields: [
      { name: 'vgname', label: 'Volume group', fixed: true, required: true, check: lvmName, scan: { path: 'lvm', key: 'vg' } },
      { name: 'base', label: 'Base volume', fixed: true, wide: true, placeholder: 'STORAGE:VOLUME',
        hint: 'A volume to make the group on (a LUN of an iSCSI storage); empty: the volume group exists already.' },
      { name: 'shared', kind: 'flag', label: 'Shared',
        hint: 'The volume group sits on a disk every node sees (iSCSI, Fibre Channel); this does not share it.' },
      { name: 'saferemove', kind: 'flag', label: 'Wipe removed volumes', hint: 'Zeroes a volume\'s data when it is removed; removing takes longer.' },
    ],
  },
  lvmthin: {
    label: 'LVM-Thin', content: BLOCKS, defaultContent: BLOCKS,
    fields: [
      { name: 'vgname', label: 'Volume group', fixed: true, required: true, check: lvmName, scan: { path: 'lvm', key: 'vg' } },
      { name: 'thinpool', label: 'Thin pool', fixed: true, required: true, check: lvmName, hint: 'A thin pool in that volume group (lvcreate --type thin-pool).',
        scan: { path: 'lvmthin', key: 'lv', params: { vg: 'vgname' } } },
    ],
  },
  btrfs: {
    label: 'BTRFS', content: FILES, defaultContent: BLOCKS,
    fields: [
      { name: 'path', label: 'Directory', fixed: true, required: true, wide: true, placeholder: '/mnt/btrfs', check: absolute,
        hint: 'A directory on a BTRFS file system; every node that has this storage uses it.' },
      isMountpoint,
    ],
  },
  nfs: {
    label: 'NFS', content: FILES, defaultContent: ['images'],
    fields: [
      { name: 'server', label: 'Server', fixed: true, required: true, placeholder: '192.0.2.10', hint: 'Name or address of the NFS server.' },
      { name: 'export', label: 'Export', fixed: true, required: true, placeholder: '/srv/export', check: absolute,
        scan: { path: 'nfs', key: 'path', params: { server: 'server' } } },
      mountPoint,
      { name: 'options', label: 'Mount options', placeholder: 'vers=4.2', hint: 'As mount -o takes them (comma separated); empty: the defaults.' },
    ],
  },
  cifs: {
    label: 'SMB/CIFS', content: FILES, defaultContent: ['images'],
    fields: [
      { name: 'server', label: 'Server', fixed: true, required: true, placeholder: '192.0.2.10', hint: 'Name or address of the SMB server.' },
      { name: 'domain', label: 'Domain' },
      { name: 'username', label: 'User name', hint: 'Empty: a guest login.' },
      { name: 'password', kind: 'password', secret: true, label: 'Password' },
      { name: 'share', label: 'Share', fixed: true, required: true,
        scan: { path: 'cifs', key: 'share', params: { server: 'server', username: 'username', password: 'password', domain: 'domain' }, needs: ['server'] } },
      mountPoint,
      { name: 'subdir', label: 'Subdirectory', placeholder: '/', check: absolute, hint: 'A directory in the share to use; empty: the whole share.' },
      { name: 'smbversion', kind: 'select', label: 'SMB version',
        options: [['', 'Default (negotiated)'], ['2.0', '2.0'], ['2.1', '2.1'], ['3', '3'], ['3.0', '3.0'], ['3.11', '3.11']] },
    ],
  },
  iscsi: { label: 'iSCSI', content: ['images', 'none'], defaultContent: ['images'], fields: [portal, target] },
  iscsidirect: { label: 'iSCSI (user space)', content: ['images', 'none'], defaultContent: ['images'], fields: [portal, target] },
  cephfs: {
    label: 'CephFS', content: ['vztmpl', 'iso', 'backup', 'snippets', 'import'], defaultContent: ['backup'],
    fields: [
      monhost, cephUser,
      { name: 'fs-name', label: 'File system', hint: 'Empty: the cluster\'s default file system.' },
      { name: 'subdir', label: 'Subdirectory', placeholder: '/', check: absolute, hint: 'A directory in the file system to mount; empty: its root.' },
      mountPoint, keyring,
    ],
  },
  rbd: {
    label: 'RBD', content: BLOCKS, defaultContent: ['images'],
    fields: [
      { name: 'pool', label: 'Pool', fixed: true, placeholder: 'rbd', hint: 'Empty: rbd.' },
      { name: 'namespace', label: 'Namespace', hint: 'Empty: the pool\'s default namespace.' },
      monhost, cephUser,
      { name: 'krbd', kind: 'flag', label: 'Use the kernel RBD driver (krbd)', hint: 'VM disks are mapped by the kernel, not opened by QEMU\'s librbd; containers always are.' },
      keyring,
    ],
  },
  zfspool: {
    label: 'ZFS', content: BLOCKS, defaultContent: BLOCKS,
    fields: [
      { name: 'pool', label: 'Pool', fixed: true, required: true, placeholder: 'rpool/data', hint: 'A pool or dataset, as zfs list names it.',
        scan: { path: 'zfs', key: 'pool' } },
      { name: 'blocksize', label: 'Block size', placeholder: '16k', pattern: '^[0-9]+[kKmM]?$', hint: 'volblocksize of new volumes; empty: ZFS\'s default.' },
      { name: 'mountpoint', label: 'Mount point', placeholder: '/rpool/data', check: absolute, hint: 'Where the dataset is mounted, when not where ZFS says.' },
      { name: 'sparse', kind: 'flag', label: 'Thin provisioning', hint: 'New volumes reserve no space up front.' },
    ],
  },
  // Beyond PVE: backups as manifests over a directory of content-addressed chunks, so a guest's
  // backups store only what changed since the last one. Its volumes are backups and nothing else.
  dedup: {
    label: 'Deduplicating backup store (Corral)', content: ['backup'], defaultContent: ['backup'],
    fields: [
      { name: 'path', label: 'Directory', fixed: true, required: true, wide: true, placeholder: '/mnt/backup', check: absolute,
        hint: 'An absolute path; the store keeps its chunks and each backup\'s manifest below it.' },
      { name: 'create-base-path', kind: 'flagOn', label: 'Create the directory if it is missing',
        hint: 'Untick for a mount point: then a missing directory is an error, not an empty new store.' },
    ],
  },
};

/** Where a configured storage lives, for a table cell. */
export function storagePlace(s) {
  if (s.type === 'nfs' && s.server) return `${s.server}:${s.export || ''}`;
  if (s.type === 'cifs' && s.server) return `//${s.server}/${s.share || ''}${s.subdir || ''}`;
  if (s.portal) return `${s.portal} ${s.target || ''}`.trim();
  if (s.type === 'lvmthin') return `${s.vgname}/${s.thinpool}`;
  return s.path || s.pool || s.vgname || s.monhost || '';
}

/** The value storage.cfg gets from a field: '' for "not set". */
function written(d, f, e) {
  const now = e[d.name];
  if (d.kind === 'flag') return f.get() ? (isSet(now) ? String(now) : d.on || '1') : '';
  // On by default: ticked leaves it unset (or as it is spelt), unticked writes 0.
  if (d.kind === 'flagOn') return f.get() ? (now === undefined || now === '' ? '' : isSet(now) ? String(now) : '1') : '0';
  return f.get();
}

function build(d, e, editing) {
  const hint = editing && d.fixed ? FIXED_HINT : editing && d.secret ? 'Empty: unchanged.' : d.hint;
  const base = { label: d.label, name: d.name, hint };
  let f;
  if (d.kind === 'flag' || d.kind === 'flagOn') {
    f = field({ ...base, type: 'checkbox', value: d.kind === 'flag' ? isSet(e[d.name]) : e[d.name] === undefined || isSet(e[d.name]) });
  } else if (d.kind === 'select') {
    const v = e[d.name] ?? '';
    f = field({ ...base, type: 'select', value: v, options: d.options.some(([k]) => k === v) ? d.options : [...d.options, [v, v]] });
  } else {
    f = field({
      ...base, type: d.kind || 'text', required: d.required, wide: d.wide || d.kind === 'textarea', rows: d.rows, pattern: d.pattern,
      placeholder: d.placeholder, value: d.secret ? '' : e[d.name], list: d.scan && !editing ? [] : undefined,
      autocomplete: d.kind === 'password' ? 'new-password' : 'off',
    });
    if (d.check) rule(f, d.check);
  }
  if (editing && d.fixed) f.input.readOnly = true;
  return f;
}

/**
 * The option fields of `type` for storage `e` (as GET /storage/{storage} has it; {} when adding) →
 * {where, options, byName, scans: [[descriptor, field]], wanted(out), added(body), secrets(body)}.
 * `where`: the fields up to the last fixed one (where the storage is, and what reaching it takes, as
 * a share's credentials); `options`: the rest.
 */
export function typeFields(type, e, editing) {
  const list = (STORAGE_TYPES[type]?.fields || []).map((d) => [d, build(d, e, editing)]);
  const split = list.findLastIndex(([d]) => d.fixed) + 1;
  return {
    where: list.slice(0, split).map(([, f]) => f),
    options: list.slice(split).map(([, f]) => f),
    byName: Object.fromEntries(list.map(([d, f]) => [d.name, f])),
    scans: editing ? [] : list.filter(([d]) => d.scan),
    /** The changeable options as the dialog has them, into `out` (name → value, '' for not set). */
    wanted(out) {
      for (const [d, f] of list) if (!d.fixed && !d.secret) out[d.name] = written(d, f, e);
      return out;
    },
    /** The fixed options a new storage is given (those filled in). */
    added(body) {
      for (const [d, f] of list) if (d.fixed && f.get() !== '') body[d.name] = f.get();
      return body;
    },
    /** Secrets that were typed. */
    secrets(body) {
      for (const [d, f] of list) if (d.secret && f.get() !== '') body[d.name] = f.get();
      return body;
    },
  };
}
