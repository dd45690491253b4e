// Node → Updates → Repositories: the APT sources of the node as
// GET …/apt/repositories reads them ({files: [{path, file-type, repositories}],
// errors, infos, standard-repos}): the files that could not be read, the
// warnings about repositories, the standard repositories and whether they are
// configured, and a table of each file's repositories. Read-only.

import { api, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot } from '../ui.js';
import { card } from './summary-parts.js';
import { listTable, plural } from './list-view.js';

const arrayOf = (v) => (Array.isArray(v) ? v : []);
const joined = (v) => arrayOf(v).join(' ') || (typeof v === 'string' ? v : '');
const enabled = (r) => r.Enabled === true || Number(r.Enabled) === 1;

export function mountRepositories(panel, { node }) {
  const ctrl = new AbortController();
  const err = errorSlot(`Could not load the repositories of ${node}`);
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const body = h('div', { class: 'repo-list' });
  panel.append(
    h('div', { class: 'panel-toolbar' }, count,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', dataset: { action: 'reload' }, onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    err.el, body);

  function notices(data) {
    const out = arrayOf(data.errors).map((e) => h('p', { class: 'notice notice-error' }, icon('alert'), `${e.path}: ${e.error}`));
    for (const i of arrayOf(data.infos).filter((x) => x && x.kind === 'warning')) {
      out.push(h('p', { class: 'notice notice-warn' }, icon('alert'), `${i.path} (repository ${Number(i.index) + 1}): ${i.message}`));
    }
    return out;
  }

  function standard(data) {
    const repos = arrayOf(data['standard-repos']);
    if (!repos.length) return null;
    return card('Standard repositories', h('dl', { class: 'facts facts-first' }, repos.map((r) => h('div', { class: 'fact', dataset: { handle: r.handle } },
      h('dt', null, r.name || r.handle),
      h('dd', null, r.status === undefined || r.status === null ? 'not configured' : r.status ? 'enabled' : 'disabled')))));
  }

  function file(f) {
    const t = listTable(`Repositories in ${f.path}`, ['Enabled', 'Types', 'URIs', 'Suites', 'Components', { label: 'Comment', optional: true }], { className: 'repo-grid' });
    t.fill(arrayOf(f.repositories).map((r, i) => h('tr', { dataset: { index: i }, class: enabled(r) ? null : 'is-disabled' },
      h('td', null, enabled(r) ? 'Yes' : 'No'),
      h('td', null, joined(r.Types)),
      h('td', { class: 'mono' }, joined(r.URIs)),
      h('td', null, joined(r.Suites)),
      h('td', null, joined(r.Components)),
      h('td', { class: 'optional desc-cell' }, (r.Comment || '').trim()))), 'This file holds no repositories.');
    return h('div', { class: 'repo-file', dataset: { path: f.path } },
      h('h3', { class: 'card-title' }, h('code', null, f.path), f['file-type'] ? ` (${f['file-type']} format)` : ''), t.el);
  }

  async function refresh() {
    try {
      const data = (await api(`/nodes/${seg(node)}/apt/repositories`, { signal: ctrl.signal })) || {};
      const files = arrayOf(data.files).filter((f) => f && f.path);
      const repos = files.reduce((n, f) => n + arrayOf(f.repositories).length, 0);
      body.replaceChildren(...notices(data), standard(data) || '', ...files.map(file),
        files.length ? '' : h('p', { class: 'empty' }, 'The node has no APT source files.'));
      setText(count, `${plural(repos, 'repository', 'repositories')} in ${plural(files.length, 'file')}`);
      err.set(null);
    } catch (e) {
      if (e.name === 'AbortError') return;
      err.set(e);
      setText(count, 'Not loaded');
    }
  }

  refresh();
  return () => ctrl.abort();
}
