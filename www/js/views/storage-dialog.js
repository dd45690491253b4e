// The Add and Edit dialog of Datacenter → Storage (POST /storage, PUT /storage/{storage}).
// The General tab holds the options of the storage's type (storage-types.js, with suggestions from
// the node's scans: storage-scan.js), the Backup retention tab its prune-backups. Edit sends only
// what changed — an option emptied goes into `delete` — with the digest the storage was read with,
// so a change made meanwhile by someone else is refused.

import { api, ApiError, seg } from '../api.js';
import { h } from '../dom.js';
import { dialogTabs, formDialog, onTab } from '../dialog.js';
import { field, rule } from '../form.js';
import { formatPropString, parsePropString } from '../propstring.js';
import { CONTENT_LABELS, splitContent } from '../storage.js';
import { checkList, splitList } from './access-common.js';
import { STORAGE_TYPES, isSet, typeFields } from './storage-types.js';
import { offerScans, scanNodeField } from './storage-scan.js';

export { STORAGE_TYPES };

const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/;
const ID_RULE = 'An ID starts with a lowercase letter, then has lowercase letters, digits, "-", "_" or ".", '
  + 'and ends with a letter or digit (at least 2 characters).';
const KEEP = [
  ['keep-last', 'Keep last'], ['keep-hourly', 'Keep hourly'], ['keep-daily', 'Keep daily'],
  ['keep-weekly', 'Keep weekly'], ['keep-monthly', 'Keep monthly'], ['keep-yearly', 'Keep yearly'],
];

// iSCSI's "none": its LUNs are not used as disks directly, only as the base of an LVM storage.
const CONTENT_NAMES = { ...CONTENT_LABELS, none: 'None (LUNs only as a base for LVM)' };
const sortedList = (v) => splitList(v).sort().join(',');

/** "keep-daily=7,keep-last=3" in one spelling (the order above; keep-all alone), '' when nothing is kept. */
function retentionText(all, counts) {
  if (all) return 'keep-all=1';
  const kept = {};
  for (const [k] of KEEP) if (counts[k] !== undefined && counts[k] !== '') kept[k] = Number(counts[k]);
  return formatPropString(kept);
}

/** Add a storage of `type` (a key of STORAGE_TYPES). Resolves to the new ID, or null when cancelled. */
export async function addStorageDialog(type) {
  let added = null;
  const done = await storageDialog(type, null, (id) => { added = id; });
  return done ? added : null;
}

/** Edit storage `id` as the server has it now. Resolves to true when saved; rejects when it cannot be read. */
export async function editStorageDialog(id) {
  const entry = await api(`/storage/${seg(id)}`);
  return storageDialog(entry.type, entry, () => {});
}

