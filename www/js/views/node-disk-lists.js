// Node → Disks → LVM, LVM-Thin, Directory and ZFS: what the node's disks are
// made into (GET …/disks/lvm, …/lvmthin, …/directory, …/zfs). Read-only.

import { seg } from '../api.js';
import { h } from '../dom.js';
import { formatBytes } from '../format.js';
import { usageCell } from './node-storage.js';
import { mountList, plural } from './list-view.js';

const arrayOf = (v) => (Array.isArray(v) ? v : []);
const byName = (key) => (a, b) => String(a[key]).localeCompare(String(b[key]), undefined, { numeric: true });
/** A usage cell (meter and text); `cls` for a column that hides at phone width. */
function usage(used, total, cls = null) {
  const cell = usageCell({ used, total });
  if (cls) cell.classList.add(cls);
  return cell;
}

/** Volume groups, each followed by its physical volumes (the answer is a tree: {children: [vg {children: [pv]}]}). */
export function mountLvm(panel, { node }) {
  return mountList(panel, {
    path: `/nodes/${seg(node)}/disks/lvm`, what: `volume groups of ${node}`, caption: `LVM volume groups of node ${node}`,
    columns: ['Name', { label: 'Physical volumes', optional: true }, 'Usage', { label: 'Size', num: true }, { label: 'Free', num: true }],
    empty: 'No LVM volume groups on this node.',
    count: (n, data) => plural(arrayOf(data?.children).length, 'volume group'),
    rows: (data) => arrayOf(data?.children).filter((vg) => vg && vg.name).sort(byName('name')).flatMap((vg) => [
      h('tr', { dataset: { vg: vg.name } },
        h('th', { scope: 'row' }, vg.name),
        h('td', { class: 'optional' }, String(arrayOf(vg.children).length)),
        usage(vg.size - vg.free, vg.size),
        h('td', { class: 'num' }, formatBytes(vg.size)),
        h('td', { class: 'num' }, formatBytes(vg.free))),
      ...arrayOf(vg.children).filter((pv) => pv && pv.name).map((pv) => h('tr', { class: 'sub-row', dataset: { pv: pv.name } },
        h('th', { scope: 'row', class: 'mono' }, pv.name),
        h('td', { class: 'optional muted' }, 'physical volume'),
        usage(pv.size - pv.free, pv.size),
        h('td', { class: 'num' }, formatBytes(pv.size)),
        h('td', { class: 'num' }, formatBytes(pv.free)))),
    ]),
  }).cleanup;
}

export function mountLvmThin(panel, { node }) {
  return mountList(panel, {
    path: `/nodes/${seg(node)}/disks/lvmthin`, what: `thin pools of ${node}`, caption: `LVM thin pools of node ${node}`,
    columns: ['Name', 'Volume group', 'Usage', { label: 'Size', num: true }, { label: 'Metadata usage', optional: true }, { label: 'Metadata size', num: true, optional: true }],
    empty: 'No LVM thin pools on this node.',
    count: (n) => plural(n, 'thin pool'),
    rows: (list) => arrayOf(list).filter((p) => p && p.lv).sort(byName('lv')).map((p) => h('tr', { dataset: { lv: `${p.vg}/${p.lv}` } },
      h('th', { scope: 'row' }, p.lv),
      h('td', null, p.vg || '–'),
      usage(p.used, p.lv_size),
      h('td', { class: 'num' }, formatBytes(p.lv_size)),
      usage(p.metadata_used, p.metadata_size, 'optional'),
      h('td', { class: 'num optional' }, formatBytes(p.metadata_size)))),
  }).cleanup;
}

export function mountDirectories(panel, { node }) {
  return mountList(panel, {
    path: `/nodes/${seg(node)}/disks/directory`, what: `directory mounts of ${node}`, caption: `Directory mounts of node ${node}`,
    columns: ['Path', 'Device', 'Type', { label: 'Options', optional: true }, { label: 'Unit file', optional: true }],
    empty: 'No directories are mounted from disks by this node.',
    count: (n) => plural(n, 'directory', 'directories'),
    rows: (list) => arrayOf(list).filter((d) => d && d.path).sort(byName('path')).map((d) => h('tr', { dataset: { path: d.path } },
      h('th', { scope: 'row', class: 'mono' }, d.path),
      h('td', { class: 'mono' }, d.device || '–'),
      h('td', null, d.type || '–'),
      h('td', { class: 'optional mono' }, d.options || '–'),
      h('td', { class: 'optional mono' }, d.unitfile || '–'))),
  }).cleanup;
}

export function mountZfs(panel, { node }) {
  return mountList(panel, {
    path: `/nodes/${seg(node)}/disks/zfs`, what: `ZFS pools of ${node}`, caption: `ZFS pools of node ${node}`,
    columns: ['Name', 'Health', 'Usage', { label: 'Size', num: true }, { label: 'Free', num: true, optional: true },
      { label: 'Fragmentation', num: true, optional: true }, { label: 'Dedup', num: true, optional: true }],
    empty: 'No ZFS pools on this node.',
    count: (n) => plural(n, 'ZFS pool'),
    rows: (list) => arrayOf(list).filter((p) => p && p.name).sort(byName('name')).map((p) => h('tr', { dataset: { pool: p.name } },
      h('th', { scope: 'row' }, p.name),
      h('td', null, p.health || '–'),
      usage(p.alloc, p.size),
      h('td', { class: 'num' }, formatBytes(p.size)),
      h('td', { class: 'num optional' }, formatBytes(p.free)),
      h('td', { class: 'num optional' }, p.frag !== undefined ? `${p.frag}%` : '–'),
      h('td', { class: 'num optional' }, p.dedup !== undefined ? `${Number(p.dedup).toFixed(2)}×` : '–'))),
  }).cleanup;
}
