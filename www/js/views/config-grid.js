// What the guests' configuration views (VM Hardware and Options, CT
// Resources, Network, DNS and Options) share: the configuration as a table of
// three columns (name, value, actions) on a card, its rows, the reload that
// reads the config with its digest and pending changes, and the editors of
// single options.

import { h, icon } from '../dom.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { errorSlot } from '../ui.js';
import { taskFeedback } from '../taskrun.js';
import { loadConfig, putConfig } from '../qemu-config.js';

/** The card with the table; `heads` names the first two columns, rows go into `tbody`. */
export function configTable(caption, [nameHead, valueHead], tbody) {
  return h('div', { class: 'card card-flush' }, h('div', { class: 'table-wrap' },
    h('table', { class: 'grid kv-grid' },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, nameHead), h('th', { scope: 'col' }, valueHead),
        h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      tbody)));
}

/**
 * refresh() for a config view: loads the config of `base` (see loadConfig) and hands it to
 * show(state); a failure other than an abort goes to the error slot `err`, a success clears it.
 */
export function configLoader(base, { signal, err }, show) {
  return async function refresh() {
    try {
      show(await loadConfig(base, { signal }));
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  };
}

/**
 * The rows of a config table: [{key | keys, label, value, icon, pre, edit, remove}]. A row whose keys
 * have pending changes is marked and says what is pending (an entry's `note`, when it has one, says it instead).
 */
export function renderRows(tbody, list, pending) {
  tbody.replaceChildren(...list.map((r) => {
    const keys = r.keys || [r.key];
    const pend = keys.map((k) => pending.get(k)).filter(Boolean);
    const pendText = pend.map((p) => p.note || (p.delete ? `${p.key}: to be removed` : `${p.key}: ${p.pending}`)).join('; ');
    return h('tr', { class: pend.length ? 'is-pending' : null, dataset: { key: r.key || keys[0] } },
      h('th', { scope: 'row' }, r.icon ? h('span', { class: 'kv-label' }, icon(r.icon), r.label) : r.label),
      h('td', { class: `kv-value${r.pre ? ' pre' : ''}` }, String(r.value ?? ''),
        pend.length ? h('span', { class: 'pending-note' }, ` (pending: ${pendText})`) : null),
      h('td', { class: 'row-actions' },
        (r.actions || []).map(([label, ic, fn]) => h('button', { type: 'button', class: 'btn btn-small', onclick: fn, 'aria-label': `${label} ${r.label}` }, icon(ic), h('span', { class: 'btn-label' }, label))),
        r.edit ? h('button', { type: 'button', class: 'btn btn-small', onclick: r.edit, 'aria-label': `Edit ${r.label}` }, icon('edit'), h('span', { class: 'btn-label' }, 'Edit')) : null,
        r.remove ? h('button', { type: 'button', class: 'btn btn-small', onclick: r.remove, 'aria-label': `Remove ${r.label}` }, icon('trash'), h('span', { class: 'btn-label' }, 'Remove')) : null));
  }));
}

/**
 * Editors of single options: save(set, remove) writes them; config() is the current config.
 * A value set back to its default is deleted from the config rather than written.
 */
export function optionEditors(config, save) {
  const drop = (key) => save({}, config()[key] !== undefined ? [key] : []);
  return {
    editFlag(key, label, dflt) {
      const f = field({ label, name: key, type: 'checkbox', value: config()[key] ?? dflt });
      return formDialog({
        title: `Edit: ${label}`, fields: [f], submitLabel: 'Save',
        onSubmit: () => (f.get() === !!dflt ? drop(key) : save({ [key]: f.get() ? 1 : 0 })),
      });
    },
    editText(key, label, opts = {}) {
      const f = field({ label, name: key, value: config()[key] ?? '', ...opts });
      return formDialog({
        title: `Edit: ${label}`, fields: [f], submitLabel: 'Save',
        onSubmit: () => {
          const v = opts.normalize ? opts.normalize(f.get()) : f.get();
          return v === '' ? drop(key) : save({ [key]: v });
        },
      });
    },
    editDescription() {
      const f = field({ label: 'Notes', name: 'description', type: 'textarea', rows: 8, value: config().description ?? '', wide: true });
      return formDialog({
        title: 'Edit: Notes', fields: [f], submitLabel: 'Save', className: 'dialog-wide',
        onSubmit: () => (f.get().trim() === '' ? drop('description') : save({ description: f.get() })),
      });
    },
  };
}

/**
 * A configuration view of rows: toolbar (a note, buttons, Reload), task feedback, errors and the
 * table, loaded from `base` and drawn by rows(config) (see renderRows).
 * Returns {config(), save(set, remove), refresh(), feedback, removeKey(key, message)}; save writes with the digest it read.
 */
export function configView(panel, base, signal, { caption, heads, note, buttons = [], rows, onSaved }) {
  const err = errorSlot(`Could not load the ${caption.toLowerCase()}`);
  const feedback = taskFeedback({ signal });
  const tbody = h('tbody');
  let state = null;
  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
      note ? h('p', { class: 'muted small' }, note) : null,
      h('div', { class: 'actions' }, ...buttons, h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el,
    configTable(caption, heads, tbody));
  const refresh = configLoader(base, { signal, err }, (loaded) => {
    state = loaded;
    renderRows(tbody, rows(state.config), state.pending);
  });
  async function save(set = {}, remove = []) {
    const res = await putConfig(base, { set, remove, digest: state.digest });
    await refresh();
    onSaved?.();
    return res;
  }
  /** Ask, then delete `key` from the config (`message` says what that does). */
  async function removeKey(key, message) {
    const ok = await confirmDialog({ title: `Remove ${key}?`, message, confirmLabel: 'Remove', danger: true });
    if (!ok) return;
    try {
      await feedback.run(`Remove ${key}`, () => save({}, [key]));
    } catch (e) {
      console.debug('remove failed:', e);
    }
  }
  refresh();
  return { config: () => state.config, save, refresh, feedback, removeKey };
}
