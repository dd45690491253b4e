// Modal dialogs on <dialog>: a generic shell, a confirmation, a form whose
// submit talks to the API and puts its 400 errors beside the fields, and tabs
// for a form too long for one page (storage, backup job).
// Focus returns to the element that opened the dialog.

import { ApiError, errorText } from './api.js';
import { h, icon, setText } from './dom.js';
import { nextId } from './ui.js';
import { applyErrors, clearErrors, validate } from './form.js';

/**
 * modal({title, body: [nodes], foot: [nodes], className, onClose}) →
 * {dlg, form, close(), setBusy(on), busy()}. The whole dialog is one <form>
 * (Enter submits); pass onSubmit to handle it.
 */
export function modal({ title, body = [], foot = [], className = '', onSubmit, onClose }) {
  const titleId = nextId('dlg');
  const opener = document.activeElement;
  let busy = false;
  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('div', { class: 'dialog-body' }, body),
    h('footer', { class: 'dialog-foot' }, foot));
  const dlg = h('dialog', { class: `dialog form-dialog ${className}`.trim(), 'aria-labelledby': titleId },
    h('header', { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => { if (!busy) dlg.close(); } },
        icon('close'))),
    form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!busy && onSubmit) onSubmit(ev);
  });
  // While a request runs, Esc must not drop the dialog (its answer has nowhere to go).
  dlg.addEventListener('cancel', (ev) => { if (busy) ev.preventDefault(); });
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  return {
    dlg, form, titleId,
    close() { if (dlg.open) dlg.close(); },
    setBusy(on) {
      busy = !!on;
      form.setAttribute('aria-busy', String(busy));
      for (const b of form.querySelectorAll('.dialog-foot button:not(.link)')) b.disabled = busy;
    },
    busy: () => busy,
  };
}

/** A general error area for a dialog (role=alert). */
export function dialogError() {
  const text = h('span');
  const el = h('div', { class: 'notice notice-error', role: 'alert', hidden: true }, icon('alert'), text);
  return {
    el,
    set(msg) { setText(text, msg || ''); el.hidden = !msg; },
  };
}

/**
 * Ask before doing something. Resolves to null (cancelled) or {check-name: bool}.
 * typeToConfirm: the user must type this text (e.g. the VMID before a destroy).
 * checks: [{name, label, checked}] extra options shown as checkboxes.
 */
export function confirmDialog({ title, message, confirmLabel = 'OK', danger = false, typeToConfirm = null, checks = [] }) {
  return new Promise((resolve) => {
    let result = null;
    const boxes = checks.map((c) => {
      const id = nextId('chk');
      const input = h('input', { type: 'checkbox', id, checked: !!c.checked });
      return { name: c.name, input, el: h('div', { class: 'field field-check' }, h('label', { class: 'check', for: id }, input, ' ', c.label)) };
    });
    let typed = null;
    if (typeToConfirm !== null) {
      const id = nextId('typed');
      typed = h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false' });
      typed.addEventListener('input', () => { ok.disabled = typed.value.trim() !== String(typeToConfirm); });
    }
    const ok = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, disabled: typeToConfirm !== null }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const m = modal({
      title,
      className: 'confirm-dialog',
      body: [
        h('p', { class: 'confirm-text' }, message),
        ...boxes.map((b) => b.el),
        typed ? h('div', { class: 'field' }, h('label', { for: typed.id }, `Type ${typeToConfirm} to confirm`), typed) : null,
      ],
      foot: [h('span', { class: 'spacer' }), cancel, ok],
      onSubmit() {
        if (typed && typed.value.trim() !== String(typeToConfirm)) return;
        result = Object.fromEntries(boxes.map((b) => [b.name, b.input.checked]));
        m.close();
      },
      onClose: () => resolve(result),
    });
    cancel.addEventListener('click', () => m.close());
    (typed || (danger ? cancel : ok)).focus();
  });
}

/**
 * A form in a dialog. fields: from form.js (their .el go in order, or pass body
 * to lay them out yourself). onSubmit(fields) runs the request and may throw an
 * ApiError: its `errors` go beside the fields, the rest above them. Resolves to
 * true after a successful submit, false when cancelled.
 */
export function formDialog({ title, fields, body = null, intro = null, submitLabel = 'OK', onSubmit, className = '' }) {
  return new Promise((resolve) => {
    let done = false;
    const err = dialogError();
    const ok = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const status = h('span', { class: 'dialog-status muted', 'aria-live': 'polite' });
    const m = modal({
      title,
      className,
      body: [intro ? h('p', { class: 'dialog-intro muted' }, intro) : null, err.el,
        body || h('div', { class: 'form-grid' }, fields.map((f) => f.el))],
      foot: [status, h('span', { class: 'spacer' }), cancel, ok],
      async onSubmit() {
        clearErrors(fields);
        err.set(null);
        const bad = validate(fields);
        if (bad) { bad.focus(); return; }
        m.setBusy(true);
        setText(status, 'Saving…');
        try {
          await onSubmit(fields, { setStatus: (t) => setText(status, t) });
          done = true;
          m.setBusy(false);
          m.close();
        } catch (e) {
          m.setBusy(false);
          setText(status, '');
          const { left, first } = e instanceof ApiError && e.errors ? applyErrors(fields, e.errors) : { left: null, first: null };
          if (first) {
            const rest = Object.entries(left).map(([k, v]) => `${k}: ${v}`).join('; ');
            err.set(rest ? `Not saved — ${rest}` : null);
            first.focus();
          } else {
            err.set(`Not saved: ${errorText(e)}`);
            err.el.scrollIntoView({ block: 'nearest' }); // a long form may be scrolled past it
          }
        }
      },
      onClose: () => resolve(done),
    });
    cancel.addEventListener('click', () => m.close());
    const firstInput = fields.find((f) => !f.input.disabled);
    if (firstInput) firstInput.focus();
  });
}

/** Tabs inside a dialog: [{label, body}] → {el: [tablist, panels], show(i)}. One tab: its body alone. */
export function dialogTabs(tabs) {
  if (tabs.length === 1) return { el: tabs[0].body, show() {} };
  const buttons = [];
  const panels = tabs.map((t, i) => {
    const tabId = nextId('dtab');
    const panel = h('div', { class: 'dialog-tabpanel', role: 'tabpanel', id: nextId('dpanel'), 'aria-labelledby': tabId, hidden: i > 0 }, t.body);
    buttons.push(h('button', {
      type: 'button', class: 'tab', role: 'tab', id: tabId, 'aria-controls': panel.id, 'aria-selected': String(i === 0),
      tabindex: i === 0 ? 0 : -1, dataset: { tab: t.key }, onclick: () => show(i, true),
    }, t.label));
    return panel;
  });
  function show(i, focus = false) {
    buttons.forEach((b, j) => { b.setAttribute('aria-selected', String(i === j)); b.tabIndex = i === j ? 0 : -1; });
    panels.forEach((p, j) => { p.hidden = i !== j; });
    if (focus) buttons[i].focus();
  }
  const list = h('div', { class: 'tabs dialog-tabs', role: 'tablist' }, buttons);
  list.addEventListener('keydown', (ev) => {
    const move = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
    if (!move) return;
    ev.preventDefault();
    show((buttons.indexOf(document.activeElement) + move + buttons.length) % buttons.length, true);
  });
  return { el: [list, ...panels], show };
}

/** Make a field on tab i show that tab before it takes focus (validation and server errors focus it). */
export function onTab(tabs, i, f) {
  const focus = f.focus.bind(f);
  f.focus = () => { tabs.show(i); focus(); };
  return f;
}
