// Datacenter → Firewall → Security Groups: the groups (GET /cluster/firewall/groups) with Create (POST
// group, comment), Edit — a new name or comment: POST with `rename` = the old name — and Remove (DELETE
// /cluster/firewall/groups/{group}, which PVE refuses while the group has rules). The group picked shows
// its rules below, with the rule table and dialogs of every other list (base /cluster/firewall/groups/{group}).

import { api, errorText, seg } from '../api.js';
import { h, setText } from '../dom.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { field } from '../form.js';
import { errorSlot } from '../ui.js';
import { plural } from './list-view.js';
import { NAME_PATTERN, actionButton, childController, counter, groupScope, loadGroups, pickList, text, toolbar } from './firewall-parts.js';
import { mountRules } from './firewall-rules.js';

export function mountFirewallGroups(panel, scope, signal) {
  const count = counter();
  const err = errorSlot('Could not load the security groups');
  const actionErr = errorSlot();
  panel.append(toolbar(count, [actionButton('create-group', 'Create', 'plus', () => edit(null), true)], () => refresh()), err.el, actionErr.el);
  const list = pickList(panel, {
    caption: 'Security groups', noun: 'security group', attr: 'group', keyOf: (g) => g.group,
    columns: ['Group', 'Comment'], cells: (g) => [h('td', { class: 'desc-cell' }, text(g.comment))],
    edit: (g) => edit(g), remove: (g) => remove(g), onPick: (g) => showRules(g), empty: 'No security groups.',
  });
  const title = h('h2', { class: 'card-title' }, 'Rules');
  const rulesBox = h('div');
  const detail = h('section', { class: 'fw-detail', dataset: { role: 'group-rules' }, hidden: true }, title, rulesBox);
  panel.append(detail);
  let groups = [];
  let detailCtl = null;

  function showRules(g) {
    detailCtl?.abort();
    rulesBox.replaceChildren();
    detail.hidden = !g;
    if (!g) return;
    detail.dataset.group = g.group;
    title.replaceChildren('Rules of security group ', h('code', null, g.group));
    detailCtl = childController(signal);
    mountRules(rulesBox, groupScope(g.group), detailCtl.signal);
  }

  async function refresh(select = null) {
    try {
      groups = await loadGroups(signal);
      list.show(groups);
      if (select) list.pick(select);
      setText(count, plural(groups.length, 'security group'));
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  async function edit(g) {
    actionErr.set(null);
    const name = field({ label: 'Name', name: 'group', value: g?.group ?? '', required: true, pattern: NAME_PATTERN,
      hint: 'A letter, then letters, digits, - or _ (at least two characters).' });
    const comment = field({ label: 'Comment', name: 'comment', value: text(g?.comment), wide: true });
    let saved = null;
    const ok = await formDialog({
      title: g ? `Edit security group ${g.group}` : 'Create security group', fields: [name, comment], submitLabel: g ? 'Save' : 'Create',
      intro: g ? 'Renamed, the group keeps its rules; the datacenter\'s rules that use it follow the new name.' : null,
      onSubmit: async () => {
        const body = { group: name.get(), comment: comment.get() };
        if (g) Object.assign(body, { rename: g.group, digest: g.digest });
        else if (!body.comment) delete body.comment;
        await api('/cluster/firewall/groups', { method: 'POST', body });
        saved = name.get();
      },
    });
    if (ok) refresh(saved);
  }

  async function remove(g) {
    actionErr.set(null);
    let rules;
    try {
      rules = await api(`/cluster/firewall/groups/${seg(g.group)}`, { signal });
    } catch (e) {
      if (e.name !== 'AbortError') actionErr.set(new Error(`Could not read security group ${g.group}: ${errorText(e)}`));
      return;
    }
    const n = Array.isArray(rules) ? rules.length : 0;
    if (n) {
      actionErr.set(new Error(`Security group ${g.group} still has ${plural(n, 'rule')}: remove them first.`));
      return;
    }
    const ok = await confirmDialog({
      title: `Remove security group ${g.group}?`, confirmLabel: 'Remove', danger: true,
      message: `The empty security group ${g.group} is removed.`,
    });
    if (!ok) return;
    try {
      await api(`/cluster/firewall/groups/${seg(g.group)}`, { method: 'DELETE' });
    } catch (e) {
      actionErr.set(new Error(`Could not remove security group ${g.group}: ${errorText(e)}`));
    }
    refresh();
  }

  refresh();
  return () => detailCtl?.abort();
}
