// The Create-CT wizard: General, Template, Root disk, CPU, Memory, Network,
// DNS, Confirm (the step machinery is wizard.js). It posts PVE's parameters
// to POST /nodes/{node}/lxc (ostemplate=local:vztmpl/x.tar.gz,
// rootfs=local:8, net0=name=eth0,bridge=vmbr0,ip=dhcp, …), follows the
// creation task and opens the new container.

import { errorText } from './api.js';
import { offerBridges } from './nodes.js';
import { h, setText } from './dom.js';
import { field } from './form.js';
import { formatBytes } from './format.js';
import { netFields } from './ct-config.js';
import { listContent, listStorages, storageLabel, volName } from './storage.js';
import { DNS_NAME, offerStorages, openWizard } from './wizard.js';

export function openCreateCt() {
  const f = {
    node: field({ label: 'Node', name: 'node', type: 'select', required: true }),
    vmid: field({ label: 'CT ID', name: 'vmid', type: 'number', min: 100, max: 999999999, step: 1, required: true, inputmode: 'numeric' }),
    hostname: field({ label: 'Hostname', name: 'hostname', pattern: DNS_NAME, placeholder: 'optional', hint: 'A DNS name: letters, digits, "-" and ".".' }),
    unprivileged: field({ label: 'Unprivileged container', name: 'unprivileged', type: 'checkbox', value: true,
      hint: 'Root in the container is not root on the host. Leave on unless the container needs otherwise.' }),
    password: field({ label: 'Root password', name: 'password', type: 'password', autocomplete: 'new-password', hint: 'At least 5 characters; optional when an SSH key is given.' }),
    confirm: field({ label: 'Confirm the password', name: 'password-confirm', type: 'password', autocomplete: 'new-password' }),
    keys: field({ label: 'SSH public keys', name: 'ssh-public-keys', type: 'textarea', rows: 3, wide: true, placeholder: 'ssh-ed25519 AAAA… user@host', hint: 'One key a line; they go to root\'s authorized_keys.' }),

    tmplStorage: field({ label: 'Storage', name: 'ostemplate', sub: 'storage', type: 'select', required: true }),
    template: field({ label: 'Template', name: 'ostemplate', type: 'select', required: true, wide: true }),

    rootStorage: field({ label: 'Storage', name: 'rootfs', sub: 'storage', type: 'select', required: true }),
    disksize: field({ label: 'Disk size (GiB)', name: 'rootfs', sub: 'size', type: 'number', min: 1, max: 131072, step: 1, value: 8, required: true, inputmode: 'numeric' }),

    cores: field({ label: 'Cores', name: 'cores', type: 'number', min: 1, max: 8192, step: 1, value: 1, required: true, inputmode: 'numeric' }),

    memory: field({ label: 'Memory (MiB)', name: 'memory', type: 'number', min: 16, step: 1, value: 512, required: true, inputmode: 'numeric' }),
    swap: field({ label: 'Swap (MiB)', name: 'swap', type: 'number', min: 0, step: 1, value: 512, required: true, inputmode: 'numeric' }),

    noNet: field({ label: 'No network device', name: 'nonet', type: 'checkbox', value: false }),
    nameserver: field({ label: 'DNS servers', name: 'nameserver', placeholder: 'the host\'s', hint: 'Addresses separated by spaces; empty: as on the host.' }),
    searchdomain: field({ label: 'DNS search domain', name: 'searchdomain', pattern: DNS_NAME, placeholder: 'the host\'s' }),

    start: field({ label: 'Start after created', name: 'start', type: 'checkbox', value: false }),
  };
  const net = netFields('net0');
  Object.assign(f, net.f);
  const memNote = h('p', { class: 'muted small field-wide', 'aria-live': 'polite' });

  const STEPS = [
    { id: 'general', label: 'General', fields: ['node', 'vmid', 'hostname', 'unprivileged', 'password', 'confirm', 'keys'] },
    { id: 'template', label: 'Template', fields: ['tmplStorage', 'template'] },
    { id: 'rootfs', label: 'Root disk', fields: ['rootStorage', 'disksize'] },
    { id: 'cpu', label: 'CPU', fields: ['cores'] },
    { id: 'memory', label: 'Memory', fields: ['memory', 'swap'], extra: [memNote] },
    { id: 'network', label: 'Network', fields: ['noNet', ...net.keys] },
    { id: 'dns', label: 'DNS', fields: ['nameserver', 'searchdomain'] },
    { id: 'confirm', label: 'Confirm', fields: ['start'] },
  ];

  const { m, signal } = openWizard({
    title: 'Create a container', f, steps: STEPS, type: 'lxc', noun: 'CT', params,
    onReady: () => loadNodeData(),
  });

  // --- dependent fields and checks ---------------------------------------------------
  function sync() {
    net.sync(f.noNet.get());
    const pw = f.password.get();
    f.password.input.setCustomValidity(pw && pw.length < 5 ? 'The password needs at least 5 characters.' : '');
    f.confirm.input.setCustomValidity(f.confirm.get() !== pw ? 'The passwords differ.' : '');
    const mib = Number(f.memory.get()) || 0;
    setText(memNote, mib ? `${formatBytes(mib * 2 ** 20)} of memory, ${formatBytes((Number(f.swap.get()) || 0) * 2 ** 20)} of swap.` : '');
  }
  for (const k of ['noNet', 'password', 'confirm', 'memory', 'swap']) {
    const inp = f[k].input;
    inp.addEventListener(inp.type === 'checkbox' || inp.tagName === 'SELECT' ? 'change' : 'input', sync);
  }
  sync();

  // --- data ------------------------------------------------------------------------------
  async function loadTemplates() {
    const storage = f.tmplStorage.get();
    f.template.setOptions([]);
    if (!storage) return;
    try {
      const list = await listContent(f.node.get(), storage, 'vztmpl', { signal });
      f.template.setOptions(list.map((v) => [v.volid, `${volName(v.volid)}${v.size ? ` (${formatBytes(v.size)})` : ''}`]));
      const why = list.length ? '' : 'No container templates on this storage: upload one (Node → Storage) first.';
      f.template.input.setCustomValidity(why);
      f.template.setError(why || null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      f.template.input.setCustomValidity(`Could not list the templates: ${errorText(e)}`);
      f.template.setError(f.template.input.validationMessage);
    }
  }

  async function loadNodeData() {
    const node = f.node.get();
    if (!node) return;
    offerBridges(f.bridge, node, { signal });
    const [tmpl, root] = await Promise.allSettled([
      listStorages(node, 'vztmpl', { signal }),
      listStorages(node, 'rootdir', { signal }),
    ]);
    if (signal.aborted) return;
    offerStorages(f.tmplStorage, tmpl, node, 'container templates', storageLabel);
    offerStorages(f.rootStorage, root, node, 'container volumes', storageLabel);
    await loadTemplates();
  }
  f.node.input.addEventListener('change', loadNodeData);
  f.tmplStorage.input.addEventListener('change', loadTemplates);

  // --- parameters ------------------------------------------------------------------------
  /** PVE's parameters for POST /nodes/{node}/lxc. */
  function params() {
    const p = { vmid: f.vmid.get() };
    if (f.hostname.get()) p.hostname = f.hostname.get();
    p.ostemplate = f.template.get();
    if (f.password.get()) p.password = f.password.get();
    if (f.keys.get().trim()) p['ssh-public-keys'] = f.keys.get().trim();
    p.unprivileged = f.unprivileged.get() ? 1 : 0;
    p.rootfs = `${f.rootStorage.get()}:${f.disksize.get()}`;
    p.cores = f.cores.get();
    p.memory = f.memory.get();
    p.swap = f.swap.get();
    if (!f.noNet.get()) p.net0 = net.value();
    if (f.nameserver.get()) p.nameserver = f.nameserver.get();
    if (f.searchdomain.get()) p.searchdomain = f.searchdomain.get();
    if (f.start.get()) p.start = 1;
    return p;
  }

  return m;
}
