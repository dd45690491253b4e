// The Sync dialog of Datacenter → Realms (POST /access/domains/{realm}/sync): what to sync (scope), what
// happens to users and groups the directory no longer has (remove-vanished: ACL, Entry, Properties) and
// whether new users start enabled, prefilled from the realm's sync-defaults-options. Preview runs the
// sync as a dry run (task auth-realm-sync-test: nothing is written) and Sync for real (auth-realm-sync);
// either way the dialog waits for the task and shows its log lines and a count of what they say. Enter
// runs Preview, the harmless one.

import { api, ApiError, errorText, seg } from '../api.js';
import { h, icon, replaceChildren, setText } from '../dom.js';
import { dialogError, modal } from '../dialog.js';
import { applyErrors, clearErrors, field } from '../form.js';
import { parsePropString } from '../propstring.js';
import { openTaskLog } from '../tasklog.js';
import { waitTask } from '../taskrun.js';
import { parseUpid, taskStatusKind } from '../format.js';
import { checkList } from './access-common.js';
import { text } from './firewall-parts.js';
import { SCOPES, VANISHED, VANISHED_HINT, vanishedList } from './realm-dialog.js';

const PAGE = 1000;

/** Every line of a finished task's log (GET …/tasks/{upid}/log, page by page). */
async function taskLines(upid, signal) {
  const base = `/nodes/${seg(parseUpid(upid).node)}/tasks/${seg(upid)}/log`;
  const lines = [];
  for (;;) {
    const res = await api(base, { params: { start: lines.length, limit: PAGE }, raw: true, signal });
    const page = Array.isArray(res.data) ? res.data : [];
    if (res.total === 0) return lines; // nothing logged ("no content" placeholder)
    lines.push(...page.map((l) => String(l?.t ?? '')));
    if (page.length < PAGE) return lines;
  }
}

/** What the log lines say, counted: "users: 3 to add, 1 to update; groups: 2 to add" (past tense after a sync). */
function summary(lines, dryRun) {
  const verbs = [['adding', 'to add', 'added'], ['updating', 'to update', 'updated'], ['overwriting', 'to overwrite', 'overwritten'],
    ['remove', 'to remove', 'removed']];
  const parts = [];
  for (const what of ['user', 'group']) {
    const counts = verbs.map(([verb, future, past]) => {
      const n = lines.filter((l) => l.startsWith(`${verb} ${what} '`)).length;
      return n ? `${n} ${dryRun ? future : past}` : null;
    }).filter(Boolean);
    if (counts.length) parts.push(`${what}s: ${counts.join(', ')}`);
  }
  return parts.length ? parts.join('; ') : 'no users or groups change';
}

/**
 * Open the Sync dialog of realm `realm` (ldap or ad). onSynced() is told after a sync (not a preview) ended.
 * Rejects when the realm cannot be read.
 */
