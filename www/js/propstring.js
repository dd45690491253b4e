// PVE property strings: "local:8,format=qcow2" or "virtio=BC:24:11:00:00:01,bridge=vmbr0".
// Comma-separated key=value pairs; one value may stand bare for the format's
// default key (the volume of a disk, the model of a NIC, …).

/** "a,b=1,c=2" with defaultKey "x" → {x:"a", b:"1", c:"2"} (insertion order kept). */
export function parsePropString(s, defaultKey) {
  const out = {};
  if (s === undefined || s === null || s === '') return out;
  for (const part of String(s).split(',')) {
    if (!part) continue;
    const i = part.indexOf('=');
    if (i < 0) out[defaultKey || part] = defaultKey ? part : '1';
    else out[part.slice(0, i).trim()] = part.slice(i + 1);
  }
  return out;
}

/** The inverse: the default key's value goes first and bare; empty values are left out. */
export function formatPropString(obj, defaultKey) {
  const parts = [];
  if (defaultKey && obj[defaultKey] !== undefined && obj[defaultKey] !== '') parts.push(String(obj[defaultKey]));
  for (const [k, v] of Object.entries(obj)) {
    if (k === defaultKey || v === undefined || v === null || v === '') continue;
    parts.push(`${k}=${v === true ? 1 : v === false ? 0 : v}`);
  }
  return parts.join(',');
}

// NIC models: the model may be written as the key, with the MAC as its value.
export const NIC_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'e1000-82540em', 'e1000-82544gc',
  'e1000-82545em', 'i82551', 'i82557b', 'i82559er', 'ne2k_isa', 'ne2k_pci', 'pcnet'];

/** "virtio=BC:…,bridge=vmbr0" → {model:"virtio", macaddr:"BC:…", bridge:"vmbr0"} */
export function parseNet(s) {
  const raw = parsePropString(s, 'model');
  const out = {};
  for (const [k, v] of Object.entries(raw)) {
    if (NIC_MODELS.includes(k)) { out.model = k; if (v !== '1' && v) out.macaddr = v; }
    else out[k] = v;
  }
  return out;
}

/** {model, macaddr, …} → "virtio=BC:…,bridge=…" (PVE's own way of writing it). */
export function formatNet(net) {
  const { model, macaddr, ...rest } = net;
  const head = macaddr ? `${model}=${macaddr}` : model;
  const tail = formatPropString(rest);
  return tail ? `${head},${tail}` : head;
}

/** "order=scsi0;ide2;net0" → ["scsi0","ide2","net0"]; the legacy "cdn" form yields []. */
export function parseBootOrder(s) {
  const p = parsePropString(s, 'legacy');
  return p.order ? p.order.split(';').filter(Boolean) : [];
}

/** "32G" / "512M" / "1T" → bytes (PVE's size=… in disk strings). */
export function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(String(s || '').trim());
  if (!m) return null;
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()];
  return Number(m[1]) * mult;
}
