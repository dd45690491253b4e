// The Add and Edit dialog of Datacenter → Metric Server (POST and PUT /cluster/metrics/server/{id}).
// It shows the options of the server's type only (Graphite or InfluxDB, METRIC_TYPES); options that
// the chosen protocol does not use are greyed out and left as they are. Edit sends what changed — an
// emptied option goes into `delete` — plus server and port, which PVE's update asks for every time.
// InfluxDB's token is write-only: the server never shows it, so the field starts empty and is sent
// only when something was typed into it.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { formDialog } from '../dialog.js';
import { editBody, field } from '../form.js';
import { text } from './firewall-parts.js';

/** PVE's configuration IDs (pve-configid), as the server checks them. */
const ID_PATTERN = '[a-z][a-z0-9_\\-]+';
/** Dot-separated labels of letters, digits and inner hyphens (the server's graphite-path). */
const LABEL = '[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?';
const GRAPHITE_PATH = `${LABEL}(\\.${LABEL})*`;

const isSet = (v) => Number(v) === 1 || v === true;
const overHttp = (proto) => proto === 'http' || proto === 'https';

/*
 * An option: {name, label, kind (text | number | password | select | flagOn), dflt (what the server uses when
 * it is not set: a select shows it, a text field as its placeholder), when(protocol) (the option counts only
 * then; otherwise the field is disabled and its value stays as stored), min, max, pattern, hint, wide}.
 * `protocol` names the option that picks the protocol; `port` is the port a new entry starts with.
 */
export const METRIC_TYPES = {
  graphite: {
    label: 'Graphite',
    port: 2003,
    protocol: 'proto',
    options: [
      { name: 'proto', label: 'Protocol', kind: 'select', dflt: 'udp', options: [['udp', 'UDP'], ['tcp', 'TCP']] },
      { name: 'path', label: 'Path', dflt: 'proxmox', pattern: GRAPHITE_PATH,
        hint: 'The first part of every metric name; labels separated by dots.' },
      { name: 'timeout', label: 'TCP timeout (s)', kind: 'number', min: 0, dflt: '1', when: (p) => p === 'tcp',
        hint: 'How long a TCP connection may take to open.' },
      { name: 'mtu', label: 'MTU', kind: 'number', min: 512, max: 65536, dflt: '1500', when: (p) => p === 'udp',
        hint: 'UDP: the size of the datagrams the metrics are sent in.' },
    ],
  },
  influxdb: {
    label: 'InfluxDB',
    port: 8089,
    protocol: 'influxdbproto',
    options: [
      { name: 'influxdbproto', label: 'Protocol', kind: 'select', dflt: 'udp',
        options: [['udp', 'UDP'], ['http', 'HTTP'], ['https', 'HTTPS']] },
      { name: 'mtu', label: 'MTU', kind: 'number', min: 512, max: 65536, dflt: '1500', when: (p) => p === 'udp',
        hint: 'UDP: the size of the datagrams the metrics are sent in.' },
      { name: 'organization', label: 'Organization', dflt: 'proxmox', when: overHttp },
      { name: 'bucket', label: 'Bucket', dflt: 'proxmox', when: overHttp },
      { name: 'token', label: 'Token', kind: 'password', when: overHttp,
        hint: 'An InfluxDB 2 API token (InfluxDB 1.8: user:password). Kept apart from the configuration, never shown.' },
      { name: 'api-path-prefix', label: 'API path prefix', when: overHttp,
        hint: 'For an InfluxDB behind a reverse proxy under a path.' },
      { name: 'timeout', label: 'Timeout (s)', kind: 'number', min: 0, dflt: '1', when: overHttp,
        hint: 'How long one HTTP request may take.' },
      { name: 'max-body-size', label: 'Max. body size (bytes)', kind: 'number', min: 1, dflt: '25000000', when: overHttp,
        hint: 'Metrics are sent in requests of at most this size.' },
      { name: 'verify-certificate', label: 'Verify the server\'s certificate', kind: 'flagOn', when: (p) => p === 'https' },
    ],
  },
};

/** The field of option `d`, filled from entry `e` ({} when adding). */
function optionField(d, e, editing) {
  const base = { label: d.label, name: d.name, hint: d.hint, wide: d.wide };
  if (d.kind === 'flagOn') return field({ ...base, type: 'checkbox', value: e[d.name] === undefined || isSet(e[d.name]) });
  if (d.kind === 'select') {
    const v = text(e[d.name]) || d.dflt;
    return field({ ...base, type: 'select', value: v, options: d.options.some(([k]) => k === v) ? d.options : [...d.options, [v, v]] });
  }
  if (d.kind === 'password') {
    return field({ ...base, type: 'password', autocomplete: 'new-password', placeholder: editing ? 'unchanged' : null,
      hint: editing ? `Empty: unchanged. ${d.hint}` : d.hint });
  }
  return field({
    ...base, type: d.kind || 'text', min: d.min, max: d.max, step: d.kind === 'number' ? 1 : undefined,
    inputmode: d.kind === 'number' ? 'numeric' : undefined, pattern: d.pattern, placeholder: d.dflt, value: text(e[d.name]),
  });
}

