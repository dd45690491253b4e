// The Add and Edit dialog of a realm-sync job (Datacenter → Realms → Sync jobs; POST and PUT
// /cluster/jobs/realm-sync/{id}): which realm, when (a calendar event whose next runs are previewed with
// GET /cluster/jobs/schedule-analyze as one types), what to sync, what happens to vanished users and
// groups, whether new users start enabled, whether the job runs at all, a comment. The realm and the ID
// cannot change later. Edit sends the schedule always (PVE's update requires it) and of the rest only
// what changed; an emptied comment goes into `delete`.

import { api, ApiError, errorText, seg } from '../api.js';
import { h } from '../dom.js';
import { formDialog } from '../dialog.js';
import { editBody, field } from '../form.js';
import { debounce } from '../poll.js';
import { nextId } from '../ui.js';
import { checkList } from './access-common.js';
import { runTime } from './backup-job-dialog.js';
import { text } from './firewall-parts.js';
import { SCOPES, VANISHED, VANISHED_HINT, vanishedList } from './realm-dialog.js';

/** PVE's job IDs (pve-configid). */
const ID_PATTERN = '[A-Za-z][A-Za-z0-9_\\-]+';
const PRESETS = ['daily', 'sun 01:00', 'mon..fri 06:00', 'hourly', '*/15', '02:30'];
const PREVIEW_RUNS = 3;
const PREVIEW_DELAY_MS = 300;

const isOn = (v, dflt) => (v === undefined || v === null || v === '' ? dflt : Number(v) === 1 || v === true);

/**
 * Add a job (job = null) or edit `job` (GET /cluster/jobs/realm-sync/{id}). `realms`: the ldap/ad realm
 * names offered; `realm`: the one preselected. Resolves to the job's ID when saved, null when cancelled.
 */
export async function realmSyncJobDialog({ job = null, realms = [], realm = '' } = {}) {
  const editing = !!job;
  const j = job || {};
  const ctrl = new AbortController();

  const id = field({ label: 'ID', name: 'id', required: true, pattern: ID_PATTERN, value: j.id, placeholder: 'nightly-ldap',
    hint: editing ? null : 'A letter, then letters, digits, "-" or "_". It cannot be changed later.' });
  id.input.maxLength = 64;
  if (editing) id.input.readOnly = true;
  const offered = [...new Set([...(j.realm ? [j.realm] : []), ...realms])];
  const chosen = j.realm || (offered.includes(realm) ? realm : '');
  const realmField = field({ label: 'Realm', name: 'realm', type: 'select', required: true,
    options: [...(chosen ? [] : [['', offered.length ? 'Choose…' : 'No LDAP or AD realm']]), ...offered], value: chosen,
    hint: editing ? 'A job stays with its realm.' : 'An LDAP or Active Directory realm.' });
  if (editing) realmField.input.disabled = true;
  const schedule = field({ label: 'Schedule', name: 'schedule', required: true, value: j.schedule, list: PRESETS, placeholder: 'daily',
    hint: 'A calendar event: "daily", "sun 01:00", "mon..fri 06:00", "*/15" (every 15 minutes).' });
  const scope = field({ label: 'Scope', name: 'scope', type: 'select', required: true,
    options: [...(j.scope ? [] : [['', 'Choose…']]), ...SCOPES], value: text(j.scope), hint: 'What to bring in from the directory.' });
  const enableNew = field({ label: 'Enable new users', name: 'enable-new', type: 'checkbox', value: isOn(j['enable-new'], true),
    hint: 'Off: new users start disabled.' });
  const vanished = checkList({ label: 'Remove vanished', name: 'remove-vanished', options: VANISHED.map(([k]) => k),
    labels: Object.fromEntries(VANISHED), value: vanishedList(j['remove-vanished']), hint: VANISHED_HINT });
  const enabled = field({ label: 'Enabled', name: 'enabled', type: 'checkbox', value: isOn(j.enabled, true),
    hint: 'Off: the job stays but does not run.' });
  const comment = field({ label: 'Comment', name: 'comment', value: text(j.comment), wide: true });
  comment.input.maxLength = 512;

  // The schedule's next runs, asked for as one types (the latest answer wins).
  const previewLabel = nextId('runs');
  const preview = h('ol', { class: 'schedule-preview', 'aria-live': 'polite', 'aria-labelledby': previewLabel, dataset: { role: 'schedule-preview' } });
  let asking = null;
  async function showRuns() {
    asking?.abort();
    const want = schedule.get();
    if (!want || ctrl.signal.aborted) { preview.replaceChildren(h('li', { class: 'muted' }, '–')); return; }
    const mine = new AbortController();
    asking = mine;
    try {
      const runs = await api('/cluster/jobs/schedule-analyze', { params: { schedule: want, iterations: PREVIEW_RUNS }, signal: mine.signal });
      preview.replaceChildren(...((Array.isArray(runs) && runs.length)
        ? runs.map((r) => h('li', { dataset: { timestamp: r.timestamp }, title: `${r.utc} UTC` }, runTime(r.timestamp)))
        : [h('li', { class: 'muted' }, 'It never runs.')]));
    } catch (e) {
      if (e.name === 'AbortError') return;
      preview.replaceChildren(h('li', { class: 'muted' }, '–'));
      if (e instanceof ApiError && e.errors?.schedule) schedule.setError(String(e.errors.schedule));
      else preview.replaceChildren(h('li', { class: 'muted' }, `Could not check the schedule: ${errorText(e)}`));
    }
  }
  const showRunsSoon = debounce(showRuns, PREVIEW_DELAY_MS);
  schedule.input.addEventListener('input', showRunsSoon);
  schedule.input.addEventListener('change', showRunsSoon); // a pick from the suggestions
  showRuns();

  /** The options as the dialog has them, as text ('' = not set). */
  const wanted = () => ({
    schedule: schedule.get(), scope: scope.get(), 'enable-new': enableNew.get() ? '1' : '0',
    'remove-vanished': vanishedList(vanished.get()).join(';') || 'none', enabled: enabled.get() ? '1' : '0', comment: comment.get(),
  });
  const before = { ...wanted(), schedule: text(j.schedule), scope: text(j.scope), comment: text(j.comment) };

  const fields = [id, realmField, schedule, scope, enableNew, vanished, enabled, comment];
  let saved = null;
  const done = await formDialog({
    title: editing ? `Edit sync job ${j.id}` : 'Add sync job',
    className: 'realm-sync-job-dialog dialog-wide',
    fields,
    body: h('div', { class: 'form-grid' }, id.el, realmField.el, schedule.el,
      h('div', { class: 'field schedule-runs' }, h('p', { class: 'field-label', id: previewLabel }, 'Next runs'), preview),
      scope.el, enableNew.el, vanished.el, enabled.el, comment.el),
    submitLabel: editing ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = wanted();
      const path = `/cluster/jobs/realm-sync/${seg(id.get())}`;
      if (!editing) {
        const body = { realm: realmField.get(), ...want };
        if (!body.comment) delete body.comment;
        await api(path, { method: 'POST', body });
      } else {
        await api(path, { method: 'PUT', body: { ...editBody(before, want), schedule: want.schedule } });
      }
      saved = id.get();
    },
  });
  ctrl.abort();
  asking?.abort();
  return done ? saved : null;
}
