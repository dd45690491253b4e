// The Create-VM wizard: General, OS, System, Disks, CPU, Memory, Network,
// Confirm, in one dialog (wizard.js). It posts PVE's parameters to POST /nodes/{node}/qemu
// (scsi0=local:32,format=qcow2, ide2=local:iso/x.iso,media=cdrom,
// net0=virtio,bridge=vmbr0, boot=order=scsi0;ide2;net0, …), follows the
// creation task, and opens the new VM. A 400's per-parameter errors are put
// beside their fields, and the wizard goes back to the first step with one.

import { errorText } from './api.js';
import { offerBridges } from './nodes.js';
import { h, setText } from './dom.js';
import { field } from './form.js';
import { formatBytes } from './format.js';
import { DNS_NAME, offerStorages, openWizard } from './wizard.js';
import {
  listStorages, storageLabel, listIsos, volName, OSTYPES, BIOSES, MACHINES, SCSIHW, CPU_TYPES, NIC_CHOICES, DISK_BUSES,
} from './qemu-config.js';

export function openCreateVm() {

  // --- fields, by step --------------------------------------------------------
  const f = {
    node: field({ label: 'Node', name: 'node', type: 'select', required: true }),
    vmid: field({ label: 'VM ID', name: 'vmid', type: 'number', min: 100, max: 999999999, step: 1, required: true, inputmode: 'numeric' }),
    name: field({ label: 'Name', name: 'name', pattern: DNS_NAME, placeholder: 'optional', hint: 'A DNS name: letters, digits, "-" and ".".' }),

    media: field({ label: 'Installation media', name: 'ide2', sub: 'media', type: 'select',
      options: [['iso', 'A CD/DVD disc image (ISO)'], ['none', 'None']], value: 'iso' }),
    isoStorage: field({ label: 'ISO storage', name: 'ide2', sub: 'storage', type: 'select', required: true }),
    iso: field({ label: 'ISO image', name: 'ide2', sub: 'file', type: 'select', required: true }),
    ostype: field({ label: 'Guest OS type', name: 'ostype', type: 'select', options: OSTYPES, value: 'l26' }),

    bios: field({ label: 'BIOS', name: 'bios', type: 'select', options: BIOSES, value: 'seabios',
      hint: 'With OVMF an EFI disk is added on the disk storage.' }),
    machine: field({ label: 'Machine', name: 'machine', type: 'select', options: MACHINES, value: '' }),
    scsihw: field({ label: 'SCSI controller', name: 'scsihw', type: 'select', options: SCSIHW, value: 'virtio-scsi-single' }),
    agent: field({ label: 'QEMU guest agent', name: 'agent', type: 'checkbox', value: false }),
    kvm: field({ label: 'KVM hardware virtualization', name: 'kvm', type: 'checkbox', value: true,
      hint: 'Turn off only where the host has no KVM (nested test machines): the VM is then emulated, and slow.' }),

    noDisk: field({ label: 'No hard disk', name: 'nodisk', type: 'checkbox', value: false }),
    bus: field({ label: 'Bus', name: 'disk', sub: 'bus', type: 'select', options: DISK_BUSES.map(([b, l]) => [b, l]), value: 'scsi' }),
    storage: field({ label: 'Storage', name: 'disk', sub: 'storage', type: 'select', required: true }),
    size: field({ label: 'Disk size (GiB)', name: 'disk', sub: 'size', type: 'number', min: 1, max: 131072, step: 1, value: 32, required: true, inputmode: 'numeric' }),
    format: field({ label: 'Format', name: 'disk', sub: 'format', type: 'select', options: [['qcow2', 'QEMU image (qcow2)'], ['raw', 'Raw disk image (raw)']], value: 'qcow2' }),
    discard: field({ label: 'Discard (pass TRIM on to the storage)', name: 'disk', sub: 'discard', type: 'checkbox', value: false }),

    sockets: field({ label: 'Sockets', name: 'sockets', type: 'number', min: 1, max: 4, step: 1, value: 1, required: true, inputmode: 'numeric' }),
    cores: field({ label: 'Cores per socket', name: 'cores', type: 'number', min: 1, max: 512, step: 1, value: 2, required: true, inputmode: 'numeric' }),
    cpu: field({ label: 'CPU type', name: 'cpu', sub: 'cputype', type: 'select', options: CPU_TYPES, value: '' }),

    memory: field({ label: 'Memory (MiB)', name: 'memory', type: 'number', min: 16, step: 1, value: 2048, required: true, inputmode: 'numeric' }),

    noNet: field({ label: 'No network device', name: 'nonet', type: 'checkbox', value: false }),
    bridge: field({ label: 'Bridge', name: 'net0', sub: 'bridge', value: 'vmbr0', required: true, list: [] }),
    model: field({ label: 'Model', name: 'net0', sub: 'model', type: 'select', options: NIC_CHOICES, value: 'virtio' }),
    tag: field({ label: 'VLAN tag', name: 'net0', sub: 'tag', type: 'number', min: 1, max: 4094, step: 1, placeholder: 'none', inputmode: 'numeric' }),
    firewall: field({ label: 'Firewall', name: 'net0', sub: 'firewall', type: 'checkbox', value: false }),

    start: field({ label: 'Start after created', name: 'start', type: 'checkbox', value: false }),
  };
  const cpuTotal = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' });
  const memNote = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' });

  const STEPS = [
    { id: 'general', label: 'General', fields: ['node', 'vmid', 'name'] },
    { id: 'os', label: 'OS', fields: ['media', 'isoStorage', 'iso', 'ostype'] },
    { id: 'system', label: 'System', fields: ['bios', 'machine', 'scsihw', 'agent', 'kvm'] },
    { id: 'disks', label: 'Disks', fields: ['noDisk', 'bus', 'storage', 'size', 'format', 'discard'] },
    { id: 'cpu', label: 'CPU', fields: ['sockets', 'cores', 'cpu'], extra: [cpuTotal] },
    { id: 'memory', label: 'Memory', fields: ['memory'], extra: [memNote] },
    { id: 'network', label: 'Network', fields: ['noNet', 'bridge', 'model', 'tag', 'firewall'] },
    { id: 'confirm', label: 'Confirm', fields: ['start'] },
  ];
  const diskKey = () => `${f.bus.get()}0`;
  const { m, signal } = openWizard({
    title: 'Create a virtual machine', f, steps: STEPS, type: 'qemu', noun: 'VM', params,
    // The disk fields report under the disk's own key (scsi0, virtio0, …).
    beforeCreate: () => { for (const k of ['bus', 'storage', 'size', 'format', 'discard']) f[k].name = diskKey(); },
    onReady: () => loadNodeData(),
  });

  // --- dependent fields ---------------------------------------------------------
  function sync() {
    const iso = f.media.get() === 'iso';
    f.isoStorage.el.hidden = !iso;
    f.iso.el.hidden = !iso;
    const disk = !f.noDisk.get();
    for (const k of ['bus', 'storage', 'size', 'format', 'discard']) f[k].el.hidden = !disk;
    const net = !f.noNet.get();
    for (const k of ['bridge', 'model', 'tag', 'firewall']) f[k].el.hidden = !net;
    const total = (Number(f.sockets.get()) || 0) * (Number(f.cores.get()) || 0);
    setText(cpuTotal, `${total} virtual CPU${total === 1 ? '' : 's'} in total.`);
    const mib = Number(f.memory.get()) || 0;
    setText(memNote, mib ? `${formatBytes(mib * 2 ** 20)} of memory.` : '');
  }
  for (const k of ['media', 'noDisk', 'noNet', 'sockets', 'cores', 'memory']) {
    f[k].input.addEventListener(f[k].input.type === 'checkbox' || f[k].input.tagName === 'SELECT' ? 'change' : 'input', sync);
  }
  sync();

  // --- data ---------------------------------------------------------------------
  let mediaTouched = false;
  f.media.input.addEventListener('change', () => { mediaTouched = true; });
  async function loadIsos() {
    const storage = f.isoStorage.get();
    f.iso.setOptions([]);
    if (!storage) return;
    try {
      const isos = await listIsos(f.node.get(), storage, { signal });
      f.iso.setOptions(isos.map((v) => [v.volid, `${volName(v.volid)}${v.size ? ` (${formatBytes(v.size)})` : ''}`]));
      const why = isos.length ? '' : 'No ISO images on this storage; choose "None" above or upload one.';
      f.iso.input.setCustomValidity(why);
      f.iso.setError(why || null);
      // Nothing to install from, and nobody asked for an ISO: start with no media.
      if (!isos.length && !mediaTouched) { f.media.set('none'); sync(); }
    } catch (e) {
      if (e.name === 'AbortError') return;
      f.iso.input.setCustomValidity(`Could not list the ISO images: ${errorText(e)}`);
      f.iso.setError(f.iso.input.validationMessage);
    }
  }

  async function loadNodeData() {
    const node = f.node.get();
    if (!node) return;
    offerBridges(f.bridge, node, { signal });
    const [images, isos] = await Promise.allSettled([
      listStorages(node, 'images', { signal }),
      listStorages(node, 'iso', { signal }),
    ]);
    if (signal.aborted) return;
    const offer = (fld, result, what) => offerStorages(fld, result, node, what, storageLabel);
    offer(f.storage, images, 'disk images');
    if (!offer(f.isoStorage, isos, 'ISO images')) f.media.set('none');
    sync();
    await loadIsos();
  }
  f.node.input.addEventListener('change', loadNodeData);
  f.isoStorage.input.addEventListener('change', loadIsos);

  // --- parameters -----------------------------------------------------------------

  /** PVE's parameters for POST /nodes/{node}/qemu, in a readable order. */
  function params() {
    const p = { vmid: f.vmid.get() };
    if (f.name.get()) p.name = f.name.get();
    p.ostype = f.ostype.get();
    if (f.media.get() === 'iso' && f.iso.get()) p.ide2 = `${f.iso.get()},media=cdrom`;
    if (f.bios.get() !== 'seabios') p.bios = f.bios.get();
    if (f.machine.get()) p.machine = f.machine.get();
    p.scsihw = f.scsihw.get();
    if (f.agent.get()) p.agent = 'enabled=1';
    if (!f.kvm.get()) p.kvm = 0;
    const order = [];
    if (!f.noDisk.get()) {
      p[diskKey()] = `${f.storage.get()}:${f.size.get()},format=${f.format.get()}${f.discard.get() ? ',discard=on' : ''}`;
      order.push(diskKey());
      if (f.bios.get() === 'ovmf') p.efidisk0 = `${f.storage.get()}:1,format=${f.format.get()},efitype=4m`;
    }
    if (p.ide2) order.push('ide2');
    p.sockets = f.sockets.get();
    p.cores = f.cores.get();
    if (f.cpu.get()) p.cpu = f.cpu.get();
    p.memory = f.memory.get();
    if (!f.noNet.get()) {
      p.net0 = `${f.model.get()},bridge=${f.bridge.get()}${f.tag.get() ? `,tag=${f.tag.get()}` : ''}${f.firewall.get() ? ',firewall=1' : ''}`;
      order.push('net0');
    }
    if (order.length) p.boot = `order=${order.join(';')}`;
    if (f.start.get()) p.start = 1;
    return p;
  }

  return m;
}
