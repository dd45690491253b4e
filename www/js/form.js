// Form fields with a <label>, an optional hint and a place for the API's
// per-parameter error (400 "Parameter verification failed" carries
// {"errors": {param: why}}). A field names the API parameter it feeds, and
// optionally the sub-key inside a property string (net0 → "bridge"), so an
// error about "net0" lands beside the field the message talks about.

import { h, setText } from './dom.js';
import { nextId } from './ui.js';

/** Options as [value, label] pairs, {value, label} objects or bare values. */
const optionList = (options) => (options || []).map((o) => (Array.isArray(o) ? { value: o[0], label: o[1] ?? o[0] }
  : typeof o === 'object' && o !== null ? o : { value: o, label: o }));

/**
 * field({label, name, sub, type, value, options, required, min, max, step, placeholder, hint, list, …})
 * type: text | number | select | checkbox | textarea | password.
 * Returns {el, input, name, sub, get(), set(v), setError(msg), setOptions(options), focus()}.
 */
export function field(opts) {
  const {
    label, name, sub = null, type = 'text', value, options, hint, list, wide = false,
    required, min, max, step, placeholder, pattern, autocomplete = 'off', inputmode, rows = 4, disabled,
  } = opts;
  const id = nextId('f');
  const errId = `${id}-err`;
  const hintId = hint ? `${id}-hint` : null;
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  let input;
  let datalist = null;

  if (type === 'select') {
    input = h('select', { id, name, required, disabled });
  } else if (type === 'textarea') {
    input = h('textarea', { id, name, rows, required, placeholder, disabled, spellcheck: 'false' });
  } else {
    input = h('input', {
      id, name, type, required, min, max, step, placeholder, pattern, disabled,
      autocomplete: type === 'checkbox' ? null : autocomplete, inputmode,
      spellcheck: type === 'text' ? 'false' : null,
    });
    if (list) {
      datalist = h('datalist', { id: `${id}-list` });
      input.setAttribute('list', datalist.id);
    }
  }
  input.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));

  let el;
  if (type === 'checkbox') {
    el = h('div', { class: 'field field-check' },
      h('label', { class: 'check', for: id }, input, ' ', label),
      hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null, err);
  } else {
    el = h('div', { class: `field${wide ? ' field-wide' : ''}` },
      h('label', { for: id }, label),
      input, datalist,
      hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null, err);
  }

  const api = {
    el, input, name, sub,
    get() {
      if (type === 'checkbox') return input.checked;
      return typeof input.value === 'string' && type !== 'textarea' ? input.value.trim() : input.value;
    },
    set(v) {
      if (type === 'checkbox') input.checked = !!v && v !== '0' && v !== 0;
      else input.value = v === undefined || v === null ? '' : String(v);
    },
    setOptions(opts2, keep = true) {
      const before = input.value;
      const target = type === 'select' ? input : datalist;
      if (!target) return;
      target.replaceChildren(...optionList(opts2).map((o) => h('option', { value: o.value }, type === 'select' ? o.label : null)));
      if (keep && type === 'select' && [...input.options].some((o) => o.value === before)) input.value = before;
    },
    setError(msg) {
      setText(err, msg || '');
      err.hidden = !msg;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    },
    focus() { input.focus(); },
  };
  if (options) api.setOptions(options, false);
  if (list) api.setOptions(list);
  if (value !== undefined) api.set(value);
  if (type !== 'checkbox') input.addEventListener('input', () => api.setError(null));
  else input.addEventListener('change', () => api.setError(null));
  return api;
}

/**
 * Have validate() report why(value) — a message, or null when fine — for a
 * non-empty value (an empty one is the `required` attribute's business). Returns
 * the field; its recheck() is for values set by the script (those fire no input event).
 */
export function rule(f, why) {
  const check = () => f.input.setCustomValidity((f.get() && why(f.get())) || '');
  f.input.addEventListener('input', check);
  f.recheck = check;
  check();
  return f;
}

/** Clear every field's error. */
export function clearErrors(fields) {
  for (const f of fields) f.setError(null);
}

/**
 * Show an API error map beside its fields. Returns the entries no field took
 * ({param: why}), for a message above the form, and the first field that took one.
 */
export function applyErrors(fields, errors) {
  const left = {};
  let first = null;
  for (const [param, why] of Object.entries(errors || {})) {
    const candidates = fields.filter((f) => f.name === param && !f.input.disabled && f.el.isConnected !== false);
    if (!candidates.length) { left[param] = why; continue; }
    const text = String(why);
    // The field the message names a part of; else the one holding the whole value; else the first.
    const target = candidates.find((f) => f.sub && new RegExp(`\\b${f.sub}\\b`).test(text))
      || candidates.find((f) => !f.sub) || candidates[0];
    target.setError(text);
    first = first || target;
  }
  return { left, first };
}

/** Browser validation (required, min, max, pattern): show messages; return the first bad field. */
export function validate(fields) {
  let first = null;
  for (const f of fields) {
    if (typeof f.input.checkValidity !== 'function') continue; // composite editors check themselves
    // Fields hidden by their form's choices do not count; a hidden wizard step's fields do.
    if (f.input.disabled || !f.el.isConnected || f.el.hidden) continue;
    if (!f.input.checkValidity()) {
      f.setError(f.input.validationMessage);
      first = first || f;
    }
  }
  return first;
}

/** Read a set of fields into {name: value} (the first field of a name wins). */
export function values(fields) {
  const out = {};
  for (const f of fields) if (!(f.name in out)) out[f.name] = f.get();
  return out;
}

/**
 * The body of an edit that sends only what changed: the entries of `want` ({name: text}, '' for "not set")
 * that differ from `before`; those emptied go into `delete` (a comma list), as PVE's PUTs take it.
 */
export function editBody(before, want) {
  const body = {};
  const remove = [];
  for (const [k, v] of Object.entries(want)) {
    const was = before[k] === undefined || before[k] === null ? '' : String(before[k]);
    if (v === was) continue;
    if (v === '') remove.push(k); else body[k] = v;
  }
  if (remove.length) body.delete = remove.join(',');
  return body;
}
