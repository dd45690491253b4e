// The Add and Edit dialog of Datacenter → Realms (POST /access/domains, PUT /access/domains/{realm}).
// An LDAP or Active Directory realm has two tabs: General (servers, connection, bind account, login
// behaviour) and Sync Options (what Sync reads from the directory, and the defaults the Sync dialog
// starts with). pam and pve take a comment and the default mark only. An OpenID Connect realm has a
// dialog of its own (realm-openid.js), given the fields every realm has.
//
// Edit sends what changed against the dialog as it first showed the realm: an emptied option goes
// into `delete`, the digest goes along. The bind password is write-only: the server never shows it, so
// its field starts empty ("unchanged") and is sent only when something was typed; a checkbox removes
// it (`delete=password`). Two options are property strings: sync_attributes ("email=mail,…") is edited
// as one field per user property, sync-defaults-options ("enable-new=1,remove-vanished=acl;entry,
// scope=both") as a scope, a checkbox and three more; keys the dialog does not know stay as stored.

import { api, seg } from '../api.js';
import { h } from '../dom.js';
import { dialogTabs, formDialog, onTab } from '../dialog.js';
import { editBody, field } from '../form.js';
import { formatPropString, parsePropString } from '../propstring.js';
import { checkList } from './access-common.js';
import { text } from './firewall-parts.js';
import { openidRealmDialog } from './realm-openid.js';

/** PVE's realm names (pve-realm). */
const REALM_PATTERN = '[A-Za-z][A-Za-z0-9.\\-_]+';

/**
 * The realm types, as the list and the Add menu name them: `add` ones can be added (and are edited in
 * full), `directory` ones can sync.
 */
export const REALM_TYPES = {
  pam: { label: 'Linux PAM', directory: false },
  pve: { label: 'Corral authentication server', directory: false },
  ldap: { label: 'LDAP server', directory: true, add: true },
  ad: { label: 'Active Directory server', directory: true, add: true },
  openid: { label: 'OpenID Connect server', directory: false, add: true },
};
export const realmTypeLabel = (type) => REALM_TYPES[type]?.label || text(type) || '–';
export const isDirectory = (type) => !!REALM_TYPES[type]?.directory;

const MODES = [['ldap', 'LDAP'], ['ldap+starttls', 'LDAP with STARTTLS'], ['ldaps', 'LDAPS']];
/** The user properties Sync fills from directory attributes (sync_attributes, PVE's names), with the usual attribute. */
const SYNC_ATTRIBUTES = [['email', 'E-mail attribute', 'mail'], ['firstname', 'First name attribute', 'givenName'],
  ['lastname', 'Last name attribute', 'sn']];
export const VANISHED = [['acl', 'ACL'], ['entry', 'Entry'], ['properties', 'Properties']];
export const VANISHED_HINT = 'What happens to users and groups the directory no longer has: ACL removes their permissions, '
  + 'Entry removes them, Properties also clears what the directory does not set on the ones that stay.';
export const SCOPES = [['users', 'Users'], ['groups', 'Groups'], ['both', 'Users and groups']];

const isSet = (v) => Number(v) === 1 || v === true;
const sortedKeys = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));

/** "acl;entry" (or "none") → ['acl', 'entry']. */
export const vanishedList = (v) => String(v || '').split(/[;,\s]+/).filter((x) => VANISHED.some(([k]) => k === x));

/** Add a realm of `type` (ldap, ad or openid). Resolves to its name, or null when cancelled. */
export async function addRealmDialog(type) {
  let added = null;
  const done = await realmDialog(type, null, (id) => { added = id; });
  return done ? added : null;
}

/** Edit realm `id` as the server has it now. Resolves to true when saved; rejects when it cannot be read. */
export async function editRealmDialog(id) {
  const entry = await api(`/access/domains/${seg(id)}`);
  return realmDialog(text(entry?.type), { ...entry, realm: id }, () => {});
}

