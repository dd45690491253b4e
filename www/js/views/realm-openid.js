// The Add and Edit dialog of an OpenID Connect realm (type openid), opened by realm-dialog.js, which
// makes the fields every realm has (name, type, comment, default) and hands them in.
//
// General: the provider (issuer URL, client ID and key), which claim names the user, whether users are
// made at their first login. Advanced: what is asked of the provider (scopes, prompt, ACR values, the
// userinfo call) and the groups claim. The client key is stored in domains.cfg as PVE stores it, so
// the server shows it back; Edit treats it as any other option. The username claim is fixed once the
// realm exists (the user IDs are made from it): Edit shows it read only and never sends it.
// Edit sends what changed (an emptied option goes into `delete`) with the digest.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { dialogTabs, formDialog, onTab } from '../dialog.js';
import { editBody, field } from '../form.js';
import { text } from './firewall-parts.js';

const isSet = (v) => Number(v) === 1 || v === true;
/** A boolean option whose default is on: '' while it was never set and stays on, else '1' / '0'. */
const onByDefault = (f, stored) => (f.get() ? (isSet(stored) ? '1' : '') : '0');

/**
 * The dialog. entry: the realm as GET /access/domains/{realm} has it (null when adding); common: {realm,
 * typeField, comment, dflt} from realm-dialog.js; saved(id) runs after an Add.
 */
export function openidRealmDialog(entry, { realm, typeField, comment, dflt }, saved) {
  const editing = !!entry;
  const e = entry || {};
  const issuer = field({ label: 'Issuer URL', name: 'issuer-url', required: true, value: text(e['issuer-url']), wide: true,
    placeholder: 'https://login.example.com/realms/corral',
    hint: 'The provider\'s issuer: its discovery document is at <issuer>/.well-known/openid-configuration.' });
  const clientId = field({ label: 'Client ID', name: 'client-id', required: true, value: text(e['client-id']),
    hint: `As the provider knows this console; register ${location.origin} there as its redirect URI.` });
  const clientKey = field({ label: 'Client key', name: 'client-key', type: 'password', autocomplete: 'new-password',
    value: text(e['client-key']), hint: 'The client secret. Empty: a public client.' });
  const claim = field({ label: 'Username claim', name: 'username-claim', value: text(e['username-claim']),
    placeholder: 'sub', list: ['sub', 'preferred_username', 'email'],
    hint: editing ? 'Fixed when the realm was made: the user IDs are made from it.'
      : 'The claim users are named by (<value>@realm). Empty: sub. It cannot be changed later.' });
  if (editing) claim.input.readOnly = true;
  const autocreate = field({ label: 'Create users at their first login', name: 'autocreate', type: 'checkbox',
    value: isSet(e.autocreate), hint: 'Off: only users that exist already (…@realm) may log in.' });

  const scopes = field({ label: 'Scopes', name: 'scopes', value: text(e.scopes), placeholder: 'email profile',
    hint: 'Empty: email profile. openid is always asked for.' });
  const prompt = field({ label: 'Prompt', name: 'prompt', value: text(e.prompt), list: ['none', 'login', 'consent', 'select_account'],
    hint: 'Sent to the provider as prompt. Empty: the provider decides.' });
  const acr = field({ label: 'ACR values', name: 'acr-values', value: text(e['acr-values']),
    hint: 'Authentication context classes to ask for, separated by spaces.' });
  const userinfo = field({ label: 'Query the userinfo endpoint', name: 'query-userinfo', type: 'checkbox',
    value: text(e['query-userinfo']) === '' || isSet(e['query-userinfo']),
    hint: 'Its claims fill in what the ID token lacks.' });
  const groupsClaim = field({ label: 'Groups claim', name: 'groups-claim', value: text(e['groups-claim']),
    pattern: '[A-Za-z0-9.\\-_]+', hint: 'A claim listing the user\'s groups: each becomes <group>-<realm>. Empty: groups are left alone.' });
  const groupsCreate = field({ label: 'Create missing groups', name: 'groups-autocreate', type: 'checkbox',
    value: isSet(e['groups-autocreate']) });
  const groupsOverwrite = field({ label: 'Overwrite groups at each login', name: 'groups-overwrite', type: 'checkbox',
    value: isSet(e['groups-overwrite']), hint: 'The user first leaves every group, then joins the claimed ones.' });

  /** The options as the dialog has them (the username claim only when adding): name → text, '' for "not set". */
  function wanted() {
    const out = {};
    for (const f of [issuer, clientId, clientKey, scopes, prompt, acr, groupsClaim, comment]) out[f.name] = f.get();
    if (!editing) out['username-claim'] = claim.get();
    for (const f of [autocreate, groupsCreate, groupsOverwrite, dflt]) out[f.name] = f.get() ? '1' : '';
    out['query-userinfo'] = onByDefault(userinfo, e['query-userinfo']);
    return out;
  }
  const before = wanted();

  const general = [issuer, clientId, clientKey, claim, autocreate, comment, dflt];
  const advanced = [scopes, prompt, acr, userinfo, groupsClaim, groupsCreate, groupsOverwrite];
  const tabs = dialogTabs([
    { key: 'general', label: 'General', body: h('div', { class: 'form-grid', dataset: { type: 'openid' } },
      realm.el, typeField.el, general.map((f) => f.el)) },
    { key: 'advanced', label: 'Advanced', body: h('div', { class: 'form-grid' }, advanced.map((f) => f.el)) },
  ]);
  for (const f of [realm, typeField, ...general]) onTab(tabs, 0, f);
  for (const f of advanced) onTab(tabs, 1, f);

  return formDialog({
    title: editing ? `Edit realm ${e.realm}` : 'Add realm: OpenID Connect server',
    className: 'realm-dialog dialog-wide',
    fields: editing ? [...general, ...advanced, realm, typeField] : [realm, typeField, ...general, ...advanced],
    body: h('div', { class: 'tabbed-form' }, tabs.el),
    submitLabel: editing ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = wanted();
      if (!editing) {
        const body = { realm: realm.get(), type: 'openid' };
        for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
        await api('/access/domains', { method: 'POST', body });
        saved(realm.get());
        return;
      }
      const body = editBody(before, want);
      if (!Object.keys(body).length) return;
      if (e.digest) body.digest = e.digest;
      await api(`/access/domains/${seg(e.realm)}`, { method: 'PUT', body });
    },
  });
}
