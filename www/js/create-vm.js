// The Create-VM wizard: General, OS, System, Disks, CPU, Memory, Network,
// Confirm, in one dialog. It posts PVE's parameters to POST /nodes/{node}/qemu
// (scsi0=local:32,format=qcow2, ide2=local:iso/x.iso,media=cdrom,
// net0=virtio,bridge=vmbr0, boot=order=scsi0;ide2;net0, …), follows the
// creation task, and opens the new VM. A 400's per-parameter errors are put
// beside their fields, and the wizard goes back to the first step with one.

import { api, seg, errorText, ApiError } from './api.js';
import { h, icon, setText, replaceChildren } from './dom.js';
import { nextId } from './ui.js';
import { field, clearErrors, validate, applyErrors } from './form.js';
import { modal, dialogError } from './dialog.js';
import { loadNodes, isOnline } from './nodes.js';
import { loadResources, usedVmids } from './resources.js';
import { parseRoute, navigate } from './router.js';
import { formatBytes, taskStatusKind } from './format.js';
import { isUpid, waitTask } from './taskrun.js';
import { openTaskLog } from './tasklog.js';
import {
  listStorages, storageLabel, listIsos, volName, OSTYPES, BIOSES, MACHINES, SCSIHW, CPU_TYPES, NIC_CHOICES, DISK_BUSES,
} from './qemu-config.js';

const DNS_NAME = '^[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?)*$';

/** The lowest VMID from 100 that no guest uses (when /cluster/nextid is missing). */
function localNextId() {
  const used = usedVmids();
  let id = 100;
  while (used.has(id)) id++;
  return id;
}