function realmDialog(type, entry, saved) {
  const editing = !!entry;
  const e = entry || {};
  const directory = isDirectory(type);

  const realm = field({ label: 'Realm', name: 'realm', required: true, pattern: REALM_PATTERN, value: e.realm,
    hint: editing ? null : 'A letter, then letters, digits, ".", "-" or "_"; users log in as name@realm. It cannot be changed later.' });
  realm.input.maxLength = 32;
  if (editing) realm.input.readOnly = true;
  const typeField = field({ label: 'Type', name: 'type', value: realmTypeLabel(type) });
  typeField.input.readOnly = true;
  const comment = field({ label: 'Comment', name: 'comment', value: text(e.comment), wide: true,
    hint: 'The login form shows it beside the realm.' });
  const dflt = field({ label: 'Default realm', name: 'default', type: 'checkbox', value: isSet(e.default),
    hint: 'Preselected on the login form (there is one default realm).' });

  if (type === 'openid') return openidRealmDialog(entry, { realm, typeField, comment, dflt }, saved);
  if (!directory) {
    const fields = [comment, dflt];
    const wanted = () => ({ comment: comment.get(), default: dflt.get() ? '1' : '' });
    const before = wanted();
    return formDialog({
      title: `Edit realm ${e.realm}`,
      className: 'realm-dialog',
      intro: REALM_TYPES[type] ? null : `This console does not know realms of type ${type}; only the comment and the default mark can be changed here.`,
      fields: [...fields, realm, typeField],
      body: h('div', { class: 'form-grid', dataset: { type } }, realm.el, typeField.el, fields.map((f) => f.el)),
      submitLabel: 'Save',
      onSubmit: async () => {
        const body = editBody(before, wanted());
        if (!Object.keys(body).length) return;
        if (e.digest) body.digest = e.digest;
        await api(`/access/domains/${seg(e.realm)}`, { method: 'PUT', body });
      },
    });
  }

  const ad = type === 'ad';
  // General
  const domain = ad ? field({ label: 'Domain', name: 'domain', required: true, value: text(e.domain), placeholder: 'example.com', wide: true,
    hint: 'The AD domain: users bind as name@domain.' }) : null;
  const server1 = field({ label: 'Server', name: 'server1', required: true, value: text(e.server1), hint: 'Host name or IP address.' });
  const server2 = field({ label: 'Fallback server', name: 'server2', value: text(e.server2), hint: 'Asked when the first does not answer.' });
  const storedMode = text(e.mode) || (isSet(e.secure) ? 'ldaps' : '');
  const mode = field({ label: 'Mode', name: 'mode', type: 'select', options: MODES, value: storedMode || 'ldap' });
  const port = field({ label: 'Port', name: 'port', type: 'number', min: 1, max: 65535, step: 1, inputmode: 'numeric', value: text(e.port) });
  const verify = field({ label: 'Verify the server\'s certificate', name: 'verify', type: 'checkbox', value: isSet(e.verify),
    hint: 'Against the system\'s CAs, or the ones at the CA path.' });
  const capath = field({ label: 'CA path', name: 'capath', value: text(e.capath), placeholder: '/etc/ssl/certs', wide: true,
    hint: 'A CA certificate file, or a directory of hashed ones, on every node.' });
  const baseDn = field({ label: 'Base DN', name: 'base_dn', required: !ad, value: text(e.base_dn),
    placeholder: 'dc=example,dc=com', hint: ad ? 'Where users are searched. Empty: the directory\'s default naming context.' : 'Where users are searched.' });
  const userAttr = field({ label: 'User attribute', name: 'user_attr', required: !ad, value: text(e.user_attr),
    placeholder: ad ? 'sAMAccountName' : 'uid', hint: 'The attribute that holds the login name.' });
  const bindDn = field({ label: 'Bind DN', name: 'bind_dn', value: text(e.bind_dn),
    placeholder: ad ? 'reader@example.com' : 'cn=reader,dc=example,dc=com', hint: 'The account searches and Sync run as. Empty: anonymous.' });
  const password = field({ label: 'Bind password', name: 'password', type: 'password', autocomplete: 'new-password',
    placeholder: editing ? 'unchanged' : null,
    hint: editing ? 'Empty: unchanged. Kept apart from the configuration, never shown.' : 'Kept apart from the configuration, never shown.' });
  const forget = editing ? field({ label: 'Remove the stored bind password', name: 'forget-password', type: 'checkbox' }) : null;
  const caseSensitive = field({ label: 'Case-sensitive user names', name: 'case-sensitive', type: 'checkbox',
    value: text(e['case-sensitive']) === '' || isSet(e['case-sensitive']),
    hint: 'Off: a login in another spelling is the stored user\'s (for directories that ignore case, as AD does).' });
  const check = field({ label: 'Check the connection before saving', name: 'check-connection', type: 'checkbox', value: !editing,
    hint: 'The server must answer and take the bind DN\'s password.' });

  // Sync options
  const attrs = parsePropString(text(e.sync_attributes));
  // Unmapped, a property is read from an attribute of its own name (which directories seldom have).
  const attrFields = SYNC_ATTRIBUTES.map(([k, label, usual]) => field({ label, name: 'sync_attributes', sub: k,
    value: text(attrs[k]), placeholder: k, hint: `Usually ${usual}.` }));
  const userClasses = field({ label: 'User classes', name: 'user_classes', value: text(e.user_classes),
    placeholder: 'inetorgperson, posixaccount, person, user' });
  const filter = field({ label: 'User filter', name: 'filter', value: text(e.filter), wide: true,
    hint: 'An LDAP filter users must also match, e.g. (memberOf=cn=pve,ou=groups,dc=example,dc=com).' });
  const groupDn = field({ label: 'Groups DN', name: 'group_dn', value: text(e.group_dn), wide: true,
    hint: 'Where groups are searched. Empty: the base DN.' });
  const groupFilter = field({ label: 'Group filter', name: 'group_filter', value: text(e.group_filter), wide: true,
    hint: 'An LDAP filter groups must also match.' });
  const groupClasses = field({ label: 'Group classes', name: 'group_classes', value: text(e.group_classes),
    placeholder: 'groupOfNames, group, univentionGroup, ipausergroup' });
  const groupNameAttr = field({ label: 'Group name attribute', name: 'group_name_attr', value: text(e.group_name_attr),
    hint: 'Empty: the first part of the group\'s DN. Synced groups are named <name>-<realm>.' });
  const defaults = parsePropString(text(e['sync-defaults-options']));
  const scope = field({ label: 'Scope', name: 'sync-defaults-options', sub: 'scope', type: 'select',
    options: [['', 'Not set (chosen at each sync)'], ...SCOPES], value: text(defaults.scope) });
  const enableNew = field({ label: 'Enable new users', name: 'sync-defaults-options', sub: 'enable-new', type: 'checkbox',
    value: text(defaults['enable-new']) === '' || isSet(defaults['enable-new']), hint: 'Off: synced users that are new start disabled.' });
  const vanished = checkList({ label: 'Remove vanished', name: 'sync-defaults-options', options: VANISHED.map(([k]) => k),
    labels: Object.fromEntries(VANISHED), value: vanishedList(defaults['remove-vanished']), hint: VANISHED_HINT });
  vanished.sub = 'remove-vanished';
  // Several inputs feed one parameter: each names its part (for the tests, and for a server error's place).
  for (const f of [...attrFields, scope, enableNew]) f.input.dataset.sub = f.sub;
  vanished.input.dataset.sub = vanished.sub;

  // The TLS options count only over TLS.
  const tls = () => {
    const on = mode.get() !== 'ldap';
    for (const f of [verify, capath]) { f.input.disabled = !on; if (!on) f.setError(null); }
    port.input.placeholder = mode.get() === 'ldaps' ? '636' : '389';
  };
  mode.input.addEventListener('change', tls);
  tls();
  if (forget) {
    forget.input.addEventListener('change', () => {
      password.input.disabled = forget.get();
      if (forget.get()) password.set('');
    });
  }

  /** sync-defaults-options as the dialog has it; keys it does not offer (PVE's deprecated full, purge) stay. */
  function defaultsText() {
    const out = { ...defaults };
    out.scope = scope.get();
    out['enable-new'] = enableNew.get() ? (text(defaults['enable-new']) === '' ? '' : '1') : '0';
    const rv = vanishedList(vanished.get());
    out['remove-vanished'] = rv.length ? rv.join(';') : (text(defaults['remove-vanished']) === '' ? '' : 'none');
    return formatPropString(sortedKeys(out));
  }

  /** The options as the dialog has them: name → value, '' for "not set"; disabled fields are left as stored. */
  function wanted() {
    const out = {};
    const plain = [server1, server2, port, baseDn, userAttr, bindDn, comment, userClasses, filter, groupDn, groupFilter,
      groupClasses, groupNameAttr, ...(domain ? [domain] : [])];
    for (const f of plain) out[f.name] = f.get();
    out.mode = mode.get() === 'ldap' && storedMode === '' ? '' : mode.get();
    if (!verify.input.disabled) out.verify = verify.get() ? '1' : '';
    if (!capath.input.disabled) out.capath = capath.get();
    out.default = dflt.get() ? '1' : '';
    out['case-sensitive'] = caseSensitive.get() ? (isSet(e['case-sensitive']) ? '1' : '') : '0';
    out.sync_attributes = formatPropString({ ...attrs, ...Object.fromEntries(attrFields.map((f) => [f.sub, f.get()])) });
    out['sync-defaults-options'] = defaultsText();
    return out;
  }
  const before = wanted();

  const general = [...(domain ? [domain] : []), server1, server2, mode, port, verify, capath, baseDn, userAttr, bindDn, password,
    ...(forget ? [forget] : []), comment, dflt, caseSensitive, check];
  const searched = [...attrFields, userClasses, filter, groupDn, groupFilter, groupClasses, groupNameAttr];
  const sync = [...searched, scope, enableNew, vanished];
  const tabs = dialogTabs([
    { key: 'general', label: 'General', body: h('div', { class: 'form-grid', dataset: { type } }, realm.el, typeField.el, general.map((f) => f.el)) },
    { key: 'sync', label: 'Sync Options', body: [
      h('p', { class: 'dialog-intro muted' }, 'What Sync reads from the directory. An empty field means the greyed-out default.'),
      h('div', { class: 'form-grid' }, searched.map((f) => f.el)),
      h('fieldset', { class: 'check-fieldset realm-sync-defaults' }, h('legend', null, 'Sync defaults'),
        h('p', { class: 'field-hint' }, 'What a sync uses when it is not told otherwise; the Sync dialog starts with them.'),
        h('div', { class: 'form-grid' }, scope.el, enableNew.el, vanished.el)),
    ] },
  ]);
  for (const f of [realm, typeField, ...general]) onTab(tabs, 0, f);
  for (const f of sync) onTab(tabs, 1, f);

  const fields = editing ? [...general, ...sync, realm, typeField] : [realm, typeField, ...general, ...sync];
  return formDialog({
    title: editing ? `Edit realm ${e.realm}` : `Add realm: ${realmTypeLabel(type)}`,
    className: 'realm-dialog dialog-wide',
    fields,
    body: h('div', { class: 'tabbed-form' }, tabs.el),
    submitLabel: editing ? 'Save' : 'Add',
    onSubmit: async () => {
      const want = wanted();
      const secret = password.input.disabled ? '' : password.input.value;
      const probe = check.get() ? { 'check-connection': 1 } : {};
      if (!editing) {
        const body = { realm: realm.get(), type };
        for (const [k, v] of Object.entries(want)) if (v !== '') body[k] = v;
        if (secret) body.password = secret;
        await api('/access/domains', { method: 'POST', body: { ...body, ...probe } });
        saved(realm.get());
        return;
      }
      const body = editBody(before, want);
      if (secret) body.password = secret;
      if (forget?.get()) body.delete = body.delete ? `${body.delete},password` : 'password';
      if (!Object.keys(body).length && !check.get()) return;
      if (e.digest) body.digest = e.digest;
      await api(`/access/domains/${seg(e.realm)}`, { method: 'PUT', body: { ...body, ...probe } });
    },
  });
}
