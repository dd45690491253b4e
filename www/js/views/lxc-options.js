// CT → Options: hostname, start at boot, start/shutdown order, protection,
// unprivileged (fixed at creation), features, tags and notes.

import { field } from '../form.js';
import { formDialog } from '../dialog.js';
import { guestBase, guestView, splitTags } from '../guests.js';
import { parsePropString, formatPropString } from '../propstring.js';
import { loadResources } from '../resources.js';
import { DNS_NAME } from '../wizard.js';
import { configView, optionEditors } from './config-grid.js';

const yesNo = (v) => (Number(v) ? 'Yes' : 'No');
const FEATURES = [['nesting', 'Nesting (containers inside)'], ['keyctl', 'keyctl() system call'], ['fuse', 'FUSE file systems']];

export const mountLxcOptions = guestView((panel, guest, signal) => {
  const view = configView(panel, guestBase(guest), signal, {
    caption: `Options of CT ${guest.vmid}`, heads: ['Option', 'Value'],
    note: 'Some changes to a running container wait for its next start (shown as pending).',
    rows, onSaved: () => loadResources({ maxAge: 0 }).catch(() => {}), // hostname and tags show in the tree
  });
  const { editFlag, editText, editDescription } = optionEditors(view.config, view.save);

  function editFeatures() {
    const cur = parsePropString(view.config().features);
    const boxes = FEATURES.map(([k, label]) => field({ label, name: 'features', sub: k, type: 'checkbox', value: cur[k] === '1' }));
    const mount = field({ label: 'Allowed mount types', name: 'features', sub: 'mount', value: (cur.mount || '').replace(/;/g, ' '), placeholder: 'nfs cifs', hint: 'Separated by spaces.' });
    return formDialog({
      title: 'Edit: Features', fields: [...boxes, mount], submitLabel: 'Save',
      onSubmit: () => {
        const next = { ...cur, mount: splitTags(mount.get()).join(';') };
        FEATURES.forEach(([k], i) => { next[k] = boxes[i].get() ? 1 : ''; });
        const s = formatPropString(next);
        return s ? view.save({ features: s }) : view.save({}, cur && view.config().features !== undefined ? ['features'] : []);
      },
    });
  }

  function rows(cfg) {
    return [
      { key: 'hostname', label: 'Hostname', value: cfg.hostname || `CT${guest.vmid}`, edit: () => editText('hostname', 'Hostname', { pattern: DNS_NAME, hint: 'A DNS name: letters, digits, "-" and ".".' }) },
      { key: 'onboot', label: 'Start at boot', value: yesNo(cfg.onboot), edit: () => editFlag('onboot', 'Start at boot', 0) },
      { key: 'startup', label: 'Start/shutdown order', value: cfg.startup || 'order=any', edit: () => editText('startup', 'Start/shutdown order', { placeholder: 'order=1,up=30,down=60', hint: 'order=N, up=seconds to wait after start, down=seconds to wait at shutdown.' }) },
      { key: 'protection', label: 'Protection', value: yesNo(cfg.protection), edit: () => editFlag('protection', 'Protection (no removal)', 0) },
      { key: 'unprivileged', label: 'Unprivileged container', value: `${yesNo(cfg.unprivileged)} (set when created)` },
      { key: 'features', label: 'Features', value: cfg.features || 'none', edit: editFeatures },
      { key: 'ostype', label: 'OS type', value: cfg.ostype || 'unmanaged' },
      { key: 'arch', label: 'Architecture', value: cfg.arch || 'amd64' },
      { key: 'tags', label: 'Tags', value: splitTags(cfg.tags).join(', ') || 'none', edit: () => editText('tags', 'Tags', { hint: 'Separated by spaces, commas or semicolons.', normalize: (v) => splitTags(v).join(';') }) },
      { key: 'description', label: 'Notes', value: cfg.description || 'none', pre: true, edit: editDescription },
    ];
  }
  return null;
});