export function openCreateVm() {
  const ctrl = new AbortController();
  const signal = ctrl.signal;

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
  // Several fields feed one parameter (the disk's); tests and styles find them by their own name.
  for (const [k, fld] of Object.entries(f)) fld.input.dataset.field = k;
  const cpuTotal = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' });
  const memNote = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' });
  const summary = h('dl', { class: 'confirm-list' });

  const STEPS = [
    { id: 'general', label: 'General', fields: ['node', 'vmid', 'name'] },
    { id: 'os', label: 'OS', fields: ['media', 'isoStorage', 'iso', 'ostype'] },
    { id: 'system', label: 'System', fields: ['bios', 'machine', 'scsihw', 'agent', 'kvm'] },
    { id: 'disks', label: 'Disks', fields: ['noDisk', 'bus', 'storage', 'size', 'format', 'discard'] },
    { id: 'cpu', label: 'CPU', fields: ['sockets', 'cores', 'cpu'], extra: [cpuTotal] },
    { id: 'memory', label: 'Memory', fields: ['memory'], extra: [memNote] },
    { id: 'network', label: 'Network', fields: ['noNet', 'bridge', 'model', 'tag', 'firewall'] },
    { id: 'confirm', label: 'Confirm', fields: ['start'], extra: [] },
  ];
  const stepOf = new Map();
  for (const s of STEPS) for (const k of s.fields) stepOf.set(f[k], s);

  // --- layout -------------------------------------------------------------------
  let current = 0;
  let maxSeen = 0;
  const err = dialogError();
  const stepButtons = [];
  const nav = h('nav', { class: 'wizard-steps', 'aria-label': 'Steps' },
    h('ol', null, STEPS.map((s, i) => {
      const b = h('button', { type: 'button', class: 'wizard-step', dataset: { step: s.id }, onclick: () => go(i) },
        h('span', { class: 'wizard-num', 'aria-hidden': 'true' }, String(i + 1)), s.label);
      stepButtons.push(b);
      return h('li', null, b);
    })));
  const progress = h('p', { class: 'wizard-progress muted small', 'aria-live': 'polite' });
  const panes = STEPS.map((s) => {
    const hid = nextId('step');
    return h('section', { class: 'wizard-pane', 'aria-labelledby': hid, hidden: true, dataset: { step: s.id } },
      h('h3', { id: hid }, s.label),
      s.id === 'confirm' ? [summary, h('div', { class: 'form-grid' }, f.start.el)]
        : h('div', { class: 'form-grid' }, s.fields.map((k) => f[k].el), s.extra || []));
  });
  const status = h('span', { class: 'dialog-status', 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const back = h('button', { type: 'button', class: 'btn', onclick: () => go(current - 1) }, 'Back');
  const next = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { role: 'next' } }, 'Next');

  const m = modal({
    title: 'Create a virtual machine',
    className: 'wizard',
    body: [nav, h('div', { class: 'wizard-main' }, progress, err.el, panes)],
    foot: [status, h('span', { class: 'spacer' }), cancel, back, next],
    onSubmit: () => (current === STEPS.length - 1 ? create() : go(current + 1)),
    onClose: () => ctrl.abort(),
  });
  cancel.addEventListener('click', () => m.close());

  function stepFields(i) { return STEPS[i].fields.map((k) => f[k]); }

  /** Move to step i; going forward checks the steps on the way. */
  function go(i, { check = true } = {}) {
    if (i < 0 || i >= STEPS.length) return;
    if (check && i > current) {
      for (let j = current; j < i; j++) {
        const bad = validate(stepFields(j));
        if (bad) { show(j); bad.focus(); return; }
      }
    }
    show(i);
    const first = panes[i].querySelector('input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea');
    (first && !first.closest('[hidden]') ? first : panes[i]).focus?.();
  }

  function show(i) {
    current = i;
    maxSeen = Math.max(maxSeen, i);
    panes.forEach((p, j) => { p.hidden = j !== i; });
    stepButtons.forEach((b, j) => {
      if (j === i) b.setAttribute('aria-current', 'step'); else b.removeAttribute('aria-current');
      b.classList.toggle('is-done', j < maxSeen && j !== i);
    });
    setText(progress, `Step ${i + 1} of ${STEPS.length}: ${STEPS[i].label}`);
    stepButtons[i].scrollIntoView({ block: 'nearest', inline: 'nearest' }); // the step strip scrolls at phone width
    back.disabled = i === 0;
    setText(next, i === STEPS.length - 1 ? 'Create' : 'Next');
    if (STEPS[i].id === 'confirm') renderSummary();
  }

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
    const [images, isos, bridges] = await Promise.allSettled([
      listStorages(node, 'images', { signal }),
      listStorages(node, 'iso', { signal }),
      api(`/nodes/${seg(node)}/network`, { params: { type: 'any_bridge' }, signal }),
    ]);
    if (signal.aborted) return;
    // A list that cannot be had becomes the field's validation message, so "Next" says why it stops.
    const offer = (fld, result, what) => {
      const list = result.status === 'fulfilled' ? result.value : [];
      fld.setOptions(list.map((s) => [s.storage, storageLabel(s)]));
      const why = result.status === 'rejected' ? `Could not list the storages of ${node}: ${errorText(result.reason)}`
        : list.length ? '' : `No storage on ${node} holds ${what}.`;
      fld.input.setCustomValidity(why);
      fld.setError(why || null);
      return list.length > 0;
    };
    offer(f.storage, images, 'disk images');
    if (!offer(f.isoStorage, isos, 'ISO images')) f.media.set('none');
    sync();
    await loadIsos();
    // The bridge list only offers suggestions; a node that cannot list them leaves a free text field.
    if (bridges.status === 'fulfilled' && Array.isArray(bridges.value)) {
      f.bridge.setOptions(bridges.value.map((b) => b.iface).filter(Boolean).sort());
    }
  }
  f.node.input.addEventListener('change', loadNodeData);
  f.isoStorage.input.addEventListener('change', loadIsos);

  (async () => {
    try {
      const nodes = (await loadNodes({ maxAge: 5000 })).filter(isOnline).map((n) => n.node);
      f.node.setOptions(nodes.map((n) => [n, n]));
      const r = parseRoute(location.hash);
      if (r.node && nodes.includes(r.node)) f.node.set(r.node);
      if (!nodes.length) f.node.setError('No node is online.');
    } catch (e) {
      f.node.setError(`Could not list the nodes: ${errorText(e)}`);
    }
    try {
      const id = await api('/cluster/nextid', { signal });
      if (!f.vmid.get()) f.vmid.set(Number(id));
    } catch (e) {
      if (e.name === 'AbortError') return;
      await loadResources({ maxAge: 5000 }).catch(() => {});
      if (!f.vmid.get()) f.vmid.set(localNextId());
    }
    loadNodeData();
  })();

  // --- parameters -----------------------------------------------------------------
  const diskKey = () => `${f.bus.get()}0`;

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

  function renderSummary() {
    const p = params();
    delete p.start; // the checkbox below says it
    replaceChildren(summary,
      h('div', null, h('dt', null, 'node'), h('dd', null, f.node.get())),
      Object.entries(p).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, String(v)))));
  }

  // --- create -----------------------------------------------------------------------
  async function create() {
    const all = STEPS.flatMap((s, i) => stepFields(i));
    clearErrors(all);
    err.set(null);
    for (let i = 0; i < STEPS.length; i++) {
      const bad = validate(stepFields(i));
      if (bad) { show(i); bad.focus(); return; }
    }
    // The disk fields report under the disk's own key (scsi0, virtio0, …).
    for (const k of ['bus', 'storage', 'size', 'format', 'discard']) f[k].name = diskKey();
    const node = f.node.get();
    const vmid = f.vmid.get();
    m.setBusy(true);
    setStatus('running', `Creating VM ${vmid}…`);
    let upid;
    try {
      upid = await api(`/nodes/${seg(node)}/qemu`, { method: 'POST', body: params() });
    } catch (e) {
      m.setBusy(false);
      setStatus(null);
      if (e instanceof ApiError && e.errors) {
        const { left, first } = applyErrors(all, e.errors);
        const rest = Object.entries(left).map(([k, v]) => `${k}: ${v}`).join('; ');
        if (first) {
          go(STEPS.indexOf(stepOf.get(first)), { check: false });
          first.focus();
        }
        err.set(rest ? `The server refused: ${rest}` : first ? null : `The server refused: ${errorText(e)}`);
      } else {
        err.set(`Could not create the VM: ${errorText(e)}`);
      }
      return;
    }
    let exit = 'OK';
    if (isUpid(upid)) {
      setStatus('running', `Creating VM ${vmid}${f.start.get() ? ' and starting it' : ''}…`, upid);
      try {
        exit = await waitTask(upid, { signal });
      } catch (e) {
        if (e.name === 'AbortError') return;
        exit = errorText(e);
      }
    }
    m.setBusy(false);
    if (taskStatusKind(exit) === 'error') {
      setStatus('error', `Creating VM ${vmid} failed: ${exit}`, upid);
      return;
    }
    await loadResources({ maxAge: 0 }).catch(() => {});
    m.close();
    navigate(`qemu/${vmid}`);
  }

  function setStatus(kind, text, upid) {
    if (!kind) { status.replaceChildren(); return; }
    status.dataset.kind = kind;
    replaceChildren(status,
      kind === 'running' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : icon('alert'),
      h('span', null, text),
      upid ? h('button', { type: 'button', class: 'link', onclick: (ev) => openTaskLog({ upid }, ev.currentTarget) }, 'Show log') : null);
  }

  show(0);
  f.node.focus();
  return m;
}
