// VM → Cloud-Init: what the VM's cloud-init drive tells the guest — user,
// password (masked), DNS, SSH keys (URL-encoded in the config), package upgrade,
// the image type and each network device's IP configuration (ipconfigN). Every
// row edits through PUT …/config with the digest it read (an emptied value is
// deleted). GET …/cloudinit says which settings the generated image does not
// have yet; Regenerate Image (PUT …/cloudinit) writes it again. A VM without a
// cloud-init drive is offered one (ide2, or the first free IDE slot).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { errorSlot } from '../ui.js';
import { field, rule } from '../form.js';
import { formDialog } from '../dialog.js';
import { taskFeedback, isUpid, waitTask, TaskFailed } from '../taskrun.js';
import { guestBase, guestView } from '../guests.js';
import { loadConfig, putConfig, listStorages, storageLabel, NET_KEY } from '../qemu-config.js';
import { DNS_NAME } from '../wizard.js';
import { cloudinitDrive, cloudinitSlot, decodeKeys, encodeKeys, formatIpconfig, ipMode, normalizeKeys, parseIpconfig } from '../cloudinit.js';
import { configTable, optionEditors, renderRows } from './config-grid.js';

const CITYPES = [['', 'Default (nocloud; configdrive2 for Windows)'], ['nocloud', 'NoCloud'], ['configdrive2', 'ConfigDrive2'], ['opennebula', 'OpenNebula']];
const MASK = '**********';