function storageDialog(type, entry, saved) {
  const editing = !!entry;
  const e = entry || {};
  const known = STORAGE_TYPES[type];
  // A type this node cannot add (a storage.cfg written elsewhere): its common options only.
  const t = known || { label: type, content: splitContent(e.content), defaultContent: [] };
  const own = typeFields(known ? type : null, e, editing);

  const id = rule(field({ label: 'ID', name: 'storage', required: true, value: e.storage,
    hint: editing ? null : 'Lowercase letters, digits, "-", "_" and "."; it cannot be changed later.' }),
  (v) => (STORAGE_ID.test(v) ? null : ID_RULE));
  const typeField = field({ label: 'Type', name: 'type', value: known ? `${t.label} (${type})` : type });
  typeField.input.readOnly = true;
  if (editing) id.input.readOnly = true;
  const where = own.where;
  // Where the scans run, for a type whose fields offer what a node finds.
  const scanNode = own.scans.length ? [scanNodeField()] : [];
  if (scanNode.length) offerScans(own.scans, own.byName, scanNode[0]);

  const content = checkList({ label: 'Content', name: 'content', options: t.content, labels: CONTENT_NAMES,
    value: editing ? splitContent(e.content) : t.defaultContent, hint: 'What this storage holds.' });
  // A type that holds one kind of content only (dedup: backups) leaves nothing to choose.
  if (known && t.content.length === 1 && content.get() === t.content[0]) content.input.disabled = true;
  const nodes = checkList({ label: 'Nodes', name: 'nodes', value: splitList(e.nodes), hint: 'None ticked: every node has this storage.' });
  api('/nodes').then((list) => {
    nodes.setOptions((Array.isArray(list) ? list : []).map((n) => n && n.node).filter(Boolean).sort());
  }).catch((err) => nodes.setError(`Could not load the node list: ${err.message}`));
  const enable = field({ label: 'Enabled', name: 'disable', type: 'checkbox', value: !isSet(e.disable),
    hint: 'A disabled storage stays configured but is not used.' });
  const options = [enable, ...own.options];

  // Backup retention, for types that hold backups.
  const backups = t.content.includes('backup');
  const prune = parsePropString(e['prune-backups'] || '');
  const keepAll = field({ label: 'Keep all backups', name: 'prune-backups', sub: 'keep-all', type: 'checkbox', value: isSet(prune['keep-all']),
    hint: 'Nothing is pruned; the numbers below do not apply.' });
  const keeps = KEEP.map(([k, label]) => field({ label, name: 'prune-backups', sub: k, type: 'number', min: 1, step: 1,
    inputmode: 'numeric', value: prune[k] ?? '' }));
  for (const f of [keepAll, ...keeps]) f.input.dataset.keep = f.sub;
  const syncKeepAll = () => { for (const f of keeps) f.input.disabled = keepAll.get(); };
  keepAll.input.addEventListener('change', syncKeepAll);
  syncKeepAll();

  const general = h('div', { class: 'form-grid' }, id.el, typeField.el, scanNode.map((f) => f.el), where.map((f) => f.el), content.el, nodes.el,
    options.map((f) => f.el));
  const tabs = dialogTabs([{ key: 'general', label: 'General', body: general }].concat(backups ? [{
    key: 'retention', label: 'Backup retention',
    body: [h('p', { class: 'dialog-intro muted' }, 'How many backups on this storage a prune keeps. Empty fields are not set; '
      + 'a backup job\'s own retention settings take their place.'), keepAll.el, h('div', { class: 'form-grid' }, keeps.map((f) => f.el))],
  }] : []));
  if (backups) for (const f of [keepAll, ...keeps]) onTab(tabs, 1, f);
  for (const f of [id, ...scanNode, ...where, content, nodes, ...options]) onTab(tabs, 0, f);

  /** The options as the dialog has them: name → value, '' for "not set". */
  function wanted() {
    const out = {
      content: sortedList(content.get()),
      nodes: sortedList(nodes.get()),
      disable: enable.get() ? '' : '1',
    };
    own.wanted(out);
    if (backups) out['prune-backups'] = retentionText(keepAll.get(), Object.fromEntries(keeps.map((f) => [f.sub, f.get()])));
    return out;
  }
  // Edit compares with the options as the dialog first shows them (lists sorted, retention in one spelling).
  const before = wanted();

  // Validation and focus go in this order: Edit starts at Content, past the fixed fields.
  const open = [content, nodes, ...options, ...(backups ? [keepAll, ...keeps] : [])];
  const fields = editing ? [...open, id, typeField, ...where] : [id, typeField, ...scanNode, ...where, ...open];
  return formDialog({
    title: editing ? `Edit storage ${e.storage}` : `Add storage: ${t.label}`,
    className: 'storage-dialog',
    intro: known ? null : `This node cannot add storages of type ${type}; only their common options can be changed here.`,
    fields,
    body: h('div', { class: 'storage-form' }, tabs.el),
    submitLabel: editing ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = wanted();
      if (!want.content) throw new ApiError(400, 'No content type chosen.', { content: 'Tick at least one content type.' });
      if (!editing) {
        const body = own.added({ storage: id.get(), type });
        for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
        own.secrets(body);
        await api('/storage', { method: 'POST', body });
        saved(id.get());
        return;
      }
      const body = {};
      const remove = [];
      for (const [k, v] of Object.entries(want)) {
        if (v === before[k]) continue;
        if (v === '') remove.push(k); else body[k] = v;
      }
      own.secrets(body);
      if (!Object.keys(body).length && !remove.length) return;
      if (remove.length) body.delete = remove.join(',');
      body.digest = e.digest;
      await api(`/storage/${seg(e.storage)}`, { method: 'PUT', body });
      saved(e.storage);
    },
  });
}