export async function realmSyncDialog(realm, { onSynced = () => {} } = {}) {
  const entry = await api(`/access/domains/${seg(realm)}`);
  const defaults = parsePropString(text(entry?.['sync-defaults-options']));
  const ctrl = new AbortController();

  const storedScope = SCOPES.some(([k]) => k === defaults.scope) ? defaults.scope : '';
  const scope = field({ label: 'Scope', name: 'scope', type: 'select', required: true,
    options: [...(storedScope ? [] : [['', 'Choose…']]), ...SCOPES], value: storedScope, hint: 'What to bring in from the directory.' });
  const enableNew = field({ label: 'Enable new users', name: 'enable-new', type: 'checkbox',
    value: text(defaults['enable-new']) === '' || Number(defaults['enable-new']) === 1, hint: 'Off: new users start disabled.' });
  const vanished = checkList({ label: 'Remove vanished', name: 'remove-vanished', options: VANISHED.map(([k]) => k),
    labels: Object.fromEntries(VANISHED), value: vanishedList(defaults['remove-vanished']), hint: VANISHED_HINT });
  const fields = [scope, enableNew, vanished];

  const err = dialogError();
  const status = h('p', { class: 'realm-sync-status', 'aria-live': 'polite', dataset: { role: 'sync-status' }, hidden: true });
  const log = h('pre', { class: 'log realm-sync-log', tabindex: 0, 'aria-label': 'Sync log', dataset: { role: 'sync-log' }, hidden: true });
  const close = h('button', { type: 'button', class: 'btn' }, 'Close');
  const preview = h('button', { type: 'submit', class: 'btn', dataset: { action: 'sync-preview' } }, icon('search'), 'Preview');
  const sync = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'sync-run' } }, icon('refresh'), 'Sync');
  const running = h('span', { class: 'dialog-status muted', 'aria-live': 'polite' });

  const m = modal({
    title: `Sync realm ${realm}`,
    className: 'realm-sync-dialog dialog-wide',
    body: [
      h('p', { class: 'dialog-intro muted' }, `Brings the users and groups of ${realm}'s directory into the user configuration `
        + `(groups as <name>-${realm}). Preview shows what would change and writes nothing.`),
      err.el,
      h('div', { class: 'form-grid' }, scope.el, enableNew.el, vanished.el),
      status, log,
    ],
    foot: [running, h('span', { class: 'spacer' }), close, preview, sync],
    onSubmit: () => run(true),
    onClose: () => ctrl.abort(),
  });
  close.addEventListener('click', () => m.close());
  sync.addEventListener('click', () => { if (!m.busy()) run(false); });
  scope.focus();

  function showStatus(kind, message, upid) {
    status.hidden = false;
    status.dataset.kind = kind;
    replaceChildren(status, icon(kind === 'ok' ? 'check' : 'alert'), h('span', null, message),
      upid ? h('button', { type: 'button', class: 'link', onclick: (ev) => openTaskLog({ upid }, ev.currentTarget) }, 'Task log') : null);
  }

  async function run(dryRun) {
    clearErrors(fields);
    err.set(null);
    if (!scope.get()) {
      scope.setError('Choose what to sync.');
      scope.focus();
      return;
    }
    const body = {
      scope: scope.get(), 'enable-new': enableNew.get() ? 1 : 0,
      'remove-vanished': vanishedList(vanished.get()).join(';') || 'none', 'dry-run': dryRun ? 1 : 0,
    };
    const label = dryRun ? 'Preview' : 'Sync';
    const button = dryRun ? preview : sync;
    m.setBusy(true);
    setText(running, `${label} running…`);
    try {
      const upid = await api(`/access/domains/${seg(realm)}/sync`, { method: 'POST', body, signal: ctrl.signal });
      const exit = await waitTask(upid, { signal: ctrl.signal });
      const lines = await taskLines(upid, ctrl.signal);
      log.hidden = false;
      log.textContent = lines.length ? `${lines.join('\n')}\n` : '(the task logged nothing)';
      const kind = taskStatusKind(exit);
      if (kind === 'error') {
        showStatus('error', `${label} failed: ${exit}`, upid);
      } else {
        const said = summary(lines, dryRun);
        showStatus(kind === 'ok' ? 'ok' : 'warning', dryRun ? `Preview — ${said}. Nothing was written.` : `Synced — ${said}.`
          + (kind === 'warning' ? ` (${exit})` : ''), upid);
      }
      if (!dryRun) onSynced();
    } catch (e) {
      if (e.name === 'AbortError') return;
      const { left, first } = e instanceof ApiError && e.errors ? applyErrors(fields, e.errors) : { left: null, first: null };
      if (first) {
        const rest = Object.entries(left).map(([k, v]) => `${k}: ${v}`).join('; ');
        err.set(rest ? `${label} refused — ${rest}` : null);
        first.focus();
      } else {
        err.set(`${label} refused: ${errorText(e)}`);
      }
    } finally {
      if (!ctrl.signal.aborted) {
        m.setBusy(false);
        setText(running, '');
        if (!m.dlg.contains(document.activeElement)) button.focus();
      }
    }
  }
  return m;
}
