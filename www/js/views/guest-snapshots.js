// Guest → Snapshots: the snapshot tree (each snapshot under its parent, the
// live state "current" last), taking one, rolling back and deleting.
// All three are tasks; the feedback line follows them.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { formatTimestamp } from '../format.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { taskFeedback, isUpid } from '../taskrun.js';
import { guestBase, guestNoun, guestView } from '../guests.js';

/** Depth-first order of the snapshot tree (oldest sibling first), "current" at the end. */
export function snapshotOrder(list) {
  const byName = new Map(list.map((s) => [s.name, s]));
  const kids = new Map();
  const roots = [];
  for (const s of list) {
    if (s.name === 'current') continue;
    if (s.parent && byName.has(s.parent) && s.parent !== 'current') {
      if (!kids.has(s.parent)) kids.set(s.parent, []);
      kids.get(s.parent).push(s);
    } else {
      roots.push(s);
    }
  }
  const bytime = (a, b) => (Number(a.snaptime) || 0) - (Number(b.snaptime) || 0) || a.name.localeCompare(b.name);
  const out = [];
  const seen = new Set();
  const walk = (s, depth) => {
    if (seen.has(s.name)) return; // a malformed parent chain must not loop
    seen.add(s.name);
    out.push({ ...s, depth });
    for (const c of (kids.get(s.name) || []).sort(bytime)) walk(c, depth + 1);
  };
  for (const r of roots.sort(bytime)) walk(r, 0);
  const cur = byName.get('current');
  if (cur) {
    const parent = out.find((s) => s.name === cur.parent);
    out.push({ ...cur, depth: parent ? parent.depth + 1 : 0 });
  }
  return out;
}

export const mountGuestSnapshots = guestView((panel, guest, signal) => {
  const base = guestBase(guest);
  const noun = guestNoun(guest.type);
  const err = errorSlot(`Could not load the snapshots of ${noun} ${guest.vmid}`);
  const feedback = taskFeedback({ signal });
  const count = h('p', { class: 'muted small' }, 'Loading…');
  const tbody = h('tbody');
  const takeBtn = h('button', { type: 'button', class: 'btn btn-primary', onclick: take }, icon('camera'), 'Take snapshot');
  let running = false;
  let busy = false;

  panel.append(
    h('div', { class: 'panel-toolbar' }, count, h('div', { class: 'actions' }, takeBtn,
      h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el,
    h('div', { class: 'card card-flush' }, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid snapshots' },
        h('caption', { class: 'sr-only' }, `Snapshots of ${noun} ${guest.vmid}`),
        h('thead', null, h('tr', null, ['Name', 'Date', 'RAM', 'Description'].map((c, i) => h('th', { scope: 'col', class: i === 2 ? 'optional' : null }, c)),
          h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        tbody))));

  function row(s) {
    const now = s.name === 'current';
    return h('tr', { class: now ? 'is-current' : null, dataset: { snap: s.name } },
      h('th', { scope: 'row' }, h('span', { class: 'snap-name', style: { '--depth': s.depth } },
        s.depth ? h('span', { class: 'snap-branch', 'aria-hidden': 'true' }, '└ ') : null,
        icon(now ? 'play' : 'camera'), now ? 'NOW' : s.name,
        s.depth ? h('span', { class: 'sr-only' }, ` (child of ${s.parent})`) : null)),
      h('td', { class: 'nowrap' }, now ? '' : formatTimestamp(s.snaptime)),
      h('td', { class: 'optional' }, now ? '' : Number(s.vmstate) ? 'Yes' : 'No'),
      h('td', { class: 'desc-cell' }, now ? 'You are here' : (s.description || '').trim()),
      h('td', { class: 'row-actions' }, now ? null : [
        h('button', { type: 'button', class: 'btn btn-small', disabled: busy, onclick: () => rollback(s), 'aria-label': `Roll back to ${s.name}` }, icon('undo'), h('span', { class: 'btn-label' }, 'Rollback')),
        h('button', { type: 'button', class: 'btn btn-small', disabled: busy, onclick: () => remove(s), 'aria-label': `Delete snapshot ${s.name}` }, icon('trash'), h('span', { class: 'btn-label' }, 'Delete')),
      ]));
  }

  async function refresh() {
    try {
      const [list, st] = await Promise.all([
        api(`${base}/snapshot`, { signal }),
        api(`${base}/status/current`, { signal }).catch(() => null),
      ]);
      running = !!st && st.status === 'running';
      const ordered = snapshotOrder((Array.isArray(list) ? list : []).filter((s) => s && s.name));
      tbody.replaceChildren(...ordered.map(row));
      const n = ordered.filter((s) => s.name !== 'current').length;
      setText(count, n ? `${n} snapshot${n === 1 ? '' : 's'}` : 'No snapshots yet.');
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  /** Run a snapshot task with the buttons locked; refresh after. */
  async function runTask(label, fn) {
    busy = true;
    takeBtn.disabled = true;
    for (const b of tbody.querySelectorAll('button')) b.disabled = true;
    try {
      await feedback.run(label, fn);
    } catch (e) {
      console.debug(`${label} failed:`, e);
    } finally {
      busy = false;
      takeBtn.disabled = false;
      if (!signal.aborted) await refresh();
    }
  }

  function take() {
    const name = field({ label: 'Name', name: 'snapname', required: true, pattern: '^[A-Za-z][A-Za-z0-9_\\-]*$',
      hint: 'Starts with a letter; letters, digits, "-" and "_"; at most 40 characters.' });
    name.input.maxLength = 40;
    const description = field({ label: 'Description', name: 'description', type: 'textarea', rows: 3 });
    const vmstate = field({ label: 'Include RAM (the running state)', name: 'vmstate', type: 'checkbox', value: false,
      disabled: guest.type !== 'qemu' || !running,
      hint: guest.type !== 'qemu' ? null : running ? 'The VM resumes from this point on rollback.' : 'Only for a running VM.' });
    return formDialog({
      title: `Take a snapshot of ${noun} ${guest.vmid}`, fields: [name, description, vmstate], submitLabel: 'Take snapshot',
      onSubmit: async (_, { setStatus }) => {
        const body = { snapname: name.get() };
        if (description.get().trim()) body.description = description.get();
        if (vmstate.get()) body.vmstate = 1;
        // Errors in the parameters come back before the task starts; they go beside the fields.
        const upid = await api(`${base}/snapshot`, { method: 'POST', body });
        if (isUpid(upid)) {
          setStatus('Taking the snapshot…');
          runTask(`Snapshot ${name.get()}`, () => upid);
        }
      },
    });
  }

  async function rollback(s) {
    const ok = await confirmDialog({
      title: `Roll back to ${s.name}?`,
      message: `${noun} ${guest.vmid} returns to the state of snapshot ${s.name}. Everything since then, in its disks${Number(s.vmstate) ? ' and memory' : ''}, is lost.`,
      confirmLabel: 'Rollback', danger: true,
    });
    if (ok) runTask(`Rollback to ${s.name}`, () => api(`${base}/snapshot/${seg(s.name)}/rollback`, { method: 'POST', signal }));
  }

  async function remove(s) {
    const ok = await confirmDialog({
      title: `Delete snapshot ${s.name}?`,
      message: `Snapshot ${s.name} of ${noun} ${guest.vmid} is deleted. The current state is not affected.`,
      confirmLabel: 'Delete', danger: true,
    });
    if (ok) runTask(`Delete snapshot ${s.name}`, () => api(`${base}/snapshot/${seg(s.name)}`, { method: 'DELETE', signal }));
  }

  refresh();
  return null;
});
