// Node → Updates: the packages apt can upgrade (GET …/apt/update), Refresh
// (POST …/apt/update: a task that reads the package lists again, followed to
// its end), a package's changelog (GET …/apt/changelog?name=…) in a dialog;
// as sub-tabs the APT repositories (node-repositories.js) and the versions of
// the packages Corral relies on (GET …/apt/versions). Nothing is installed here.

import { api, seg } from '../api.js';
import { h, icon } from '../dom.js';
import { errorSlot } from '../ui.js';
import { modal } from '../dialog.js';
import { rowButton } from './access-common.js';
import { mountList, plural } from './list-view.js';
import { mountSubTabs } from './subtabs.js';
import { mountRepositories } from './node-repositories.js';

export const mountNodeUpdates = (panel, route) => mountSubTabs(panel, route, 'Update views', [
  { id: 'packages', label: 'Updates', mount: mountUpdates },
  { id: 'repositories', label: 'Repositories', mount: mountRepositories },
  { id: 'versions', label: 'Package versions', mount: mountVersions },
]);

const byPackage = (a, b) => String(a.Package).localeCompare(String(b.Package));

function mountUpdates(panel, { node }) {
  const base = `/nodes/${seg(node)}/apt`;
  const refreshBtn = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'refresh' }, onclick: refresh }, icon('refresh'), 'Refresh');
  const view = mountList(panel, {
    path: `${base}/update`, what: `updates of ${node}`, caption: `Available updates on node ${node}`,
    columns: ['Package', { label: 'Installed', optional: true }, 'Available', { label: 'Origin', optional: true },
      { label: 'Description', optional: true }, { label: 'Actions', actions: true }],
    empty: 'No updates are available. (Refresh reads the package lists again.)',
    count: (n) => (n ? `${plural(n, 'package')} can be upgraded` : 'The node is up to date'),
    buttons: [refreshBtn],
    className: 'updates-grid',
    rows: (list) => (Array.isArray(list) ? list : []).filter((p) => p && p.Package).sort(byPackage).map((p) => {
      const log = rowButton('Changelog', 'tasks', () => openChangelog(node, p), `Changelog of ${p.Package}`);
      log.dataset.action = 'changelog';
      return h('tr', { dataset: { package: p.Package } },
        h('th', { scope: 'row' }, p.Package),
        h('td', { class: 'optional mono' }, p.OldVersion || '–'),
        h('td', { class: 'mono' }, p.Version || '–'),
        h('td', { class: 'optional' }, p.Origin || '–'),
        h('td', { class: 'optional desc-cell', title: p.Description || '' }, p.Title || p.Description || ''),
        h('td', { class: 'row-actions' }, log));
    }),
  });

  /** POST …/apt/update runs `apt-get update` as a task; the list is read again after it. */
  async function refresh() {
    refreshBtn.disabled = true;
    try {
      await view.feedback.run('Update the package database', () => api(`${base}/update`, { method: 'POST', signal: view.signal }));
    } catch (e) {
      console.debug('apt update:', e);
    } finally {
      refreshBtn.disabled = false;
      if (!view.signal.aborted) view.refresh();
    }
  }
  return view.cleanup;
}

/** The changelog of the version apt would install, as text. */
function openChangelog(node, pkg) {
  const ctrl = new AbortController();
  const err = errorSlot('Could not load the changelog');
  const text = h('pre', { class: 'log changelog', tabindex: 0, 'aria-label': `Changelog of ${pkg.Package}` }, 'Loading…');
  const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Close');
  const m = modal({
    title: `Changelog: ${pkg.Package}${pkg.Version ? ` ${pkg.Version}` : ''}`, className: 'changelog-dialog dialog-wide',
    body: [err.el, text], foot: [h('span', { class: 'spacer' }), close], onClose: () => ctrl.abort(),
  });
  close.addEventListener('click', () => m.close());
  text.focus();
  api(`/nodes/${seg(node)}/apt/changelog`, { params: { name: pkg.Package, version: pkg.Version }, signal: ctrl.signal })
    .then((log) => { text.textContent = typeof log === 'string' && log ? log : 'This package has no changelog.'; })
    .catch((e) => {
      if (e.name === 'AbortError') return;
      text.textContent = '';
      err.set(e);
    });
}

function mountVersions(panel, { node }) {
  return mountList(panel, {
    path: `/nodes/${seg(node)}/apt/versions`, what: `package versions of ${node}`, caption: `Package versions on node ${node}`,
    columns: ['Package', 'Installed', { label: 'State', optional: true }, { label: 'Description', optional: true }],
    empty: 'The node reports no packages.',
    count: (n) => plural(n, 'package'),
    // In the node's order: Corral's own package first, as PVE lists pve-manager first.
    rows: (list) => (Array.isArray(list) ? list : []).filter((p) => p && p.Package).map((p) => h('tr', { dataset: { package: p.Package } },
      h('th', { scope: 'row' }, p.Package),
      h('td', { class: 'mono' }, p.CurrentState && p.CurrentState !== 'Installed' ? 'not installed' : p.OldVersion || p.Version || '–'),
      h('td', { class: 'optional' }, p.CurrentState || '–'),
      h('td', { class: 'optional desc-cell' }, p.Title || p.Description || ''))),
  }).cleanup;
}
