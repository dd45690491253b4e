// Shared parts of the Datacenter access tabs (users, groups, roles, ACL,
// API tokens, TFA): a toolbar + table panel, date ↔ epoch helpers for the
// "expire" fields, and the user/group/role name lists the dialogs offer.

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';

/**
 * listPanel(panel, {caption, columns: [label | {label, optional}], buttons: [nodes], before: [nodes], what})
 * → {tbody, err, show(rows, countText), empty(text)}.
 */
export function listPanel(panel, { caption, columns, buttons = [], before = [], what }) {
  const err = errorSlot(`Could not load the ${what}`);
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const tbody = h('tbody');
  panel.append(
    h('div', { class: 'panel-toolbar' }, count, h('div', { class: 'actions' }, ...buttons)),
    ...before, err.el,
    h('section', { class: 'card card-flush', 'aria-label': caption },
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid access-grid' },
          h('caption', { class: 'sr-only' }, caption),
          h('thead', null, h('tr', null,
            columns.map((c) => (typeof c === 'string' ? { label: c } : c))
              .map((c) => h('th', { scope: 'col', class: c.optional ? 'optional' : null }, c.label)),
            h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
          tbody))));
  const cols = columns.length + 1;
  return {
    tbody, err,
    show(rows, countText, emptyText) {
      tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: cols, class: 'empty' }, emptyText))]));
      setText(count, countText);
    },
    loading(text = 'Loading…') { setText(count, text); },
  };
}

/** A toolbar button. */
export const toolButton = (label, iconName, onclick, primary = false) =>
  h('button', { type: 'button', class: `btn${primary ? ' btn-primary' : ''}`, onclick }, icon(iconName), label);

/** A small row button whose text hides at phone width (its aria-label stays). */
export const rowButton = (label, iconName, onclick, ariaLabel) =>
  h('button', { type: 'button', class: 'btn btn-small', onclick, 'aria-label': ariaLabel }, icon(iconName), h('span', { class: 'btn-label' }, label));

/** Epoch seconds (0 = never) → "YYYY-MM-DD" for <input type=date>. */
export function epochToDate(epoch) {
  const n = Number(epoch);
  if (!n) return '';
  const d = new Date(n * 1000);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** "YYYY-MM-DD" → epoch seconds at the end of that local day (0 when empty = never). */
export function dateToEpoch(text) {
  if (!text) return 0;
  const t = new Date(`${text}T23:59:59`).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

/** Expiry for a table cell. */
export function expiryText(epoch) {
  const n = Number(epoch);
  if (!n) return 'never';
  const text = epochToDate(n);
  return n * 1000 < Date.now() ? `${text} (expired)` : text;
}

export const yesNo = (v, dflt = 1) => (Number(v ?? dflt) ? 'Yes' : 'No');

/** Comma/space separated list → array without blanks. */
export const splitList = (v) => (Array.isArray(v) ? v : String(v || '').split(/[\s,;]+/)).map((s) => String(s).trim()).filter(Boolean);

/** Names for the dialogs: {users, groups, roles} (each a sorted array; [] when a list failed). */
export async function accessNames() {
  const [u, g, r] = await Promise.allSettled([api('/access/users'), api('/access/groups'), api('/access/roles')]);
  const names = (res, key) => (res.status === 'fulfilled' && Array.isArray(res.value)
    ? res.value.map((x) => x && x[key]).filter(Boolean).sort() : []);
  return { users: names(u, 'userid'), groups: names(g, 'groupid'), roles: names(r, 'roleid'), rolesFailed: r.status !== 'fulfilled' };
}

/** Abortable mount helper: mount(panel, route) with an AbortController whose abort is the cleanup. */
export function accessView(fn) {
  return (panel, route) => {
    const ctl = new AbortController();
    fn(panel, ctl.signal, route);
    return () => ctl.abort();
  };
}

/** Ignore aborted requests, show the rest. */
export const showError = (slot) => (e) => { if (e && e.name !== 'AbortError') slot.set(e); };

/**
 * A set of checkboxes in a <fieldset> (one <label> each) that feeds one API
 * parameter as a comma list — groups of a user, privileges of a role.
 * checkList({label, name, options: [value] or [[value, group]], value: [..], hint, empty, labels})
 * labels: {value: text} shown instead of the bare value.
 * → the field interface of form.js ({el, input, name, get, set, setError, setOptions, focus}).
 */
let checkListSeq = 0;
export function checkList({ label, name, options = [], value = [], hint, empty = 'None to choose from.', columns = false, labels = {} }) {
  const id = `cl-${++checkListSeq}`;
  const err = h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
  const box = h('div', { class: `check-list${columns ? ' check-list-columns' : ''}` });
  const input = h('fieldset', { class: 'check-fieldset', name, 'aria-describedby': `${id}-err` },
    h('legend', null, label), hint ? h('p', { class: 'field-hint' }, hint) : null, box, err);
  const el = h('div', { class: 'field field-wide' }, input);
  let chosen = new Set(splitList(value));
  const boxes = () => [...box.querySelectorAll('input[type=checkbox]')];
  const api = {
    el, input, name, sub: null,
    get: () => boxes().filter((b) => b.checked).map((b) => b.value).join(','),
    set(v) { chosen = new Set(splitList(v)); for (const b of boxes()) b.checked = chosen.has(b.value); },
    setOptions(opts) {
      const before = new Set(boxes().filter((b) => b.checked).map((b) => b.value));
      for (const v of before) chosen.add(v);
      const list = opts.map((o) => (Array.isArray(o) ? o : [o, null]));
      // Values already set that are not offered stay visible (and set).
      for (const v of chosen) if (!list.some(([x]) => x === v)) list.push([v, null]);
      const groups = new Map();
      for (const [v, g] of list) {
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push(v);
      }
      const item = (v) => {
        const cid = `${id}-${v.replace(/[^A-Za-z0-9_-]/g, '_')}`;
        const cb = h('input', { type: 'checkbox', id: cid, value: v, checked: chosen.has(v) });
        cb.addEventListener('change', () => api.setError(null));
        return h('label', { class: 'check', for: cid }, cb, ' ', Object.hasOwn(labels, v) ? labels[v] : v);
      };
      box.replaceChildren(...(list.length ? [...groups].map(([g, vs]) => (g
        ? h('div', { class: 'check-group', role: 'group', 'aria-label': g }, h('p', { class: 'check-group-title', 'aria-hidden': 'true' }, g), vs.map(item))
        : vs.map(item))).flat() : [h('p', { class: 'muted small' }, empty)]));
    },
    setError(msg) {
      setText(err, msg || '');
      err.hidden = !msg;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    },
    focus() { (boxes()[0] || input).focus(); },
  };
  api.setOptions(options);
  return api;
}
