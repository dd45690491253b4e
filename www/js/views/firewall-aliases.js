// Firewall → Aliases (datacenter and guests): named addresses rules and IP sets may use instead of the
// address (GET {base}/aliases: name, cidr, comment). Add (POST name, cidr, comment), Edit (PUT
// {base}/aliases/{name}: cidr, comment, and `rename` for a new name) and Remove (DELETE), each with the
// digest the list was read with.

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { field } from '../form.js';
import { errorSlot } from '../ui.js';
import { plural } from './list-view.js';
import { NAME_PATTERN, actionButton, counter, pickList, text, toolbar } from './firewall-parts.js';

export function mountFirewallAliases(panel, scope, signal) {
  const base = `${scope.base}/aliases`;
  const count = counter();
  const err = errorSlot(`Could not load the aliases of ${scope.label}`);
  const actionErr = errorSlot();
  panel.append(toolbar(count, [actionButton('add-alias', 'Add', 'plus', () => edit(null), true)], () => refresh()), err.el, actionErr.el);
  const list = pickList(panel, {
    caption: `Aliases of ${scope.label}`, noun: 'alias', attr: 'alias', keyOf: (a) => a.name,
    columns: ['Name', 'Address', 'Comment'],
    cells: (a) => [h('td', { class: 'mono' }, text(a.cidr)), h('td', { class: 'desc-cell' }, text(a.comment))],
    edit: (a) => edit(a), remove: (a) => remove(a), empty: 'No aliases.',
  });

  async function refresh() {
    try {
      const answer = await api(base, { signal });
      const aliases = (Array.isArray(answer) ? answer : []).filter((a) => a && a.name)
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
      list.show(aliases);
      setText(count, plural(aliases.length, 'alias', 'aliases'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(a) {
    actionErr.set(null);
    const name = field({ label: 'Name', name: a ? 'rename' : 'name', value: a?.name ?? '', required: true, pattern: NAME_PATTERN,
      hint: scope.kind === 'cluster' ? 'Rules name it as it is, or as dc/name.' : 'Rules name it as it is, or as guest/name.' });
    const cidr = field({ label: 'Address', name: 'cidr', value: text(a?.cidr), required: true, placeholder: '192.0.2.0/24',
      hint: 'An IPv4 or IPv6 address, or a network (CIDR).' });
    const comment = field({ label: 'Comment', name: 'comment', value: text(a?.comment), wide: true });
    const ok = await formDialog({
      title: a ? `Edit alias ${a.name}` : `Add an alias to ${scope.label}`, fields: [name, cidr, comment], submitLabel: a ? 'Save' : 'Add',
      onSubmit: () => {
        if (!a) {
          const body = { name: name.get(), cidr: cidr.get() };
          if (comment.get()) body.comment = comment.get();
          return api(base, { method: 'POST', body });
        }
        const body = { cidr: cidr.get(), comment: comment.get(), digest: a.digest };
        if (name.get() !== a.name) body.rename = name.get();
        return api(`${base}/${seg(a.name)}`, { method: 'PUT', body });
      },
    });
    if (ok) refresh();
  }

  async function remove(a) {
    actionErr.set(null);
    const ok = await confirmDialog({ title: `Remove alias ${a.name}?`, confirmLabel: 'Remove', danger: true,
      message: `The alias ${a.name} (${text(a.cidr)}) is removed from ${scope.label}.` });
    if (!ok) return;
    try {
      await api(`${base}/${seg(a.name)}`, { method: 'DELETE', params: a.digest ? { digest: a.digest } : undefined });
    } catch (e) {
      actionErr.set(new Error(`Could not remove alias ${a.name}: ${errorText(e)}`));
    }
    refresh();
  }

  refresh();
}
