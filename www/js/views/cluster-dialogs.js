// The dialogs of Datacenter → Cluster: create a cluster on a standalone node,
// show a member's join information (and make a one-time join token), and join
// a cluster with that information.
//
// Join information is one line to copy from a member to the joining node:
// base64 of the JSON {ipAddress, fingerprint, peerLinks: {"0": addr},
// ring_addr: [addr], totem}, the shape PVE consoles exchange. Corral may add
// "token": a join token that stands in for the root password, once.

import { api, errorText } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { dialogError, formDialog, modal } from '../dialog.js';
import { field, rule } from '../form.js';
import { formatTimestamp } from '../format.js';
import { copyValue, nextId } from '../ui.js';

const CLUSTER_NAME = /^[A-Za-z][A-Za-z0-9-]{0,14}$/;
const FINGERPRINT = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/;
const TOKEN_TTLS = [[900, '15 minutes'], [3600, '1 hour'], [86400, '1 day']];

const NAME_RULE = 'A cluster name has 1 to 15 characters — letters, digits and "-" — and starts with a letter.';
const FINGERPRINT_RULE = 'A fingerprint is 32 pairs of hex digits separated by ":" (AB:CD:…).';

/** An IPv4 address in dotted decimal, or an IPv6 address. */
export function isIpAddress(s) {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((p) => Number(p) <= 255);
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  try {
    return !!new URL(`http://[${s}]/`); // the URL parser knows every IPv6 spelling
  } catch {
    return false;
  }
}

