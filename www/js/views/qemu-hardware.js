// VM → Hardware: the device part of the configuration as rows (memory,
// processors, firmware, controllers, disks, CD/DVD drives, network devices,
// unused disks, anything else), with editors. Every change is a PUT (a POST for
// new disks, which allocate storage in a task) guarded by the config's digest;
// changes that need a restart show as pending. Disks move to another storage
// in a task (move-volume.js).

import { h, icon } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatBytes } from '../format.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { taskFeedback, isUpid, waitTask, TaskFailed } from '../taskrun.js';
import { guestBase, guestView } from '../guests.js';
import { offerBridges } from '../nodes.js';
import { parsePropString, formatPropString, parseNet, formatNet, NIC_MODELS, parseSize } from '../propstring.js';
import {
  putConfig, freeSlot, freeNetSlot, listStorages, storageLabel, listIsos, volName, labelOf,
  DISK_BUSES, DISK_KEY, NET_KEY, UNUSED_KEY, BIOSES, MACHINES, SCSIHW, CPU_TYPES, NIC_CHOICES, CACHE_MODES, VGA_TYPES,
} from '../qemu-config.js';
import { configLoader, configTable, renderRows } from './config-grid.js';
import { movable, moveVolumeDialog } from './move-volume.js';

const BUS_ORDER = ['ide', 'sata', 'scsi', 'virtio'];
const SHOWN_ELSEWHERE = new Set(['name', 'onboot', 'boot', 'bootdisk', 'ostype', 'agent', 'protection', 'description',
  'tags', 'digest', 'meta', 'vmgenid', 'smbios1', 'startup', 'template', 'lock', 'hotplug', 'acpi', 'kvm', 'tablet',
  'localtime', 'freeze', 'startdate', 'vcpus', 'cpulimit', 'cpuunits', 'numa', 'hookscript', 'keyboard', 'reboot',
  'spice_enhancements', 'vmstatestorage', 'searchdomain', 'nameserver', 'ciuser', 'cipassword', 'citype', 'sshkeys',
  'ciupgrade', 'cicustom', 'migrate_downtime', 'migrate_speed', 'shares', 'parent', 'runningmachine', 'runningcpu',
  'affinity', 'args', 'arch', 'balloon', 'sockets', 'cores', 'cpu', 'memory']);

const isCdrom = (v) => parsePropString(v, 'file').media === 'cdrom';
const memoryMiB = (cfg) => Number(parsePropString(cfg.memory ?? '512', 'current').current) || 512;

