// Cloud-init settings of a VM as PVE's config has them: the SSH keys stored
// URL-encoded, the per-device IP configuration `ipconfigN` ("ip=…,gw=…,ip6=…,gw6=…"),
// and the drive that carries the generated image (a disk whose volume is "…cloudinit").

import { parsePropString } from './propstring.js';
import { DISK_KEY } from './qemu-config.js';

/** Percent-encoding of everything but A-Z a-z 0-9 - . _ ~ (encodeURIComponent also spares ! ' ( ) *). */
export function encodeKeys(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The stored keys as text (a value that is not valid percent-encoding is shown as it is). */
export function decodeKeys(stored) {
  if (!stored) return '';
  try { return decodeURIComponent(String(stored)); } catch { return String(stored); }
}

/** The keys as entered: one per line, blank lines and stray spaces at the ends dropped. */
export const normalizeKeys = (text) => String(text || '').split('\n').map((l) => l.trim()).filter(Boolean).join('\n');

/** "ip=10.0.0.5/24,gw=10.0.0.1,ip6=auto" → {ip, gw, ip6, gw6} ('' for what is not set). */
export function parseIpconfig(s) {
  const p = parsePropString(s);
  return { ip: p.ip || '', gw: p.gw || '', ip6: p.ip6 || '', gw6: p.gw6 || '' };
}

/** The inverse, in PVE's order; '' when nothing is set. Gateways go only with static addresses. */
export function formatIpconfig({ ip = '', gw = '', ip6 = '', gw6 = '' }) {
  const staticV4 = ip && ip !== 'dhcp';
  const staticV6 = ip6 && ip6 !== 'dhcp' && ip6 !== 'auto';
  return [['ip', ip], ['gw', staticV4 ? gw : ''], ['ip6', ip6], ['gw6', staticV6 ? gw6 : '']]
    .filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The mode of an address: '' (none), dhcp, auto (SLAAC, IPv6 only) or static. */
export const ipMode = (v) => (!v ? '' : v === 'dhcp' || v === 'auto' ? v : 'static');

/** The disk key of the cloud-init drive ("ide2"), from the config or its pending additions; null when there is none. */
export function cloudinitDrive(config, pending = new Map()) {
  const isDrive = (k, v) => DISK_KEY.test(k) && /cloudinit/.test(String(v || ''));
  const inConfig = Object.keys(config).find((k) => isDrive(k, config[k]));
  if (inConfig) return inConfig;
  for (const [k, p] of pending) if (isDrive(k, p.pending)) return k;
  return null;
}

/** Where a new cloud-init drive goes: ide2 when free (as PVE puts it), else the first free IDE slot; null when all are taken. */
export function cloudinitSlot(config) {
  if (config.ide2 === undefined) return 'ide2';
  for (let i = 0; i < 4; i++) if (config[`ide${i}`] === undefined) return `ide${i}`;
  return null;
}
