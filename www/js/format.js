// Formatting helpers shared by all views. Pure functions, no DOM.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 → "1.50 KiB". Binary units, like PVE. */
export function formatBytes(n) {
  if (n === undefined || n === null || !Number.isFinite(Number(n))) return '–';
  let v = Math.max(0, Number(n));
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  if (i === 0) return `${Math.round(v)} B`;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[i]}`;
}

const pad2 = (n) => String(n).padStart(2, '0');

/** Seconds → "3 days 04:05:06", "1 day 00:00:07" or "04:05:06". */
export function formatDuration(sec) {
  if (sec === undefined || sec === null || !Number.isFinite(Number(sec))) return '–';
  let s = Math.max(0, Math.floor(Number(sec)));
  const days = Math.floor(s / 86400); s %= 86400;
  const hms = `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
  if (!days) return hms;
  return `${days} ${days === 1 ? 'day' : 'days'} ${hms}`;
}

/** Short duration for task run times: "4s", "2m 05s", "1h 02m". */
export function formatShortDuration(sec) {
  if (!Number.isFinite(Number(sec))) return '–';
  const s = Math.max(0, Math.round(Number(sec)));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return formatDuration(s);
}

/** Unix epoch seconds → "2024-05-01 13:04:05" in local time (unambiguous, sortable). */
export function formatTimestamp(epoch) {
  if (!epoch || !Number.isFinite(Number(epoch))) return '–';
  const d = new Date(Number(epoch) * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Full date for tooltips, in the user's locale. */
export function formatTimestampLong(epoch) {
  if (!epoch || !Number.isFinite(Number(epoch))) return '';
  return new Date(Number(epoch) * 1000).toLocaleString();
}

/** Fraction 0..1 → "12.34%". */
export function formatPercent(frac, digits = 2) {
  if (frac === undefined || frac === null || !Number.isFinite(Number(frac))) return '–';
  return `${(Number(frac) * 100).toFixed(digits)}%`;
}

/** used/total → fraction clamped to 0..1 (0 when total is unknown). */
export function ratio(used, total) {
  const u = Number(used), t = Number(total);
  if (!Number.isFinite(u) || !Number.isFinite(t) || t <= 0) return 0;
  return Math.min(1, Math.max(0, u / t));
}

/** "45.10% (7.21 GiB of 16.00 GiB)" */
export function formatUsage(used, total) {
  if (!Number.isFinite(Number(total)) || Number(total) <= 0) return '–';
  return `${formatPercent(ratio(used, total))} (${formatBytes(used)} of ${formatBytes(total)})`;
}

// Human task descriptions, after PVE's Proxmox.Utils.task_desc_table.
const TASK_DESC = {
  qmstart: ['VM', 'Start'], qmstop: ['VM', 'Stop'], qmshutdown: ['VM', 'Shutdown'],
  qmreboot: ['VM', 'Reboot'], qmreset: ['VM', 'Reset'], qmsuspend: ['VM', 'Hibernate'],
  qmpause: ['VM', 'Pause'], qmresume: ['VM', 'Resume'], qmcreate: ['VM', 'Create'],
  qmdestroy: ['VM', 'Destroy'], qmclone: ['VM', 'Clone'], qmconfig: ['VM', 'Configure'],
  qmmigrate: ['VM', 'Migrate'], qmsnapshot: ['VM', 'Snapshot'], qmrollback: ['VM', 'Rollback'],
  qmdelsnapshot: ['VM', 'Delete Snapshot'], qmtemplate: ['VM', 'Convert to template'],
  vzstart: ['CT', 'Start'], vzstop: ['CT', 'Stop'], vzshutdown: ['CT', 'Shutdown'],
  vzreboot: ['CT', 'Reboot'], vzcreate: ['CT', 'Create'], vzdestroy: ['CT', 'Destroy'],
  vzsuspend: ['CT', 'Suspend'], vzresume: ['CT', 'Resume'], vzclone: ['CT', 'Clone'],
  vzmigrate: ['CT', 'Migrate'], vzsnapshot: ['CT', 'Snapshot'], vztemplate: ['CT', 'Convert to template'],
  vzdump: ['VM/CT', 'Backup'], qmrestore: ['VM', 'Restore'], vzrestore: ['CT', 'Restore'],
  vncproxy: ['VM/CT', 'Console'], vncshell: ['', 'Shell'], termproxy: ['VM/CT', 'Console (terminal)'],
  spiceproxy: ['VM/CT', 'Console (Spice)'], imgcopy: ['', 'Copy data'], imgdel: ['', 'Erase data'],
  download: ['File', 'Download'], aptupdate: ['', 'Update package database'],
  startall: ['', 'Bulk start VMs and Containers'], stopall: ['', 'Bulk shutdown VMs and Containers'],
  srvstart: ['SRV', 'Start'], srvstop: ['SRV', 'Stop'], srvrestart: ['SRV', 'Restart'],
  srvreload: ['SRV', 'Reload'],
  qmigrate: ['VM', 'Migrate'], migrateall: ['', 'Bulk migrate VMs and Containers'],
  reloadnetworkall: ['', 'Apply SDN configuration'],
  // Corral's deduplicating backup store (storage type dedup); the task's id is the storage.
  dedupgc: ['Storage', 'Garbage collection'], dedupverify: ['Storage', 'Verify'], dedupexport: ['Storage', 'Export backup'],
  'auth-realm-sync': ['Realm', 'Sync'], 'auth-realm-sync-test': ['Realm', 'Sync Preview'],
};

/** Task type + id → "VM 100 - Start". */
export function taskDescription(type, id) {
  const d = TASK_DESC[type];
  if (!d) return id ? `${type} ${id}` : String(type || 'Task');
  const [what, action] = d;
  if (!what) return action;
  return id ? `${what} ${id} - ${action}` : `${what} - ${action}`;
}

/** Classify a finished task's status string: 'ok' | 'warning' | 'error'. */
export function taskStatusKind(status) {
  if (status === undefined || status === null || status === '') return 'running';
  if (status === 'OK') return 'ok';
  if (/^WARNINGS?:/i.test(String(status))) return 'warning';
  return 'error';
}

/** "UPID:node:pid:pstart:starttime:type:id:user:" → fields (hex numbers decoded). */
export function parseUpid(upid) {
  const m = /^UPID:([^:]+):([0-9A-Fa-f]+):([0-9A-Fa-f]+):([0-9A-Fa-f]+):([^:]*):([^:]*):([^:]*):/.exec(String(upid || ''));
  if (!m) return null;
  return {
    node: m[1], pid: parseInt(m[2], 16), pstart: parseInt(m[3], 16),
    starttime: parseInt(m[4], 16), type: m[5], id: m[6], user: m[7],
  };
}