export const mountQemuHardware = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const err = errorSlot(`Could not load the hardware of VM ${guest.vmid}`);
  const feedback = taskFeedback({ signal });
  const tbody = h('tbody');
  let state = null; // {config, digest, pending}

  const addDisk = h('button', { type: 'button', class: 'btn', onclick: () => editDisk(null) }, icon('disk'), 'Add hard disk');
  const addCd = h('button', { type: 'button', class: 'btn', onclick: () => editCdrom(null) }, icon('plus'), 'Add CD/DVD drive');
  const addNet = h('button', { type: 'button', class: 'btn', onclick: () => editNet(null) }, icon('network'), 'Add network device');
  const reload = h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload');

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
      h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Add hardware' }, addDisk, addCd, addNet),
      reload),
    feedback.el, err.el,
    configTable(`Hardware of VM ${guest.vmid}`, ['Device', 'Configuration'], tbody));

  // --- rows -----------------------------------------------------------------

  function rows(cfg) {
    const out = [];
    const mem = memoryMiB(cfg);
    const balloon = cfg.balloon !== undefined ? Number(cfg.balloon) : null;
    out.push({ keys: ['memory', 'balloon'], icon: 'summary', label: 'Memory',
      value: `${formatBytes(mem * 2 ** 20)}${balloon === 0 ? ' (no ballooning)' : balloon ? ` (at least ${formatBytes(balloon * 2 ** 20)})` : ''}`,
      edit: editMemory });
    const sockets = Number(cfg.sockets) || 1;
    const cores = Number(cfg.cores) || 1;
    const cputype = parsePropString(cfg.cpu, 'cputype').cputype;
    out.push({ keys: ['sockets', 'cores', 'cpu', 'vcpus'], icon: 'hardware', label: 'Processors',
      value: `${sockets * cores} (${sockets} socket${sockets === 1 ? '' : 's'}, ${cores} core${cores === 1 ? '' : 's'}) [${cputype || 'default'}]`,
      edit: editProcessors });
    out.push({ keys: ['bios'], icon: 'hardware', label: 'BIOS', value: labelOf(BIOSES, cfg.bios || 'seabios'),
      edit: () => editChoice('bios', 'BIOS', BIOSES, 'seabios') });
    out.push({ keys: ['vga'], icon: 'vm', label: 'Display', value: cfg.vga ? labelOf(VGA_TYPES, parsePropString(cfg.vga, 'type').type) : 'Default',
      edit: () => editChoice('vga', 'Display', VGA_TYPES, '') });
    out.push({ keys: ['machine'], icon: 'hardware', label: 'Machine', value: cfg.machine ? parsePropString(cfg.machine, 'type').type : 'Default (i440fx)',
      edit: () => editChoice('machine', 'Machine', MACHINES, '') });
    out.push({ keys: ['scsihw'], icon: 'disk', label: 'SCSI controller', value: labelOf(SCSIHW, cfg.scsihw || 'lsi'),
      edit: () => editChoice('scsihw', 'SCSI controller', SCSIHW, 'lsi') });

    const diskKeys = Object.keys(cfg).filter((k) => DISK_KEY.test(k)).sort((a, b) => {
      const [, ba, ia] = DISK_KEY.exec(a);
      const [, bb, ib] = DISK_KEY.exec(b);
      return BUS_ORDER.indexOf(ba) - BUS_ORDER.indexOf(bb) || Number(ia) - Number(ib);
    });
    for (const k of diskKeys) {
      const cd = isCdrom(cfg[k]);
      out.push({ keys: [k], key: k, icon: 'disk', label: `${cd ? 'CD/DVD drive' : 'Hard disk'} (${k})`, value: cfg[k], actions: cd ? [] : moveAction(k),
        edit: () => (cd ? editCdrom(k) : editDisk(k)), remove: () => removeKey(k, cd ? 'CD/DVD drive' : 'hard disk') });
    }
    for (const k of ['efidisk0', 'tpmstate0']) {
      if (cfg[k] !== undefined) out.push({ keys: [k], key: k, icon: 'disk', label: k === 'efidisk0' ? 'EFI disk' : 'TPM state', value: cfg[k], actions: moveAction(k), remove: () => removeKey(k, k === 'efidisk0' ? 'EFI disk' : 'TPM state') });
    }
    const nets = Object.keys(cfg).filter((k) => NET_KEY.test(k)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    for (const k of nets) {
      out.push({ keys: [k], key: k, icon: 'network', label: `Network device (${k})`, value: cfg[k], edit: () => editNet(k), remove: () => removeKey(k, 'network device') });
    }
    const unused = Object.keys(cfg).filter((k) => UNUSED_KEY.test(k)).sort();
    for (const k of unused) {
      out.push({ keys: [k], key: k, icon: 'disk', label: `Unused disk ${k.slice(6)}`, value: cfg[k], actions: moveAction(k), remove: () => removeKey(k, 'unused disk', true) });
    }
    const rest = Object.keys(cfg).filter((k) => !SHOWN_ELSEWHERE.has(k) && !out.some((r) => r.keys.includes(k))).sort();
    for (const k of rest) out.push({ keys: [k], key: k, icon: 'hardware', label: k, value: cfg[k], remove: () => removeKey(k, k) });
    return out;
  }

  function render() {
    const { config, pending } = state;
    // Devices that exist only as pending additions show too.
    const cfg = { ...config };
    for (const [k, p] of pending) if (cfg[k] === undefined && p.pending !== undefined) cfg[k] = p.pending;
    renderRows(tbody, rows(cfg), pending);
  }

  const refresh = configLoader(base, { signal, err }, (loaded) => { state = loaded; render(); });

  /** Send a change; a UPID answer (POST, new disks) is followed to its end. */
  async function save(change, { method = 'PUT', label = 'Update hardware', setStatus } = {}) {
    const res = await putConfig(base, { ...change, digest: state.digest }, { method });
    if (isUpid(res)) {
      setStatus?.('Waiting for the task…');
      const status = await waitTask(res, { signal });
      if (status !== 'OK' && !/^WARNINGS?:/.test(status)) throw new TaskFailed(res, status);
    }
    feedback.clear();
    await refresh();
    return res;
  }

  /** The Move button of a disk row: for a disk that is in the config (not only pending) and on a storage. */
  function moveAction(key) {
    const volume = parsePropString(state.config[key] ?? '', 'file').file;
    return movable(volume) ? [['Move', 'chevron-right', () => moveDisk(key, volume)]] : [];
  }

  async function moveDisk(key, volume) {
    const upid = await moveVolumeDialog({ guest, key, volume, digest: state.digest, signal });
    if (!upid) return;
    // The task line reports the end (and offers the log); the config changes only then.
    feedback.run(`Move ${key}`, async () => upid).catch(() => {}).finally(() => refresh());
  }

  // --- editors ----------------------------------------------------------------

  function editMemory() {
    const cfg = state.config;
    const memory = field({ label: 'Memory (MiB)', name: 'memory', type: 'number', min: 16, step: 1, required: true, value: memoryMiB(cfg), inputmode: 'numeric' });
    const balloon = field({
      label: 'Minimum memory for ballooning (MiB)', name: 'balloon', type: 'number', min: 0, step: 1, value: cfg.balloon,
      hint: 'Empty: the same as the memory. 0 turns the balloon device off.', inputmode: 'numeric',
    });
    return formDialog({
      title: 'Edit memory', fields: [memory, balloon], submitLabel: 'Save',
      onSubmit: () => {
        const set = { memory: memory.get() };
        const remove = [];
        if (balloon.get() === '') { if (cfg.balloon !== undefined) remove.push('balloon'); } else set.balloon = balloon.get();
        return save({ set, remove });
      },
    });
  }

  function editProcessors() {
    const cfg = state.config;
    const cpu = parsePropString(cfg.cpu, 'cputype');
    const sockets = field({ label: 'Sockets', name: 'sockets', type: 'number', min: 1, max: 4, step: 1, required: true, value: cfg.sockets || 1 });
    const cores = field({ label: 'Cores per socket', name: 'cores', type: 'number', min: 1, step: 1, required: true, value: cfg.cores || 1 });
    const choices = CPU_TYPES.some(([k]) => k === (cpu.cputype || '')) ? CPU_TYPES : [...CPU_TYPES, [cpu.cputype, cpu.cputype]];
    const type = field({ label: 'CPU type', name: 'cpu', sub: 'cputype', type: 'select', options: choices, value: cpu.cputype || '' });
    const total = () => `${(Number(sockets.get()) || 0) * (Number(cores.get()) || 0)} virtual CPUs in total`;
    const note = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' }, total());
    for (const f of [sockets, cores]) f.input.addEventListener('input', () => { note.textContent = total(); });
    return formDialog({
      title: 'Edit processors', fields: [sockets, cores, type], submitLabel: 'Save',
      body: h('div', { class: 'form-grid' }, sockets.el, cores.el, type.el, note),
      onSubmit: () => {
        const set = { sockets: sockets.get(), cores: cores.get() };
        const remove = [];
        if (type.get()) set.cpu = formatPropString({ ...cpu, cputype: type.get() }, 'cputype');
        else if (cfg.cpu !== undefined) {
          const { cputype, ...flags } = cpu; // keep flags, drop only the type
          if (Object.keys(flags).length) set.cpu = formatPropString(flags); else remove.push('cpu');
        }
        return save({ set, remove });
      },
    });
  }

  function editChoice(key, label, options, dflt) {
    const cfg = state.config;
    const current = key === 'machine' || key === 'vga' ? parsePropString(cfg[key], 'type').type || '' : cfg[key] ?? dflt;
    const opts = options.some(([k]) => k === current) ? options : [...options, [current, current]];
    const f = field({ label, name: key, type: 'select', options: opts, value: current });
    return formDialog({
      title: `Edit ${label.toLowerCase()}`, fields: [f], submitLabel: 'Save',
      onSubmit: () => {
        const v = f.get();
        if (v === '' || (v === dflt && cfg[key] === undefined)) return save({ remove: cfg[key] !== undefined ? [key] : [] });
        if (key === 'machine' || key === 'vga') return save({ set: { [key]: formatPropString({ ...parsePropString(cfg[key], 'type'), type: v }, 'type') } });
        return save({ set: { [key]: v } });
      },
    });
  }

  /** Fill a storage select (content: images or iso); leaves a text hint when the node cannot list them. */
  async function fillStorages(f, content, wanted) {
    try {
      const list = await listStorages(guest.node, content, { signal });
      f.setOptions(list.map((s) => [s.storage, storageLabel(s)]));
      if (wanted && list.some((s) => s.storage === wanted)) f.set(wanted);
      if (!list.length) f.setError(`No storage on ${guest.node} holds ${content === 'iso' ? 'ISO images' : 'disk images'}.`);
      return list;
    } catch (e) {
      if (e.name !== 'AbortError') f.setError(`Could not list storages: ${e.message}`);
      return [];
    }
  }

  function editDisk(key) {
    const cfg = state.config;
    const existing = key ? parsePropString(cfg[key], 'file') : null;
    const [, curBus] = key ? DISK_KEY.exec(key) : [null, 'scsi'];
    const bus = field({ label: 'Bus', name: 'bus', type: 'select', options: DISK_BUSES.map(([b, l]) => [b, l]), value: curBus, disabled: !!key });
    const index = field({ label: 'Device number', name: 'index', type: 'number', min: 0, max: 30, step: 1, required: true, value: key ? DISK_KEY.exec(key)[2] : freeSlot(cfg, 'scsi') ?? 0, disabled: !!key });
    bus.input.addEventListener('change', () => index.set(freeSlot(cfg, bus.get()) ?? ''));
    const storage = field({ label: 'Storage', name: 'disk', sub: 'storage', type: 'select', required: true, disabled: !!key });
    const size = field({ label: 'Size (GiB)', name: 'disk', sub: 'size', type: 'number', min: 1, step: 1, required: true, value: existing ? Math.round((parseSize(existing.size) || 0) / 2 ** 30) || '' : 32, disabled: !!key });
    const format = field({ label: 'Format', name: 'disk', sub: 'format', type: 'select', options: [['qcow2', 'QEMU image (qcow2)'], ['raw', 'Raw disk image (raw)'], ['vmdk', 'VMware image (vmdk)']], value: existing?.format || 'qcow2', disabled: !!key });
    const cache = field({ label: 'Cache', name: 'disk', sub: 'cache', type: 'select', options: CACHE_MODES, value: existing?.cache || '' });
    const discard = field({ label: 'Discard (pass TRIM on to the storage)', name: 'disk', sub: 'discard', type: 'checkbox', value: existing?.discard === 'on' });
    const iothread = field({ label: 'IO thread', name: 'disk', sub: 'iothread', type: 'checkbox', value: existing?.iothread === '1' });
    const ssd = field({ label: 'SSD emulation', name: 'disk', sub: 'ssd', type: 'checkbox', value: existing?.ssd === '1' });
    const backup = field({ label: 'Include in backups', name: 'disk', sub: 'backup', type: 'checkbox', value: existing ? existing.backup !== '0' : true });
    if (!key) fillStorages(storage, 'images');
    else { storage.setOptions([[existing.file.split(':')[0], existing.file]]); }
    const fields = [storage, size, format, cache, discard, iothread, ssd, backup, bus, index];
    const body = h('div', { class: 'form-grid' }, bus.el, index.el, storage.el, size.el, format.el, cache.el, discard.el, iothread.el, ssd.el, backup.el);
    return formDialog({
      title: key ? `Edit hard disk ${key}` : 'Add hard disk', fields, body, submitLabel: key ? 'Save' : 'Add',
      onSubmit: (_, { setStatus }) => {
        const k = key || `${bus.get()}${index.get()}`;
        for (const f of fields) f.name = k; // the API reports errors under the device key
        const opts = {
          cache: cache.get() || undefined,
          discard: discard.get() ? 'on' : undefined,
          iothread: iothread.get() ? 1 : undefined,
          ssd: ssd.get() && bus.get() !== 'virtio' ? 1 : undefined,
          backup: backup.get() ? undefined : 0,
        };
        if (key) {
          const { cache: _c, discard: _d, iothread: _i, ssd: _s, backup: _b, ...keep } = existing;
          return save({ set: { [k]: formatPropString({ ...keep, ...opts }, 'file') } });
        }
        const value = formatPropString({ file: `${storage.get()}:${size.get()}`, format: format.get(), ...opts }, 'file');
        // POST: allocating the volume runs as a task
        return save({ set: { [k]: value } }, { method: 'POST', setStatus });
      },
    });
  }

  function editCdrom(key) {
    const cfg = state.config;
    const existing = key ? parsePropString(cfg[key], 'file') : { file: 'none' };
    const curBus = key ? DISK_KEY.exec(key)[1] : 'ide';
    const bus = field({ label: 'Bus', name: 'bus', type: 'select', options: [['ide', 'IDE'], ['sata', 'SATA'], ['scsi', 'SCSI']], value: curBus, disabled: !!key });
    const index = field({ label: 'Device number', name: 'index', type: 'number', min: 0, max: 30, step: 1, required: true, value: key ? DISK_KEY.exec(key)[2] : (cfg.ide2 === undefined ? 2 : freeSlot(cfg, 'ide') ?? 0), disabled: !!key });
    bus.input.addEventListener('change', () => index.set(freeSlot(cfg, bus.get()) ?? ''));
    const file = existing.file || 'none';
    const medium = field({ label: 'Medium', name: 'cd', sub: 'file', type: 'select', options: [['iso', 'ISO image'], ['none', 'No medium'], ['cdrom', 'Physical drive of the host']],
      value: file === 'none' || file === 'cdrom' ? file : 'iso' });
    const isoStorage = field({ label: 'ISO storage', name: 'cd', sub: 'storage', type: 'select' });
    const image = field({ label: 'ISO image', name: 'cd', sub: 'file', type: 'select', required: true });
    const wantedStorage = file.includes(':') ? file.split(':')[0] : null;
    const sync = () => { const iso = medium.get() === 'iso'; isoStorage.el.hidden = !iso; image.el.hidden = !iso; image.input.required = iso; };
    medium.input.addEventListener('change', sync);
    sync();
    async function loadImages() {
      if (!isoStorage.get()) return;
      try {
        const isos = await listIsos(guest.node, isoStorage.get(), { signal });
        image.setOptions(isos.map((v) => [v.volid, `${volName(v.volid)}${v.size ? ` (${formatBytes(v.size)})` : ''}`]));
        if (isos.some((v) => v.volid === file)) image.set(file);
        if (!isos.length) image.setError('No ISO images on this storage.');
      } catch (e) { if (e.name !== 'AbortError') image.setError(`Could not list ISO images: ${e.message}`); }
    }
    isoStorage.input.addEventListener('change', loadImages);
    fillStorages(isoStorage, 'iso', wantedStorage).then(loadImages);
    const fields = [image, medium, isoStorage, bus, index];
    return formDialog({
      title: key ? `Edit CD/DVD drive ${key}` : 'Add CD/DVD drive', fields, submitLabel: key ? 'Save' : 'Add',
      body: h('div', { class: 'form-grid' }, bus.el, index.el, medium.el, isoStorage.el, image.el),
      onSubmit: () => {
        const k = key || `${bus.get()}${index.get()}`;
        for (const f of fields) f.name = k;
        const vol = medium.get() === 'iso' ? image.get() : medium.get();
        const { file: _f, media: _m, ...keep } = existing;
        return save({ set: { [k]: formatPropString({ file: vol, ...keep, media: 'cdrom' }, 'file') } });
      },
    });
  }

  function editNet(key) {
    const cfg = state.config;
    const k = key || `net${freeNetSlot(cfg) ?? 0}`;
    const net = key ? parseNet(cfg[key]) : { model: 'virtio', bridge: 'vmbr0' };
    const models = NIC_CHOICES.some(([m]) => m === net.model) ? NIC_CHOICES : [...NIC_CHOICES, [net.model, net.model]];
    const model = field({ label: 'Model', name: k, sub: 'model', type: 'select', options: models.filter(([m]) => NIC_MODELS.includes(m)), value: net.model });
    const bridge = field({ label: 'Bridge', name: k, sub: 'bridge', required: true, value: net.bridge || 'vmbr0', list: [] });
    const mac = field({ label: 'MAC address', name: k, sub: 'macaddr', value: net.macaddr || '', placeholder: 'auto',
      pattern: '^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$', hint: 'Empty: one is generated.' });
    const tag = field({ label: 'VLAN tag', name: k, sub: 'tag', type: 'number', min: 1, max: 4094, step: 1, value: net.tag || '', placeholder: 'none' });
    const firewall = field({ label: 'Firewall', name: k, sub: 'firewall', type: 'checkbox', value: net.firewall === '1' });
    const down = field({ label: 'Disconnected (link down)', name: k, sub: 'link_down', type: 'checkbox', value: net.link_down === '1' });
    offerBridges(bridge, guest.node, { signal });
    return formDialog({
      title: key ? `Edit network device ${key}` : 'Add network device', fields: [bridge, model, mac, tag, firewall, down],
      body: h('div', { class: 'form-grid' }, model.el, bridge.el, mac.el, tag.el, firewall.el, down.el),
      submitLabel: key ? 'Save' : 'Add',
      onSubmit: () => {
        const { model: _m, macaddr: _a, bridge: _b, tag: _t, firewall: _f, link_down: _l, ...keep } = net;
        const value = formatNet({
          model: model.get(), macaddr: mac.get() || undefined, bridge: bridge.get(), ...keep,
          tag: tag.get() || undefined, firewall: firewall.get() ? 1 : undefined, link_down: down.get() ? 1 : undefined,
        });
        return save({ set: { [k]: value } });
      },
    });
  }

  async function removeKey(key, what, destroysData = false) {
    const ok = await confirmDialog({
      title: `Remove ${what} ${key}?`,
      message: destroysData
        ? `The volume ${state.config[key]} is destroyed. This cannot be undone.`
        : DISK_KEY.test(key) && !isCdrom(state.config[key])
          ? 'The disk is detached and kept as an unused disk; its data stays until you remove that too.'
          : `${key} is removed from the configuration of VM ${guest.vmid}.`,
      confirmLabel: 'Remove',
      danger: true,
    });
    if (!ok) return;
    try {
      await feedback.run(`Remove ${key}`, () => save({ remove: [key] }));
    } catch (e) {
      console.debug('remove failed:', e);
    }
  }

  refresh();
  return null;
});