/** The join information JSON → the base64 line to copy (UTF-8 inside). */
export function encodeJoinInfo(info) {
  let bin = '';
  for (const b of new TextEncoder().encode(JSON.stringify(info))) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** A pasted line → {ipAddress, fingerprint, token?, …}; throws an Error that says what is wrong. */
export function decodeJoinInfo(text) {
  let info;
  try {
    const bin = atob(String(text).replace(/\s+/g, ''));
    info = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    throw new Error('This is not join information. Copy it again from a cluster member: Datacenter → Cluster → Join Information.');
  }
  if (!info || typeof info !== 'object' || typeof info.ipAddress !== 'string' || !info.ipAddress
      || typeof info.fingerprint !== 'string') {
    throw new Error('This join information lacks the address or the fingerprint of the cluster member.');
  }
  if (!FINGERPRINT.test(info.fingerprint)) throw new Error(`The fingerprint in this join information is damaged. ${FINGERPRINT_RULE}`);
  if (info.token !== undefined && typeof info.token !== 'string') throw new Error('The join token in this join information is damaged.');
  return info;
}

/** A link value: an IP address, optionally as address=IP and with ",priority=N" (corosync's link options). */
const linkRule = (v) => {
  const addr = v.split(',').find((p) => !p.includes('=') || p.startsWith('address='));
  return addr && isIpAddress(addr.replace(/^address=/, '')) ? null : 'Not an IP address (IPv4 like 192.0.2.10, or IPv6).';
};

/** The optional fields both create and join take: link0 and nodeid (and votes for create). */
function memberFields({ votes }) {
  const out = [
    rule(field({ label: 'Link 0 address', name: 'link0', placeholder: '192.0.2.10',
      hint: 'This node\'s address for the cluster traffic (corosync). Empty: chosen automatically.' }), linkRule),
    field({ label: 'Node ID', name: 'nodeid', type: 'number', min: 1, step: 1, hint: 'Empty: chosen automatically.' }),
  ];
  if (votes) out.push(field({ label: 'Votes', name: 'votes', type: 'number', min: 1, step: 1, hint: 'Quorum votes of this node. Empty: 1.' }));
  return out;
}

/** The filled-in optional fields, as API parameters. */
function optionals(fields, body) {
  for (const f of fields) if (f.get() !== '') body[f.name] = f.get();
  return body;
}

/** Create a cluster with this node as its first member. Resolves to {upid, name} or null (cancelled). */
export function createClusterDialog() {
  const name = rule(field({ label: 'Cluster name', name: 'clustername', required: true, wide: true,
    hint: 'Letters, digits and "-", starting with a letter; at most 15 characters.' }),
  (v) => (CLUSTER_NAME.test(v) ? null : NAME_RULE));
  const more = memberFields({ votes: true });
  let upid = null;
  return formDialog({
    title: 'Create a cluster',
    intro: 'This node becomes the first member of a new cluster; other nodes join it with its join information.',
    fields: [name, ...more], submitLabel: 'Create',
    onSubmit: async () => {
      upid = await api('/cluster/config', { method: 'POST', body: optionals(more, { clustername: name.get() }) });
    },
  }).then((done) => (done ? { upid, name: name.get() } : null));
}

/**
 * Join a cluster. Pasting join information fills the member's address, its fingerprint and
 * (when there is a token) the password, and locks them; "Edit by hand" unlocks them.
 * Resolves to {upid, hostname} or null (cancelled).
 */
export function joinClusterDialog() {
  const info = field({ label: 'Join information', name: 'joininfo', type: 'textarea', rows: 3, wide: true,
    placeholder: 'Paste the join information here',
    hint: 'From a member of the cluster: Datacenter → Cluster → Join Information. It fills in the fields below.' });
  info.input.classList.add('join-blob');
  const hostname = field({ label: 'Cluster member address', name: 'hostname', required: true,
    hint: 'IP address or host name of a node of the cluster.' });
  const fingerprint = rule(field({ label: 'Fingerprint', name: 'fingerprint', required: true, wide: true,
    placeholder: 'AB:CD:…', hint: 'SHA-256 fingerprint of that node\'s certificate: it proves this node talks to the right one.' }),
  (v) => (FINGERPRINT.test(v) ? null : FINGERPRINT_RULE));
  const password = field({ label: 'Password or join token', name: 'password', type: 'password', required: true, autocomplete: 'off',
    hint: 'The cluster\'s root@pam password, or a join token made on a member (it works once).' });
  const more = memberFields({ votes: false });
  const filled = [hostname, fingerprint, password];
  const unlock = h('button', { type: 'button', class: 'link join-unlock', hidden: true }, 'Edit the fields by hand');
  info.el.append(unlock);

  function lock(on, withPassword = false) {
    for (const f of filled) f.input.readOnly = on && (f !== password || withPassword);
    unlock.hidden = !on;
  }
  unlock.addEventListener('click', () => { lock(false); hostname.focus(); });

  info.input.addEventListener('input', () => {
    const text = info.get().trim();
    info.input.setCustomValidity('');
    if (!text) { lock(false); return; }
    try {
      const j = decodeJoinInfo(text);
      hostname.set(j.ipAddress);
      fingerprint.set(j.fingerprint);
      if (j.token) password.set(j.token);
      for (const f of filled) f.setError(null);
      fingerprint.recheck();
      lock(true, !!j.token);
    } catch (e) {
      info.input.setCustomValidity(e.message);
      info.setError(e.message);
      lock(false);
    }
  });

  let upid = null;
  return formDialog({
    title: 'Join a cluster',
    intro: 'This node becomes a member of an existing cluster; it must have no guests. When it has joined, it restarts into cluster mode and takes over the cluster\'s users.',
    fields: [info, hostname, fingerprint, password, ...more],
    body: h('div', { class: 'form-grid' }, info.el, hostname.el, password.el, fingerprint.el, ...more.map((f) => f.el)),
    submitLabel: 'Join',
    onSubmit: async () => {
      const body = { hostname: hostname.get(), fingerprint: fingerprint.get(), password: password.input.value };
      upid = await api('/cluster/config/join', { method: 'POST', body: optionals(more, body) });
    },
  }).then((done) => (done ? { upid, hostname: hostname.get() } : null));
}

/** A read-only value with a Copy button; copying reports in `status`. */
function copyable(label, value, status, { rows = 0, action } = {}) {
  const id = nextId('join');
  const input = rows
    ? h('textarea', { id, rows, readonly: true, spellcheck: 'false', class: 'join-blob' })
    : h('input', { id, type: 'text', readonly: true, spellcheck: 'false' });
  input.value = value;
  const copy = h('button', { type: 'button', class: 'btn', 'aria-label': `Copy ${label.toLowerCase()}`, dataset: action ? { copy: action } : null },
    icon('copy'), 'Copy');
  copy.addEventListener('click', async () => {
    setText(status, (await copyValue(input)) ? `${label} copied.` : 'Copy it by hand: it is selected.');
  });
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'secret-row' }, input, copy));
}

