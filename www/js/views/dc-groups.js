// Datacenter → Groups: groups with their members, adding, editing the
// comment and deleting. Membership is set on the user (Users → Edit).

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { accessView, listPanel, rowButton, showError, splitList, toolButton } from './access-common.js';

export const mountDcGroups = accessView((panel, signal) => {
  const list = listPanel(panel, {
    what: 'groups', caption: 'Groups',
    columns: ['Group', 'Members', { label: 'Comment', optional: true }],
    buttons: [toolButton('Add group', 'plus', add, true), toolButton('Reload', 'refresh', () => refresh())],
  });

  async function refresh() {
    try {
      const groups = await api('/access/groups', { signal });
      const rows = (Array.isArray(groups) ? groups : []).filter((g) => g && g.groupid)
        .sort((a, b) => a.groupid.localeCompare(b.groupid))
        .map((g) => h('tr', { dataset: { groupid: g.groupid } },
          h('th', { scope: 'row' }, g.groupid),
          h('td', null, splitList(g.users).join(', ') || h('span', { class: 'muted' }, 'none')),
          h('td', { class: 'optional desc-cell' }, g.comment || ''),
          h('td', { class: 'row-actions' },
            rowButton('Edit', 'edit', () => edit(g), `Edit group ${g.groupid}`),
            rowButton('Delete', 'trash', () => remove(g.groupid), `Delete group ${g.groupid}`))));
      list.show(rows, `${rows.length} group${rows.length === 1 ? '' : 's'}`, 'No groups yet.');
      list.err.set(null);
    } catch (e) {
      showError(list.err)(e);
    }
  }

  function add() {
    const id = field({ label: 'Name', name: 'groupid', required: true, pattern: '[A-Za-z0-9._\\-]+', hint: 'Letters, digits, ".", "_" and "-".' });
    const comment = field({ label: 'Comment', name: 'comment', wide: true });
    return formDialog({
      title: 'Add a group', fields: [id, comment], submitLabel: 'Add',
      onSubmit: async () => {
        const body = { groupid: id.get() };
        if (comment.get()) body.comment = comment.get();
        await api('/access/groups', { method: 'POST', body });
        refresh();
      },
    });
  }

  function edit(g) {
    const comment = field({ label: 'Comment', name: 'comment', wide: true, value: g.comment || '' });
    return formDialog({
      title: `Edit group ${g.groupid}`, fields: [comment], submitLabel: 'Save',
      intro: 'Members are chosen on each user (Users → Edit).',
      onSubmit: async () => {
        await api(`/access/groups/${seg(g.groupid)}`, { method: 'PUT', body: { comment: comment.get() } });
        refresh();
      },
    });
  }

  async function remove(groupid) {
    const ok = await confirmDialog({
      title: `Delete group ${groupid}?`,
      message: `Group ${groupid} is deleted; its members stay, but lose the permissions given to the group.`,
      confirmLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/access/groups/${seg(groupid)}`, { method: 'DELETE' });
      list.err.set(null);
    } catch (e) {
      list.err.set(e);
    }
    refresh();
  }

  refresh();
});
