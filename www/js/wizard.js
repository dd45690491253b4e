// The step machinery of the create wizards (create-vm.js, create-ct.js):
// one dialog with a step list, a pane per step, Back/Next/Create, checks of
// each step before moving on, a confirmation step listing the parameters,
// and the creation: POST, per-parameter errors back beside their fields (and
// the wizard to the step holding the first), then the task followed to its
// end and the new guest opened.

import { api, seg, errorText, ApiError } from './api.js';
import { h, icon, setText, replaceChildren } from './dom.js';
import { nextId } from './ui.js';
import { clearErrors, validate, applyErrors } from './form.js';
import { modal, dialogError } from './dialog.js';
import { loadNodes, isOnline } from './nodes.js';
import { loadResources, usedVmids } from './resources.js';
import { parseRoute, navigate } from './router.js';
import { taskStatusKind } from './format.js';
import { isUpid, waitTask } from './taskrun.js';
import { openTaskLog } from './tasklog.js';

/** A DNS name: letters, digits, "-" and "." (hostnames, VM names). */
export const DNS_NAME = '^[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?)*$';

/** The lowest VMID from 100 that no guest uses (when /cluster/nextid is missing). */
function localNextId() {
  const used = usedVmids();
  let id = 100;
  while (used.has(id)) id++;
  return id;
}

/**
 * openWizard({title, f, steps, type, noun, params, beforeCreate, onShow, onClose}) → {m, signal, stepFields}
 * - f: {key: field}; steps: [{id, label, fields: [keys], extra: [nodes]}], the last one the confirmation
 *   (its fields go below the parameter list); f.node and f.vmid are filled from the online nodes and /cluster/nextid
 * - type: 'qemu' | 'lxc' (POST /nodes/{node}/{type}); noun: "VM", "CT" for the texts
 * - params(): the POST body; beforeCreate(): last adjustments (field names); onShow(stepId)
 * - onReady(): called once the node and ID are known (load the node's storages then)
 */