/** The value status.cfg is to get from option `d`'s field: '' for "not set" (the server's default). */
function written(d, f, e) {
  const now = e[d.name];
  if (d.kind === 'select') return f.get() === d.dflt && text(now) === '' ? '' : f.get();
  // On by default: ticked leaves it unset (or as it is), unticked writes 0.
  if (d.kind === 'flagOn') return f.get() ? (text(now) === '' ? '' : isSet(now) ? text(now) : '1') : '0';
  return f.get();
}

/** Add a metric server of `type` (a key of METRIC_TYPES). Resolves to the new ID, or null when cancelled. */
export async function addMetricServerDialog(type) {
  let added = null;
  const done = await serverDialog(type, null, (id) => { added = id; });
  return done ? added : null;
}

/** Edit metric server `id` as the server has it now. Resolves to true when saved; rejects when it cannot be read. */
export async function editMetricServerDialog(id) {
  const entry = await api(`/cluster/metrics/server/${seg(id)}`);
  return serverDialog(text(entry?.type), { ...entry, id }, () => {});
}

function serverDialog(type, entry, saved) {
  const editing = !!entry;
  const e = entry || {};
  const t = METRIC_TYPES[type] || { label: type, port: '', protocol: null, options: [] };

  const id = field({ label: 'ID', name: 'id', required: true, pattern: ID_PATTERN, value: e.id,
    hint: editing ? null : 'A lowercase letter, then lowercase letters, digits, "-" or "_"; it cannot be changed later.' });
  if (editing) id.input.readOnly = true;
  const typeField = field({ label: 'Type', name: 'type', value: t.label });
  typeField.input.readOnly = true;
  const server = field({ label: 'Server', name: 'server', required: true, value: text(e.server), hint: 'Host name or IP address.' });
  const port = field({ label: 'Port', name: 'port', type: 'number', required: true, min: 1, max: 65536, step: 1, inputmode: 'numeric',
    value: editing ? text(e.port) : String(t.port) });
  const options = t.options.map((d) => [d, optionField(d, e, editing)]);
  const enabled = field({ label: 'Enabled', name: 'disable', type: 'checkbox', value: !isSet(e.disable),
    hint: 'A disabled server stays configured, but nothing is sent to it.' });
  const byName = Object.fromEntries(options.map(([d, f]) => [d.name, f]));
  const token = byName.token || null;

  // The options the protocol does not use are disabled: not checked, not sent, left as stored.
  const protocolField = t.protocol ? byName[t.protocol] : null;
  const sync = () => {
    const p = protocolField ? protocolField.get() : null;
    for (const [d, f] of options) {
      if (!d.when) continue;
      f.input.disabled = !d.when(p);
      if (f.input.disabled) f.setError(null);
    }
  };
  protocolField?.input.addEventListener('change', sync);
  sync();

  /** The dialog's options: name → value, '' for "not set"; disabled fields and the token are not among them. */
  function wanted() {
    const out = { server: server.get(), port: port.get(), disable: enabled.get() ? '' : '1' };
    for (const [d, f] of options) if (d.kind !== 'password' && !f.input.disabled) out[d.name] = written(d, f, e);
    return out;
  }
  const stored = () => Object.fromEntries(Object.keys(wanted()).map((k) => [k, k === 'disable' ? (isSet(e.disable) ? '1' : '') : text(e[k])]));
  const secret = () => (token && !token.input.disabled ? token.get() : '');

  const open = [server, port, ...options.map(([, f]) => f), enabled];
  const fields = editing ? [...open, id, typeField] : [id, typeField, ...open];
  return formDialog({
    title: editing ? `Edit metric server ${e.id}` : `Add metric server: ${t.label}`,
    className: 'metric-dialog',
    intro: METRIC_TYPES[type] ? null : `This console does not know metric servers of type ${type}; only server and port can be changed here.`,
    fields,
    body: h('div', { class: 'form-grid', dataset: { type } }, id.el, typeField.el, open.map((f) => f.el)),
    submitLabel: editing ? 'Save' : 'Add',
    onSubmit: async () => {
      if (!editing) {
        const body = { type };
        for (const [k, v] of Object.entries(wanted())) if (v !== '') body[k] = v;
        if (secret()) body.token = secret();
        await api(`/cluster/metrics/server/${seg(id.get())}`, { method: 'POST', body });
        saved(id.get());
        return;
      }
      const body = editBody(stored(), wanted());
      if (secret()) body.token = secret();
      if (!Object.keys(body).length) return;
      // PVE's update takes server and port every time, changed or not.
      Object.assign(body, { server: server.get(), port: port.get() });
      if (e.digest) body.digest = e.digest;
      await api(`/cluster/metrics/server/${seg(e.id)}`, { method: 'PUT', body });
    },
  });
}
