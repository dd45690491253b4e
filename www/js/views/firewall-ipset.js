// Firewall → IPSet (datacenter and guests): the IP sets (GET {base}/ipset) with Create (POST name, comment),
// Edit — a new name or comment: POST with `rename` = the old name — and Remove (DELETE {base}/ipset/{name},
// with `force` when it still has entries, as the confirmation says). The set picked shows its entries below
// (GET {base}/ipset/{name}): Add (POST cidr, nomatch, comment), Edit (PUT {base}/ipset/{name}/{cidr}: nomatch
// and comment; the address is the entry's name) and Remove (DELETE). The address in a path is one segment:
// 10.0.0.0/24 goes as 10.0.0.0%2F24.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { field } from '../form.js';
import { errorSlot } from '../ui.js';
import { plural } from './list-view.js';
import { NAME_PATTERN, actionButton, childController, counter, loadRefs, pickList, text, toolbar } from './firewall-parts.js';

const asList = (v) => (Array.isArray(v) ? v : []);

export function mountFirewallIpset(panel, scope, signal) {
  const base = `${scope.base}/ipset`;
  const count = counter();
  const err = errorSlot(`Could not load the IP sets of ${scope.label}`);
  const actionErr = errorSlot();
  panel.append(toolbar(count, [actionButton('create-ipset', 'Create', 'plus', () => editSet(null), true)], () => refresh()), err.el, actionErr.el);
  const sets = pickList(panel, {
    caption: `IP sets of ${scope.label}`, noun: 'IP set', attr: 'ipset', keyOf: (s) => s.name,
    columns: ['Name', 'Comment'], cells: (s) => [h('td', { class: 'desc-cell' }, text(s.comment))],
    edit: (s) => editSet(s), remove: (s) => removeSet(s), onPick: (s) => showEntries(s), empty: 'No IP sets.',
  });
  const detail = h('section', { class: 'fw-detail', dataset: { role: 'ipset-entries' }, hidden: true });
  panel.append(detail);
  let detailCtl = null;

  async function refresh(select = null) {
    try {
      const list = asList(await api(base, { signal })).filter((s) => s && s.name)
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
      sets.show(list);
      if (select) sets.pick(select);
      setText(count, plural(list.length, 'IP set'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function editSet(s) {
    actionErr.set(null);
    const name = field({ label: 'Name', name: 'name', value: s?.name ?? '', required: true, pattern: NAME_PATTERN,
      hint: 'Rules name it as +name. A letter, then letters, digits, - or _.' });
    const comment = field({ label: 'Comment', name: 'comment', value: text(s?.comment), wide: true });
    let saved = null;
    const ok = await formDialog({
      title: s ? `Edit IP set ${s.name}` : `Create an IP set for ${scope.label}`, fields: [name, comment], submitLabel: s ? 'Save' : 'Create',
      onSubmit: async () => {
        const body = { name: name.get(), comment: comment.get() };
        if (s) Object.assign(body, { rename: s.name, digest: s.digest });
        else if (!body.comment) delete body.comment;
        await api(base, { method: 'POST', body });
        saved = name.get();
      },
    });
    if (ok) refresh(saved);
  }

  async function removeSet(s) {
    actionErr.set(null);
    let entries;
    try {
      entries = asList(await api(`${base}/${seg(s.name)}`, { signal }));
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read IP set ${s.name}: ${errorText(e)}`));
      return;
    }
    const ok = await confirmDialog({
      title: `Remove IP set ${s.name}?`, confirmLabel: 'Remove', danger: true,
      message: entries.length ? `IP set ${s.name} and its ${plural(entries.length, 'entry', 'entries')} are removed.` : `The empty IP set ${s.name} is removed.`,
    });
    if (!ok) return;
    try {
      await api(`${base}/${seg(s.name)}`, { method: 'DELETE', params: entries.length ? { force: 1 } : undefined });
    } catch (e) {
      actionErr.set(new Error(`Could not remove IP set ${s.name}: ${errorText(e)}`));
    }
    refresh();
  }

  function showEntries(s) {
    detailCtl?.abort();
    detail.replaceChildren();
    detail.hidden = !s;
    if (!s) return;
    detail.dataset.ipset = s.name;
    detailCtl = childController(signal);
    mountEntries(detail, `${base}/${seg(s.name)}`, s.name, scope, detailCtl.signal);
  }

  refresh();
  return () => detailCtl?.abort();
}

/** The entries of IP set `name` (at `path`) in `parent`. */
function mountEntries(parent, path, name, scope, signal) {
  const count = counter();
  const err = errorSlot(`Could not load the entries of IP set ${name}`);
  const actionErr = errorSlot();
  parent.append(h('h2', { class: 'card-title' }, 'Entries of IP set ', h('code', null, name)),
    toolbar(count, [actionButton('add-entry', 'Add', 'plus', () => edit(null), true)], () => refresh()), err.el, actionErr.el);
  const entries = pickList(parent, {
    caption: `Entries of IP set ${name}`, noun: 'entry', attr: 'cidr', keyOf: (e) => e.cidr,
    columns: ['Address', 'No match', 'Comment'],
    cells: (e) => [h('td', null, Number(e.nomatch) ? 'Yes' : 'No'), h('td', { class: 'desc-cell' }, text(e.comment))],
    edit: (e) => edit(e), remove: (e) => remove(e), empty: 'No entries: the set matches nothing.',
  });

  async function refresh() {
    try {
      const list = asList(await api(path, { signal })).filter((e) => e && e.cidr);
      entries.show(list);
      setText(count, plural(list.length, 'entry', 'entries'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(e) {
    actionErr.set(null);
    const cidr = field({ label: 'Address', name: 'cidr', value: e?.cidr ?? '', required: true, disabled: !!e, list: [],
      placeholder: '192.0.2.0/24', hint: e ? 'The address names the entry: to change it, add a new entry.' : 'An address, a network (CIDR) or an alias.' });
    const nomatch = field({ label: 'No match (leave this address out of the set)', name: 'nomatch', type: 'checkbox', value: Number(e?.nomatch ?? 0) === 1 });
    const comment = field({ label: 'Comment', name: 'comment', value: text(e?.comment), wide: true });
    if (!e) {
      loadRefs(scope, signal).then((refs) => cidr.setOptions(refs.filter((r) => r.type === 'alias').map((r) => r.ref)))
        .catch((x) => { if (x.name !== 'AbortError') console.debug('firewall refs:', x.message); });
    }
    const ok = await formDialog({
      title: e ? `Edit ${e.cidr} in IP set ${name}` : `Add to IP set ${name}`, fields: [cidr, nomatch, comment], submitLabel: e ? 'Save' : 'Add',
      onSubmit: () => {
        if (e) {
          return api(`${path}/${seg(e.cidr)}`, { method: 'PUT', body: { nomatch: nomatch.get() ? 1 : 0, comment: comment.get(), digest: e.digest } });
        }
        const body = { cidr: cidr.get() };
        if (nomatch.get()) body.nomatch = 1;
        if (comment.get()) body.comment = comment.get();
        return api(path, { method: 'POST', body });
      },
    });
    if (ok) refresh();
  }

  async function remove(e) {
    actionErr.set(null);
    const ok = await confirmDialog({ title: `Remove ${e.cidr} from IP set ${name}?`, confirmLabel: 'Remove', danger: true,
      message: `Rules that name +${name} no longer ${Number(e.nomatch) ? 'leave out' : 'match'} ${e.cidr}.` });
    if (!ok) return;
    try {
      await api(`${path}/${seg(e.cidr)}`, { method: 'DELETE', params: e.digest ? { digest: e.digest } : undefined });
    } catch (x) {
      actionErr.set(new Error(`Could not remove ${e.cidr}: ${errorText(x)}`));
    }
    refresh();
  }

  refresh();
}
