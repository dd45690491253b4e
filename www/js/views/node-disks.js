// Node → Disks: the node's block devices (GET …/disks/list) with their
// S.M.A.R.T. values (GET …/disks/smart?disk=…) in a dialog, and as sub-tabs
// the volume groups, thin pools, directory mounts and ZFS pools made of them
// (node-disk-lists.js). Read-only.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatBytes } from '../format.js';
import { modal } from '../dialog.js';
import { rowButton } from './access-common.js';
import { listTable, mountList, plural } from './list-view.js';
import { mountSubTabs } from './subtabs.js';
import { mountLvm, mountLvmThin, mountDirectories, mountZfs } from './node-disk-lists.js';

export const mountNodeDisks = (panel, route) => mountSubTabs(panel, route, 'Disk views', [
  { id: 'list', label: 'Disks', mount: mountDiskList },
  { id: 'lvm', label: 'LVM', mount: mountLvm },
  { id: 'lvmthin', label: 'LVM-Thin', mount: mountLvmThin },
  { id: 'directory', label: 'Directory', mount: mountDirectories },
  { id: 'zfs', label: 'ZFS', mount: mountZfs },
]);

const TYPES = { hdd: 'Hard disk', ssd: 'SSD', nvme: 'NVMe', usb: 'USB', unknown: 'unknown' };
const yesNo = (v) => (v === true || Number(v) === 1 ? 'Yes' : 'No');

/** PASSED/OK in green, FAILED in red, anything else as it came. */
function healthCell(health) {
  const v = String(health || 'UNKNOWN');
  const kind = /^(PASSED|OK)$/i.test(v) ? 'ok' : /FAIL/i.test(v) ? 'error' : null;
  return h('td', null, kind ? h('span', { class: `status status-${kind}` }, icon(kind === 'ok' ? 'check' : 'alert'), h('span', { class: 'status-text' }, v)) : v);
}

function mountDiskList(panel, { node }) {
  const view = mountList(panel, {
    path: `/nodes/${seg(node)}/disks/list`, what: `disks of ${node}`, caption: `Disks of node ${node}`,
    columns: ['Device', 'Type', 'Usage', { label: 'Size', num: true }, { label: 'GPT', optional: true }, { label: 'Model', optional: true },
      { label: 'Serial', optional: true }, 'S.M.A.R.T.', { label: 'Wearout', optional: true }, { label: 'Actions', actions: true }],
    empty: 'No disks were found on this node.',
    count: (n) => plural(n, 'disk'),
    rows: (list) => (Array.isArray(list) ? list : []).filter((d) => d && d.devpath)
      .sort((a, b) => a.devpath.localeCompare(b.devpath, undefined, { numeric: true }))
      .map((d) => h('tr', { dataset: { devpath: d.devpath } },
        h('th', { scope: 'row', class: 'mono' }, d.devpath),
        h('td', null, TYPES[d.type] || d.type || '–'),
        h('td', null, d.used || 'No'),
        h('td', { class: 'num' }, formatBytes(d.size)),
        h('td', { class: 'optional' }, yesNo(d.gpt)),
        h('td', { class: 'optional' }, [d.vendor, d.model].filter((x) => x && !/^0x/.test(x)).join(' ') || d.model || '–'),
        h('td', { class: 'optional mono' }, d.serial || '–'),
        healthCell(d.health),
        h('td', { class: 'optional' }, Number.isFinite(Number(d.wearout)) && d.wearout !== '' && d.wearout !== null ? `${d.wearout}%` : 'N/A'),
        h('td', { class: 'row-actions' }, smartButton(node, d.devpath)))),
  });
  return view.cleanup;
}

function smartButton(node, devpath) {
  const b = rowButton('S.M.A.R.T. values', 'summary', () => openSmart(node, devpath), `Show S.M.A.R.T. values of ${devpath}`);
  b.dataset.action = 'smart';
  return b;
}

/** The S.M.A.R.T. dialog: health, then the attribute table (ATA) or smartctl's text (NVMe, SCSI). */
function openSmart(node, disk) {
  const ctrl = new AbortController();
  const err = errorSlot('Could not read the S.M.A.R.T. values');
  const health = h('p', { class: 'smart-health' }, 'Loading…');
  const out = h('div', { class: 'smart-out' });
  const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
  const m = modal({
    title: `S.M.A.R.T. values of ${disk}`, className: 'smart-dialog dialog-wide',
    body: [err.el, health, out], foot: [h('span', { class: 'spacer' }), close],
    onClose: () => ctrl.abort(),
  });
  close.addEventListener('click', () => m.close());
  close.focus();

  (async () => {
    try {
      const s = await api(`/nodes/${seg(node)}/disks/smart`, { params: { disk }, signal: ctrl.signal });
      setText(health, `Health: ${s?.health || 'UNKNOWN'}${s?.type ? ` (${s.type})` : ''}`);
      if (Array.isArray(s?.attributes) && s.attributes.length) {
        const t = listTable(`S.M.A.R.T. attributes of ${disk}`, [{ label: 'ID', num: true }, 'Attribute', { label: 'Value', num: true },
          { label: 'Worst', num: true }, { label: 'Threshold', num: true }, 'Raw', { label: 'Flags', optional: true }, { label: 'Failing', optional: true }]);
        t.fill(s.attributes.map((a) => h('tr', null,
          h('td', { class: 'num' }, a.id ?? ''), h('th', { scope: 'row' }, a.name ?? ''), h('td', { class: 'num' }, a.value ?? ''),
          h('td', { class: 'num' }, a.worst ?? ''), h('td', { class: 'num' }, a.threshold ?? ''), h('td', { class: 'mono' }, a.raw ?? ''),
          h('td', { class: 'optional mono' }, a.flags ?? ''), h('td', { class: 'optional' }, a.fail && a.fail !== '-' ? a.fail : '–'))), '');
        out.replaceChildren(t.el);
      } else {
        out.replaceChildren(h('pre', { class: 'log', tabindex: 0, 'aria-label': `smartctl output for ${disk}` }, s?.text || 'The disk reports no S.M.A.R.T. values.'));
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      setText(health, '');
      err.set(e);
    }
  })();
}
