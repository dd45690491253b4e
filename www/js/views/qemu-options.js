// VM → Options: name, start at boot, boot order, OS type, guest agent,
// protection, KVM, tags and notes. Each row has its own small editor; a value
// set back to its default is deleted from the config rather than written.

import { h, icon } from '../dom.js';
import { errorSlot, nextId } from '../ui.js';
import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { guestBase, guestView, splitTags } from '../guests.js';
import { parsePropString, formatPropString, parseBootOrder } from '../propstring.js';
import { putConfig, labelOf, OSTYPES, DISK_KEY, NET_KEY } from '../qemu-config.js';
import { configLoader, configTable, optionEditors, renderRows } from './config-grid.js';
import { loadResources } from '../resources.js';

const yesNo = (v) => (Number(v) ? 'Yes' : 'No');

export const mountQemuOptions = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const err = errorSlot(`Could not load the options of VM ${guest.vmid}`);
  const tbody = h('tbody');
  let state = null;

  panel.append(
    h('div', { class: 'panel-toolbar' }, h('p', { class: 'muted small' }, 'Changes to a running VM may wait for its next start (shown as pending).'),
      h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload')),
    err.el,
    configTable(`Options of VM ${guest.vmid}`, ['Option', 'Value'], tbody));

  const refresh = configLoader(base, { signal, err }, (loaded) => { state = loaded; render(); });

  async function save(set = {}, remove = []) {
    await putConfig(base, { set, remove, digest: state.digest });
    await refresh();
    loadResources({ maxAge: 0 }).catch(() => {}); // name and tags show in the tree
  }

  const { editFlag, editText, editDescription } = optionEditors(() => state.config, save);

  function editOstype() {
    const f = field({ label: 'Guest OS type', name: 'ostype', type: 'select', options: OSTYPES, value: state.config.ostype || 'other' });
    return formDialog({ title: 'Edit: OS type', fields: [f], submitLabel: 'Save', onSubmit: () => save({ ostype: f.get() }) });
  }

  function editAgent() {
    const agent = parsePropString(state.config.agent, 'enabled');
    const enabled = field({ label: 'Use the QEMU guest agent', name: 'agent', sub: 'enabled', type: 'checkbox', value: agent.enabled === '1' });
    const type = field({ label: 'Agent channel', name: 'agent', sub: 'type', type: 'select', options: [['virtio', 'VirtIO serial'], ['isa', 'ISA serial']], value: agent.type || 'virtio' });
    return formDialog({
      title: 'Edit: QEMU guest agent', fields: [enabled, type], submitLabel: 'Save',
      onSubmit: () => {
        const next = { ...agent, enabled: enabled.get() ? 1 : 0, type: type.get() === 'virtio' ? undefined : type.get() };
        const s = formatPropString(next, 'enabled');
        return s === '0' ? save({}, state.config.agent !== undefined ? ['agent'] : []) : save({ agent: s });
      },
    });
  }

  /** Boot order: bootable devices with a checkbox each, moved with up/down buttons. */
  function editBoot() {
    const cfg = state.config;
    const order = parseBootOrder(cfg.boot);
    const devices = Object.keys(cfg).filter((k) => DISK_KEY.test(k) || NET_KEY.test(k));
    const items = [...order.filter((d) => devices.includes(d)), ...devices.filter((d) => !order.includes(d)).sort()]
      .map((d) => ({ dev: d, on: order.includes(d) }));
    const list = h('ol', { class: 'order-list', 'aria-label': 'Boot devices in order' });
    const errEl = h('p', { class: 'field-error', hidden: true });
    const bootField = {
      name: 'boot', sub: null, el: list, input: list,
      setError(m) { errEl.textContent = m || ''; errEl.hidden = !m; },
      focus() { list.querySelector('input')?.focus(); },
    };
    function draw(focusDev, focusDir) {
      list.replaceChildren(...items.map((it, i) => {
        const id = nextId('boot');
        const box = h('input', { type: 'checkbox', id, checked: it.on, onchange: (ev) => { it.on = ev.target.checked; } });
        const move = (dir) => () => {
          const j = i + dir;
          if (j < 0 || j >= items.length) return;
          [items[i], items[j]] = [items[j], items[i]];
          draw(it.dev, dir);
        };
        return h('li', { dataset: { dev: it.dev } },
          h('label', { class: 'check', for: id }, box, ' ', h('span', { class: 'order-dev' }, it.dev), h('span', { class: 'muted small order-val' }, String(cfg[it.dev]).split(',')[0])),
          h('span', { class: 'order-moves' },
            h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Move ${it.dev} up`, disabled: i === 0, dataset: { dir: 'up' }, onclick: move(-1) }, icon('arrow-up')),
            h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Move ${it.dev} down`, disabled: i === items.length - 1, dataset: { dir: 'down' }, onclick: move(1) }, icon('arrow-down'))));
      }));
      if (focusDev) {
        // Keep focus on the moved device's button (or the other one when it hit an end).
        const li = list.querySelector(`li[data-dev="${CSS.escape(focusDev)}"]`);
        const btn = li?.querySelector(`button[data-dir="${focusDir < 0 ? 'up' : 'down'}"]`);
        (btn && !btn.disabled ? btn : li?.querySelector('button:not([disabled])'))?.focus();
      }
    }
    draw();
    return formDialog({
      title: 'Edit: Boot order', fields: [bootField], submitLabel: 'Save',
      intro: 'Checked devices are tried in this order.',
      body: h('div', null, list, errEl, items.length ? null : h('p', { class: 'muted' }, 'This VM has no disks or network devices.')),
      onSubmit: () => {
        const on = items.filter((it) => it.on).map((it) => it.dev);
        return on.length ? save({ boot: `order=${on.join(';')}` }) : save({}, cfg.boot !== undefined ? ['boot'] : []);
      },
    });
  }

  function render() {
    const cfg = state.config;
    const order = parseBootOrder(cfg.boot);
    const agent = parsePropString(cfg.agent, 'enabled');
    const rows = [
      ['name', 'Name', cfg.name || `VM ${guest.vmid}`, () => editText('name', 'Name', { hint: 'A DNS name: letters, digits, "-" and ".".' })],
      ['onboot', 'Start at boot', yesNo(cfg.onboot), () => editFlag('onboot', 'Start at boot', 0)],
      ['boot', 'Boot order', order.length ? order.join(', ') : cfg.boot ? cfg.boot : 'Default', editBoot],
      ['ostype', 'OS type', labelOf(OSTYPES, cfg.ostype || 'other'), editOstype],
      ['agent', 'QEMU guest agent', agent.enabled === '1' ? `Enabled${agent.type ? ` (${agent.type})` : ''}` : 'Disabled', editAgent],
      ['protection', 'Protection', yesNo(cfg.protection), () => editFlag('protection', 'Protection (no removal or disk removal)', 0)],
      ['kvm', 'KVM hardware virtualization', cfg.kvm === undefined ? 'Yes' : yesNo(cfg.kvm), () => editFlag('kvm', 'KVM hardware virtualization', 1)],
      ['tags', 'Tags', splitTags(cfg.tags).join(', ') || 'none',
        () => editText('tags', 'Tags', { hint: 'Separated by spaces, commas or semicolons.', normalize: (v) => splitTags(v).join(';') })],
      ['description', 'Notes', cfg.description || 'none', editDescription],
    ];
    renderRows(tbody, rows.map(([key, label, value, edit]) => ({ key, label, value, edit, pre: key === 'description' })), state.pending);
  }

  refresh();
  return null;
});