/** The join information of this cluster (GET /cluster/config/join), and join tokens on request. */
export function joinInfoDialog() {
  const ctl = new AbortController();
  const err = dialogError();
  const status = h('span', { class: 'dialog-status muted', 'aria-live': 'polite' });
  const content = h('div', { class: 'join-info' }, h('p', { class: 'muted' }, 'Loading…'));
  const done = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Done');
  const m = modal({
    title: 'Cluster join information', className: 'join-dialog',
    body: [err.el, content], foot: [status, h('span', { class: 'spacer' }), done],
    onSubmit: () => m.close(),
    onClose: () => ctl.abort(),
  });
  done.focus();

  (async () => {
    let j;
    try {
      j = await api('/cluster/config/join', { signal: ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      content.replaceChildren();
      err.set(`Could not load the join information: ${errorText(e)}`);
      return;
    }
    const members = Array.isArray(j && j.nodelist) ? j.nodelist : [];
    const node = members.find((n) => n && n.name === j.preferred_node) || members[0];
    if (!node || !node.pve_addr || !node.pve_fp) {
      content.replaceChildren();
      err.set('The cluster sent no address or no certificate fingerprint for this node.');
      return;
    }
    const link = node.ring0_addr || node.pve_addr;
    const info = { ipAddress: node.pve_addr, fingerprint: node.pve_fp, peerLinks: { 0: link }, ring_addr: [link], totem: j.totem || {} };

    const ttl = field({ label: 'Valid for', name: 'ttl', type: 'select', options: TOKEN_TTLS, value: 3600 });
    const make = h('button', { type: 'button', class: 'btn', dataset: { action: 'join-token' } }, icon('key'), 'Create join token');
    const tokenOut = h('div', { class: 'join-token-out' });
    make.addEventListener('click', async () => {
      make.disabled = true;
      err.set(null);
      try {
        const t = await api('/cluster/config/join-token', { method: 'POST', body: { ttl: ttl.get() }, signal: ctl.signal });
        if (!t || typeof t.token !== 'string') throw new Error('The server sent no token.');
        tokenOut.replaceChildren(
          copyable('Join token', t.token, status, { action: 'token' }),
          copyable('Join information with token', encodeJoinInfo({ ...info, token: t.token }), status, { rows: 4, action: 'token-info' }),
          h('p', { class: 'field-hint' }, `Works for one join, until ${formatTimestamp(t.expires)}.`));
      } catch (e) {
        if (e.name !== 'AbortError') err.set(`Could not create a join token: ${errorText(e)}`);
      } finally {
        make.disabled = false;
      }
    });

    const tokenTitle = nextId('join-token');
    content.replaceChildren(
      h('p', { class: 'dialog-intro muted' }, 'Paste the join information into Datacenter → Cluster → Join Cluster on the node that is to join. It holds no secret: that node also needs the root password, or a join token.'),
      copyable('IP address', node.pve_addr, status, { action: 'address' }),
      copyable('Fingerprint', node.pve_fp, status, { action: 'fingerprint' }),
      copyable('Join information', encodeJoinInfo(info), status, { rows: 4, action: 'info' }),
      h('section', { class: 'join-token', 'aria-labelledby': tokenTitle },
        h('h3', { id: tokenTitle }, 'Join token'),
        h('p', { class: 'muted small' }, 'A join token takes the place of the root password: it works for one join, and only until it expires.'),
        h('div', { class: 'join-token-make' }, ttl.el, make),
        tokenOut));
  })();
}
