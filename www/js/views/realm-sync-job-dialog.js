// The Add and Edit dialog of a realm-sync job (Datacenter → Realms → Sync jobs; POST and PUT
// /cluster/jobs/realm-sync/{id}): which realm, when (a calendar event whose next runs are previewed with
// GET /cluster/jobs/schedule-analyze as one types), what to sync, what happens to vanished users and
// groups, whether new users start enabled, whether the job runs at all, a comment. The realm and the ID
// cannot change later. Edit sends the schedule always (PVE's update requires it) and of the rest only
// what changed; an emptied comment goes into `delete`.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { formDialog } from '../dialog.js';
import { editBody, field } from '../form.js';
import { checkList } from './access-common.js';
import { schedulePreview } from '../schedule-preview.js';
import { text } from './firewall-parts.js';
import { SCOPES, VANISHED, VANISHED_HINT, vanishedList } from './realm-dialog.js';

/** PVE's job IDs (pve-configid). */
const ID_PATTERN = '[A-Za-z][A-Za-z0-9_\\-]+';
const PRESETS = ['daily', 'sun 01:00', 'mon..fri 06:00', 'hourly', '*/15', '02:30'];
const PREVIEW_RUNS = 3;

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

  const runs = schedulePreview(schedule, { runs: PREVIEW_RUNS, signal: ctrl.signal });

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
      runs,
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
  return done ? saved : null;
}
