// CT → Resources: memory, swap, cores, CPU limit and weight, the root
// disk and mount points (mpN) with growing them (PUT …/resize {disk, size}),
// moving them to another storage (move-volume.js) and adding and removing
// mount points.

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { formatBytes, taskStatusKind } from '../format.js';
import { guestBase, guestView } from '../guests.js';
import { parsePropString, parseSize } from '../propstring.js';
import { listStorages, storageLabel } from '../storage.js';
import { MP_KEY, freeIndex } from '../ct-config.js';
import { isUpid, waitTask, TaskFailed } from '../taskrun.js';
import { configView, optionEditors } from './config-grid.js';
import { movable, moveVolumeDialog } from './move-volume.js';

const mib = (v, dflt) => formatBytes((Number(v ?? dflt) || 0) * 2 ** 20);

export const mountLxcResources = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const addBtn = h('button', { type: 'button', class: 'btn', onclick: addMountPoint }, icon('disk'), 'Add mount point');
  const view = configView(panel, base, signal, {
    caption: `Resources of CT ${guest.vmid}`, heads: ['Resource', 'Value'], buttons: [addBtn], rows,
    note: 'Memory and CPU changes apply to a running container at once.',
  });
  const { editText } = optionEditors(view.config, view.save);
  const num = (key, label, opts) => () => editText(key, label, { type: 'number', inputmode: 'numeric', step: 1, ...opts });

  function rows(cfg) {
    const volumes = ['rootfs', ...Object.keys(cfg).filter((k) => MP_KEY.test(k)).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))]
      .filter((k) => cfg[k] !== undefined);
    return [
      { key: 'memory', icon: 'summary', label: 'Memory', value: mib(cfg.memory, 512), edit: num('memory', 'Memory (MiB)', { min: 16, required: true, hint: 'Empty: 512 MiB.' }) },
      { key: 'swap', icon: 'summary', label: 'Swap', value: mib(cfg.swap, 512), edit: num('swap', 'Swap (MiB)', { min: 0, hint: 'Empty: 512 MiB.' }) },
      { key: 'cores', icon: 'hardware', label: 'Cores', value: cfg.cores ? String(cfg.cores) : 'all of the host\'s', edit: num('cores', 'Cores', { min: 1, max: 8192, hint: 'Empty: all of the host\'s.' }) },
      { key: 'cpulimit', icon: 'hardware', label: 'CPU limit', value: Number(cfg.cpulimit) ? `${cfg.cpulimit} CPUs` : 'unlimited', edit: num('cpulimit', 'CPU limit (CPUs, 0 = unlimited)', { min: 0, max: 8192, step: 'any' }) },
      { key: 'cpuunits', icon: 'hardware', label: 'CPU weight', value: cfg.cpuunits ?? '100 (default)', edit: num('cpuunits', 'CPU weight (cpuunits)', { min: 1, max: 10000, hint: 'Relative to other guests; empty: 100.' }) },
      ...volumes.map((k) => {
        const v = parsePropString(cfg[k], 'volume');
        return {
          key: k, icon: 'disk', label: k === 'rootfs' ? 'Root disk' : `Mount point ${k}`,
          value: `${v.volume}${v.mp ? ` on ${v.mp}` : ''}${v.size ? ` (${v.size})` : ''}`,
          actions: [['Resize', 'arrow-up', () => resize(k, v)], ...(movable(v.volume) ? [['Move', 'chevron-right', () => move(k, v.volume)]] : [])],
          remove: k === 'rootfs' ? null : () => removeMountPoint(k),
        };
      }),
    ];
  }

  /** Follow a UPID answer to its end (resizes and new volumes can be tasks). */
  async function follow(res) {
    if (!isUpid(res)) return;
    const status = await waitTask(res, { signal });
    if (taskStatusKind(status) === 'error') throw new TaskFailed(res, status);
  }

  function resize(key, v) {
    const now = parseSize(v.size);
    const grow = field({ label: 'Grow by (GiB)', name: 'size', type: 'number', min: 1, max: 131072, step: 1, value: 1, required: true, inputmode: 'numeric' });
    return formDialog({
      title: `Resize ${key}`, fields: [grow], submitLabel: 'Resize',
      intro: `${key} is ${now ? formatBytes(now) : 'of unknown size'} now. Volumes only grow.`,
      onSubmit: async (_, { setStatus }) => {
        setStatus('Resizing…');
        await follow(await api(`${base}/resize`, { method: 'PUT', body: { disk: key, size: `+${grow.get()}G` }, signal }));
        await view.refresh();
      },
    });
  }

  async function move(key, volume) {
    const upid = await moveVolumeDialog({ guest, key, volume, signal });
    if (!upid) return;
    // The task line reports the end (and offers the log); the config changes only then.
    view.feedback.run(`Move ${key}`, async () => upid).catch(() => {}).finally(() => view.refresh());
  }

  function addMountPoint() {
    const key = `mp${freeIndex(view.config(), 'mp')}`;
    const storage = field({ label: 'Storage', name: key, sub: 'storage', type: 'select', required: true });
    const size = field({ label: 'Size (GiB)', name: key, sub: 'size', type: 'number', min: 1, max: 131072, step: 1, value: 8, required: true, inputmode: 'numeric' });
    const path = field({ label: 'Path in the container', name: key, sub: 'mp', required: true, placeholder: '/mnt/data', pattern: '^/.*' });
    const backup = field({ label: 'Include in backups', name: key, sub: 'backup', type: 'checkbox', value: false });
    listStorages(guest.node, 'rootdir', { signal }).then((list) => {
      storage.setOptions(list.map((s) => [s.storage, storageLabel(s)]));
      if (!list.length) storage.setError(`No storage on ${guest.node} holds container volumes.`);
    }).catch((e) => { if (e.name !== 'AbortError') storage.setError(e.message); });
    return formDialog({
      title: `Add mount point ${key}`, fields: [storage, size, path, backup], submitLabel: 'Add',
      onSubmit: async () => {
        await follow(await view.save({ [key]: `${storage.get()}:${size.get()},mp=${path.get()}${backup.get() ? ',backup=1' : ''}` }));
        await view.refresh();
      },
    });
  }

  const removeMountPoint = (key) => view.removeKey(key, `Mount point ${key} is detached from CT ${guest.vmid}; its volume is kept as an unused volume.`);
  return null;
});