export const mountQemuCloudinit = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const err = errorSlot(`Could not load the cloud-init settings of VM ${guest.vmid}`);
  const imageErr = errorSlot('Could not read which settings the cloud-init image lacks');
  const feedback = taskFeedback({ signal });
  const tbody = h('tbody');
  const regenBtn = h('button', { type: 'button', class: 'btn', disabled: true, dataset: { action: 'regenerate' }, onclick: regenerate }, icon('refresh'), 'Regenerate Image');
  const addBtn = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'add-drive' }, onclick: addDrive }, icon('plus'), 'Add Cloud-Init drive');
  const hint = h('div', { class: 'notice notice-warn cloudinit-hint', hidden: true }, icon('alert'),
    h('span', null, 'This VM has no cloud-init drive: the settings below reach the guest only through one.'), addBtn);
  let state = null;        // {config, digest, pending} (qemu-config.js)
  let image = new Map();   // key → {value, pending, delete}: settings the generated image does not have yet
  let drive = null;

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
      h('p', { class: 'muted small' }, 'The guest reads these at boot. The image is written again at each start, or with Regenerate Image.'),
      h('div', { class: 'actions' }, regenBtn, h('button', { type: 'button', class: 'btn', dataset: { action: 'reload' }, onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el, imageErr.el, hint,
    configTable(`Cloud-init settings of VM ${guest.vmid}`, ['Setting', 'Value'], tbody));

  async function refresh() {
    try {
      state = await loadConfig(base, { signal });
      drive = cloudinitDrive(state.config, state.pending);
      image = drive ? await imageState() : new Map();
      hint.hidden = !!drive;
      regenBtn.disabled = !drive;
      render();
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  /** GET …/cloudinit: [{key, value, pending, delete}] — what differs between the config and the image. */
  async function imageState() {
    try {
      const list = await api(`${base}/cloudinit`, { signal });
      imageErr.set(null);
      return new Map((Array.isArray(list) ? list : [])
        .filter((p) => p && p.key && (Number(p.delete) === 1 || (p.pending !== undefined && p.pending !== null && p.pending !== p.value)))
        .map((p) => [p.key, p]));
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      imageErr.set(e);
      return new Map();
    }
  }

  async function save(set = {}, remove = []) {
    const res = await putConfig(base, { set, remove, digest: state.digest });
    await refresh();
    return res;
  }
  const { editFlag, editText } = optionEditors(() => state.config, save);

  /** Pending notes: a change waiting for the next start (…/pending) first, else one the image lacks. */
  function pendingNotes() {
    const shown = (k, v) => (k === 'cipassword' ? MASK : k === 'sshkeys' ? decodeKeys(v) : v);
    const notes = new Map();
    for (const [k, p] of state.pending) {
      notes.set(k, { ...p, note: p.delete ? `${k}: to be removed at the next start` : `${k}: ${shown(k, p.pending)} at the next start` });
    }
    for (const [k, p] of image) {
      if (!notes.has(k)) notes.set(k, { ...p, note: `${k}: not in the cloud-init image yet` });
    }
    return notes;
  }

  function render() {
    const cfg = state.config;
    const nets = Object.keys(cfg).filter((k) => NET_KEY.test(k)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    const rows = [
      { key: 'ciuser', label: 'User', icon: 'user', value: cfg.ciuser || "Default (the image's own)",
        edit: () => editText('ciuser', 'User', { hint: "Empty: the image's default user." }) },
      { key: 'cipassword', label: 'Password', icon: 'lock', value: cfg.cipassword ? MASK : 'none', edit: editPassword },
      { key: 'searchdomain', label: 'DNS domain', icon: 'search', value: cfg.searchdomain || 'use host settings',
        edit: () => editText('searchdomain', 'DNS domain', { pattern: DNS_NAME, hint: "Empty: the host's." }) },
      { key: 'nameserver', label: 'DNS servers', icon: 'network', value: cfg.nameserver || 'use host settings',
        edit: () => editText('nameserver', 'DNS servers', { placeholder: '192.0.2.53 2001:db8::53', hint: "Addresses separated by spaces; empty: the host's.", normalize: (v) => v.split(/[\s,;]+/).filter(Boolean).join(' ') }) },
      { key: 'sshkeys', label: 'SSH public keys', icon: 'key', value: decodeKeys(cfg.sshkeys) || 'none', pre: true, edit: editKeys },
      { key: 'ciupgrade', label: 'Upgrade packages', icon: 'package', value: Number(cfg.ciupgrade ?? 1) ? 'Yes' : 'No',
        edit: () => editFlag('ciupgrade', 'Upgrade packages at the first boot', 1) },
      { key: 'citype', label: 'Type', icon: 'cloud', value: (CITYPES.find(([k]) => k === (cfg.citype || '')) || [0, cfg.citype])[1], edit: editType },
      ...nets.map((k) => {
        const n = k.slice(3);
        return { key: `ipconfig${n}`, keys: [`ipconfig${n}`, k], label: `IP config (${k})`, icon: 'network', value: cfg[`ipconfig${n}`] || 'none', edit: () => editIp(n) };
      }),
    ];
    if (!nets.length) rows.push({ key: 'ipconfig', label: 'IP config', icon: 'network', value: 'This VM has no network device (add one under Hardware).' });
    renderRows(tbody, rows, pendingNotes());
  }

  // --- editors ----------------------------------------------------------------

  function editPassword() {
    const f = field({ label: 'Password', name: 'cipassword', type: 'password', autocomplete: 'new-password',
      hint: state.config.cipassword ? 'A password is set; empty removes it.' : 'Empty: none (log in with an SSH key).' });
    return formDialog({
      title: 'Edit: Password', fields: [f], submitLabel: 'Save',
      onSubmit: () => (f.get() === '' ? save({}, state.config.cipassword !== undefined ? ['cipassword'] : []) : save({ cipassword: f.get() })),
    });
  }

  function editKeys() {
    const f = field({ label: 'SSH public keys', name: 'sshkeys', type: 'textarea', rows: 8, wide: true, value: decodeKeys(state.config.sshkeys),
      placeholder: 'ssh-ed25519 AAAA… user@host', hint: 'One key per line, as in authorized_keys.' });
    return formDialog({
      title: 'Edit: SSH public keys', fields: [f], submitLabel: 'Save', className: 'dialog-wide',
      onSubmit: () => {
        const keys = normalizeKeys(f.get());
        return keys ? save({ sshkeys: encodeKeys(keys) }) : save({}, state.config.sshkeys !== undefined ? ['sshkeys'] : []);
      },
    });
  }

  function editType() {
    const cur = state.config.citype || '';
    const options = CITYPES.some(([k]) => k === cur) ? CITYPES : [...CITYPES, [cur, cur]];
    const f = field({ label: 'Cloud-init type', name: 'citype', type: 'select', options, value: cur });
    return formDialog({
      title: 'Edit: Type', fields: [f], submitLabel: 'Save',
      onSubmit: () => (f.get() ? save({ citype: f.get() }) : save({}, state.config.citype !== undefined ? ['citype'] : [])),
    });
  }

  /** IPv4: none / DHCP / static (address in CIDR, gateway); IPv6 also SLAAC. */
  function editIp(n) {
    const key = `ipconfig${n}`;
    const cur = parseIpconfig(state.config[key]);
    const sub = (s, opts) => {
      const f = field({ name: key, sub: s, ...opts });
      f.input.dataset.sub = s;
      return f;
    };
    const v4 = sub('ip', { label: 'IPv4', type: 'select', options: [['', 'None'], ['dhcp', 'DHCP'], ['static', 'Static']], value: ipMode(cur.ip) });
    const ip4 = sub('ip', { label: 'IPv4 address (CIDR)', placeholder: '192.0.2.10/24', required: true, value: ipMode(cur.ip) === 'static' ? cur.ip : '' });
    const gw4 = sub('gw', { label: 'IPv4 gateway', placeholder: '192.0.2.1', value: cur.gw });
    const v6 = sub('ip6', { label: 'IPv6', type: 'select', options: [['', 'None'], ['dhcp', 'DHCP'], ['auto', 'SLAAC'], ['static', 'Static']], value: ipMode(cur.ip6) });
    const ip6 = sub('ip6', { label: 'IPv6 address (CIDR)', placeholder: '2001:db8::10/64', required: true, value: ipMode(cur.ip6) === 'static' ? cur.ip6 : '' });
    const gw6 = sub('gw6', { label: 'IPv6 gateway', placeholder: '2001:db8::1', value: cur.gw6 });
    rule(ip4, (v) => (/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(v) ? null : 'An IPv4 address with its prefix length, e.g. 192.0.2.10/24.'));
    rule(ip6, (v) => (/^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\/\d{1,3}$/.test(v) ? null : 'An IPv6 address with its prefix length, e.g. 2001:db8::10/64.'));
    const sync = () => {
      ip4.el.hidden = gw4.el.hidden = v4.get() !== 'static';
      ip6.el.hidden = gw6.el.hidden = v6.get() !== 'static';
    };
    v4.input.addEventListener('change', sync);
    v6.input.addEventListener('change', sync);
    sync();
    const pick = (mode, addr) => (mode === 'static' ? addr.get() : mode);
    return formDialog({
      title: `Edit: IP config (net${n})`, fields: [v4, ip4, gw4, v6, ip6, gw6], submitLabel: 'Save',
      onSubmit: () => {
        const s = formatIpconfig({ ip: pick(v4.get(), ip4), gw: gw4.get(), ip6: pick(v6.get(), ip6), gw6: gw6.get() });
        return s ? save({ [key]: s }) : save({}, state.config[key] !== undefined ? [key] : []);
      },
    });
  }

  // --- the drive and its image ------------------------------------------------

  async function regenerate() {
    regenBtn.disabled = true;
    try {
      await feedback.run('Regenerate the cloud-init image', () => api(`${base}/cloudinit`, { method: 'PUT', signal }));
    } catch (e) {
      console.debug('cloudinit:', e);
    } finally {
      if (!signal.aborted) await refresh();
    }
  }

  /** A cloud-init drive on a storage for disk images: `<storage>:cloudinit` in the free slot (allocated in a task). */
  function addDrive() {
    const slot = cloudinitSlot(state.config);
    const storage = field({ label: 'Storage', name: slot || 'ide2', sub: 'storage', type: 'select', required: true,
      hint: slot ? `The drive becomes ${slot}.` : 'All four IDE slots are taken: free one under Hardware first.' });
    listStorages(guest.node, 'images', { signal }).then((list) => {
      storage.setOptions(list.map((s) => [s.storage, storageLabel(s)]));
      if (!list.length) storage.setError(`No storage on ${guest.node} holds disk images.`);
    }).catch((e) => { if (e.name !== 'AbortError') storage.setError(`Could not list storages: ${e.message}`); });
    return formDialog({
      title: 'Add Cloud-Init drive', fields: [storage], submitLabel: 'Add',
      onSubmit: async (_fields, { setStatus }) => {
        if (!slot) throw new Error('All four IDE slots are taken.');
        const res = await putConfig(base, { set: { [slot]: `${storage.get()}:cloudinit` }, digest: state.digest }, { method: 'POST' });
        if (isUpid(res)) {
          setStatus('Waiting for the task…');
          const status = await waitTask(res, { signal });
          if (status !== 'OK' && !/^WARNINGS?:/.test(status)) throw new TaskFailed(res, status);
        }
        await refresh();
      },
    });
  }

  refresh();
  return null;
});