export function openWizard({ title, f, steps, type, noun, params, beforeCreate, onShow, onReady }) {
  const ctrl = new AbortController();
  const signal = ctrl.signal;
  for (const [k, fld] of Object.entries(f)) fld.input.dataset.field = k; // tests and styles find fields by their own name
  const stepOf = new Map();
  for (const s of steps) for (const k of s.fields) stepOf.set(f[k], s);
  const last = steps.length - 1;
  const summary = h('dl', { class: 'confirm-list' });

  let current = 0;
  let maxSeen = 0;
  const err = dialogError();
  const stepButtons = [];
  const nav = h('nav', { class: 'wizard-steps', 'aria-label': 'Steps' },
    h('ol', null, steps.map((s, i) => {
      const b = h('button', { type: 'button', class: 'wizard-step', dataset: { step: s.id }, onclick: () => go(i) },
        h('span', { class: 'wizard-num', 'aria-hidden': 'true' }, String(i + 1)), s.label);
      stepButtons.push(b);
      return h('li', null, b);
    })));
  const progress = h('p', { class: 'wizard-progress muted small', 'aria-live': 'polite' });
  const panes = steps.map((s, i) => {
    const hid = nextId('step');
    const grid = h('div', { class: 'form-grid' }, s.fields.map((k) => f[k].el), s.extra || []);
    return h('section', { class: 'wizard-pane', 'aria-labelledby': hid, hidden: true, dataset: { step: s.id } },
      h('h3', { id: hid }, s.label), i === last ? [summary, grid] : grid);
  });
  const status = h('span', { class: 'dialog-status', 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const back = h('button', { type: 'button', class: 'btn', onclick: () => go(current - 1) }, 'Back');
  const next = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { role: 'next' } }, 'Next');

  const m = modal({
    title,
    className: 'wizard',
    body: [nav, h('div', { class: 'wizard-main' }, progress, err.el, panes)],
    foot: [status, h('span', { class: 'spacer' }), cancel, back, next],
    onSubmit: () => (current === last ? create() : go(current + 1)),
    onClose: () => ctrl.abort(),
  });
  cancel.addEventListener('click', () => m.close());

  const stepFields = (i) => steps[i].fields.map((k) => f[k]);

  /** Move to step i; going forward checks the steps on the way. */
  function go(i, { check = true } = {}) {
    if (i < 0 || i > last) return;
    if (check && i > current) {
      for (let j = current; j < i; j++) {
        const bad = validate(stepFields(j));
        if (bad) { show(j); bad.focus(); return; }
      }
    }
    show(i);
    const first = panes[i].querySelector('input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea');
    (first && !first.closest('[hidden]') ? first : panes[i]).focus?.();
  }

  function show(i) {
    current = i;
    maxSeen = Math.max(maxSeen, i);
    panes.forEach((p, j) => { p.hidden = j !== i; });
    stepButtons.forEach((b, j) => {
      if (j === i) b.setAttribute('aria-current', 'step'); else b.removeAttribute('aria-current');
      b.classList.toggle('is-done', j < maxSeen && j !== i);
    });
    setText(progress, `Step ${i + 1} of ${steps.length}: ${steps[i].label}`);
    stepButtons[i].scrollIntoView({ block: 'nearest', inline: 'nearest' }); // the step strip scrolls at phone width
    back.disabled = i === 0;
    setText(next, i === last ? 'Create' : 'Next');
    if (i === last) renderSummary();
    onShow?.(steps[i].id);
  }

  function renderSummary() {
    const p = params();
    delete p.start; // the checkbox below says it
    replaceChildren(summary,
      h('div', null, h('dt', null, 'node'), h('dd', null, f.node.get())),
      Object.entries(p).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, k === 'password' ? '••••••••' : String(v)))));
  }

  function setStatus(kind, text, upid) {
    if (!kind) { status.replaceChildren(); return; }
    status.dataset.kind = kind;
    replaceChildren(status,
      kind === 'running' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : icon('alert'),
      h('span', null, text),
      upid ? h('button', { type: 'button', class: 'link', onclick: (ev) => openTaskLog({ upid }, ev.currentTarget) }, 'Show log') : null);
  }

  async function create() {
    const all = steps.flatMap((s, i) => stepFields(i));
    clearErrors(all);
    err.set(null);
    for (let i = 0; i <= last; i++) {
      const bad = validate(stepFields(i));
      if (bad) { show(i); bad.focus(); return; }
    }
    beforeCreate?.();
    const node = f.node.get();
    const vmid = f.vmid.get();
    const starting = f.start && f.start.get();
    m.setBusy(true);
    setStatus('running', `Creating ${noun} ${vmid}…`);
    let upid;
    try {
      // a taken ID is refused by the create call as a plain error (as PVE's); asked first, as PVE's
      // console does, the answer names the field, so it lands beside it
      if (vmid) await api(`/cluster/nextid?vmid=${encodeURIComponent(vmid)}`);
      upid = await api(`/nodes/${seg(node)}/${type}`, { method: 'POST', body: params() });
    } catch (e) {
      m.setBusy(false);
      setStatus(null);
      if (e instanceof ApiError && e.errors) {
        const { left, first } = applyErrors(all, e.errors);
        const rest = Object.entries(left).map(([k, v]) => `${k}: ${v}`).join('; ');
        if (first) {
          go(steps.indexOf(stepOf.get(first)), { check: false });
          first.focus();
        }
        err.set(rest ? `The server refused: ${rest}` : first ? null : `The server refused: ${errorText(e)}`);
      } else {
        err.set(`Could not create the ${noun}: ${errorText(e)}`);
      }
      return;
    }
    let exit = 'OK';
    if (isUpid(upid)) {
      setStatus('running', `Creating ${noun} ${vmid}${starting ? ' and starting it' : ''}…`, upid);
      try {
        exit = await waitTask(upid, { signal });
      } catch (e) {
        if (e.name === 'AbortError') return;
        exit = errorText(e);
      }
    }
    m.setBusy(false);
    if (taskStatusKind(exit) === 'error') {
      setStatus('error', `Creating ${noun} ${vmid} failed: ${exit}`, upid);
      return;
    }
    await loadResources({ maxAge: 0 }).catch(() => {});
    m.close();
    navigate(`${type}/${vmid}`);
  }

  // The node (the one in view, if online) and the next free ID.
  (async () => {
    try {
      const nodes = (await loadNodes({ maxAge: 5000 })).filter(isOnline).map((n) => n.node);
      f.node.setOptions(nodes.map((n) => [n, n]));
      const r = parseRoute(location.hash);
      if (r.node && nodes.includes(r.node)) f.node.set(r.node);
      if (!nodes.length) f.node.setError('No node is online.');
    } catch (e) {
      f.node.setError(`Could not list the nodes: ${errorText(e)}`);
    }
    try {
      const id = await api('/cluster/nextid', { signal });
      if (!f.vmid.get()) f.vmid.set(Number(id));
    } catch (e) {
      if (e.name === 'AbortError') return;
      await loadResources({ maxAge: 5000 }).catch(() => {});
      if (!f.vmid.get()) f.vmid.set(localNextId());
    }
    onReady?.();
  })();

  show(0);
  f.node.focus();
  return { m, signal, stepFields };
}

/**
 * Offer a node's storages for `content` in a select; a list that cannot be had becomes the
 * field's validation message, so "Next" says why it stops. Resolves to whether any storage fits.
 */
export function offerStorages(fld, result, node, what, label) {
  const list = result.status === 'fulfilled' ? result.value : [];
  fld.setOptions(list.map((s) => [s.storage, label(s)]));
  const why = result.status === 'rejected' ? `Could not list the storages of ${node}: ${errorText(result.reason)}`
    : list.length ? '' : `No storage on ${node} holds ${what}.`;
  fld.input.setCustomValidity(why);
  fld.setError(why || null);
  return list.length > 0;
}
