// Datacenter → Cluster: whether this node is in a cluster (GET /cluster/status).
// A standalone node offers to create a cluster or to join one; a member shows
// the cluster, its nodes (merged with corosync.conf's nodelist from
// GET /cluster/config/nodes, for votes and link address), the join information
// for new nodes, and a Remove for every other node. Dialogs: cluster-dialogs.js.

import { api, seg } from '../api.js';
import { h, icon, replaceChildren, setText } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { logout } from '../login.js';
import { poll } from '../poll.js';
import { taskFeedback } from '../taskrun.js';
import { errorSlot, nextId } from '../ui.js';
import { accessView, rowButton, toolButton } from './access-common.js';
import { createClusterDialog, joinClusterDialog, joinInfoDialog } from './cluster-dialogs.js';
import { card, fact } from './summary-parts.js';

const REFRESH_MS = 5000;
const RESTART_POLL_MS = 2000;      // while the node restarts into cluster mode
const RESTART_WATCH_MS = 120000;

const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });

const action = (id, label, iconName, fn, primary = false) => {
  const b = toolButton(label, iconName, fn, primary);
  b.dataset.action = id;
  return b;
};

export const mountDcCluster = accessView((panel, signal) => {
  const err = errorSlot('Could not load the cluster status');
  const feedback = taskFeedback({ signal });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const actions = h('div', { class: 'actions' });
  const nextText = h('span');
  const nextStep = h('div', { class: 'notice notice-warn cluster-next', role: 'status', hidden: true }, icon('alert'), nextText);
  const body = h('div', { class: 'cluster-body' });
  panel.append(h('div', { class: 'panel-toolbar' }, count, actions), feedback.el, nextStep, err.el, body);

  let mode = null;   // 'standalone' | 'cluster', once known
  let shown = null;  // the data the body shows, so an unchanged refresh leaves the DOM (and focus) alone

  async function refresh() {
    try {
      const rows = await api('/cluster/status', { signal });
      const status = (Array.isArray(rows) ? rows : []).filter((r) => r && typeof r.type === 'string');
      const cluster = status.find((r) => r.type === 'cluster') || null;
      let config = null;
      if (cluster) {
        // Votes and link addresses only: the table does without them when this fails.
        config = await api('/cluster/config/nodes', { signal }).catch((e) => {
          if (e.name === 'AbortError') throw e;
          console.debug('cluster nodelist:', e.message);
          return null;
        });
      }
      err.set(null);
      render(cluster, status.filter((r) => r.type === 'node' && r.name), Array.isArray(config) ? config : []);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  function render(cluster, members, config) {
    const now = cluster ? 'cluster' : 'standalone';
    if (now !== mode) {
      mode = now;
      replaceChildren(actions, ...(cluster
        ? [action('join-info', 'Join Information', 'key', () => joinInfoDialog(), true)]
        : [action('create', 'Create Cluster', 'plus', create, true), action('join', 'Join Cluster', 'network', join)]),
      toolButton('Reload', 'refresh', () => loop.now()));
    }
    const data = JSON.stringify([cluster, members, config]);
    if (data === shown) return;
    shown = data;
    if (!cluster) {
      const self = members.find((m) => Number(m.local)) || members[0];
      setText(count, 'Standalone node');
      replaceChildren(body, h('section', { class: 'card cluster-standalone', 'aria-label': 'Cluster' },
        h('p', { class: 'cluster-standalone-title' }, icon('server'), 'Standalone node — no cluster defined'),
        h('p', { class: 'muted' }, `${self ? `This node (${self.name})` : 'This node'} is not in a cluster. `
          + 'Create one with this node as its first member, or join an existing cluster with the join information of one of its nodes.')));
      return;
    }
    replaceChildren(body, summary(cluster, members), nodeTable(members, config));
  }

  function summary(cluster, members) {
    const online = members.filter((m) => Number(m.online)).length;
    setText(count, `Cluster ${cluster.name}: ${online} of ${members.length} node${members.length === 1 ? '' : 's'} online`);
    const [nameRow, nameDd] = fact('Cluster name');
    const [verRow, verDd] = fact('Config version');
    const [quorumRow, quorumDd] = fact('Quorate');
    const [nodesRow, nodesDd] = fact('Nodes');
    setText(nameDd, cluster.name || '–');
    setText(verDd, cluster.version ?? '–');
    quorumDd.replaceChildren(Number(cluster.quorate)
      ? h('span', { class: 'status status-ok' }, icon('check'), 'Yes')
      : h('span', { class: 'status status-error' }, icon('alert'), 'No — changes to the configuration wait for quorum'));
    setText(nodesDd, String(cluster.nodes ?? members.length));
    return h('div', { class: 'cards cards-fit cluster-cards' },
      card('Cluster', h('dl', { class: 'facts facts-first' }, nameRow, verRow, quorumRow, nodesRow)));
  }

  function nodeTable(members, config) {
    const conf = new Map(config.filter((n) => n && n.node).map((n) => [n.node, n]));
    const names = [...new Set([...members.map((m) => m.name), ...conf.keys()])].sort(byName);
    const rows = names.map((name) => {
      const m = members.find((x) => x.name === name);
      const c = conf.get(name) || {};
      const local = !!m && Number(m.local) === 1;
      const state = !m ? h('span', { class: 'muted' }, 'not seen')
        : Number(m.online) ? h('span', { class: 'status status-ok' }, h('span', { class: 'dot dot-online', 'aria-hidden': 'true' }), 'online')
          : h('span', { class: 'status status-error' }, h('span', { class: 'dot dot-offline', 'aria-hidden': 'true' }), 'offline');
      return h('tr', { dataset: { node: name } },
        h('th', { scope: 'row' }, name, local ? h('span', { class: 'muted' }, ' (this node)') : null),
        h('td', { class: 'num' }, String(m?.nodeid || c.nodeid || '–')),
        h('td', { class: 'num optional' }, String(c.quorum_votes ?? '–')),
        h('td', null, m?.ip || '–'),
        h('td', { class: 'optional' }, c.ring0_addr || '–'),
        h('td', null, state),
        h('td', { class: 'row-actions' }, local ? null
          : rowButton('Remove', 'trash', () => remove(name), `Remove node ${name} from the cluster`)));
    });
    const id = nextId('cluster-nodes');
    return h('section', { class: 'card card-flush cluster-nodes', 'aria-labelledby': id },
      h('h2', { class: 'card-title', id }, 'Cluster nodes'),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid access-grid' },
          h('thead', null, h('tr', null,
            ['Node', 'ID', { label: 'Votes', optional: true }, 'Address', { label: 'Link 0', optional: true }, 'Status']
              .map((c) => (typeof c === 'string' ? { label: c } : c))
              .map((c) => h('th', { scope: 'col', class: c.optional ? 'optional' : null }, c.label)),
            h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
          h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No nodes.'))))));
  }

  /** Follow an operation in the feedback line; resolves to its status, or null when it failed. */
  async function run(label, fn) {
    try {
      return await feedback.run(label, fn);
    } catch (e) {
      console.debug(`${label} failed:`, e);
      return null;
    } finally {
      if (!signal.aborted) loop.now();
    }
  }

  /** A note about what happens next (above the view), with a button for it. */
  function next(text, button) {
    setText(nextText, text);
    nextStep.querySelector('button')?.remove();
    if (button) nextStep.append(button);
    nextStep.hidden = false;
  }

  /** Ask more often for a while, until the node reports the mode it restarts into. */
  function watchFor(wanted) {
    const until = Date.now() + RESTART_WATCH_MS;
    const fast = poll(async () => {
      await refresh();
      if (mode === wanted || Date.now() > until || signal.aborted) fast.stop();
    }, RESTART_POLL_MS);
    signal.addEventListener('abort', () => fast.stop());
  }

  async function create() {
    const made = await createClusterDialog();
    if (!made) return;
    const status = await run(`Create cluster ${made.name}`, () => made.upid);
    if (status === null) return;
    next('The node restarts into cluster mode now, so the console may not answer for a few seconds. '
      + 'This view follows by itself; if it does not, reload the page.',
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => location.reload() }, icon('refresh'), 'Reload page'));
    watchFor('cluster');
  }

  async function join() {
    const joined = await joinClusterDialog();
    if (!joined) return;
    const relogin = () => h('button', { type: 'button', class: 'btn btn-small', onclick: () => logout() }, icon('user'), 'Log in again');
    // The node may restart before the task's end can be read: say what comes next at once.
    next('When the join is done, this node restarts into cluster mode and its logins are replaced by the cluster\'s: '
      + 'log in again after a few seconds, as a user of the cluster.', relogin());
    const status = await run(`Join the cluster of ${joined.hostname}`, () => joined.upid);
    if (status === null) { nextStep.hidden = true; return; }
    next('This node has joined the cluster and restarts into cluster mode. Its logins are replaced by the cluster\'s: '
      + 'log in again in a few seconds, as a user of the cluster.', relogin());
  }

  async function remove(name) {
    const ok = await confirmDialog({
      title: `Remove node ${name}?`,
      message: `${name} is taken out of the cluster's configuration; a node with guests cannot be. `
        + 'Power it off first: it must not come back into this network with its old configuration.',
      confirmLabel: 'Remove', danger: true, typeToConfirm: name,
    });
    if (ok) await run(`Remove node ${name}`, () => api(`/cluster/config/nodes/${seg(name)}`, { method: 'DELETE', signal }));
  }

  const loop = poll(refresh, REFRESH_MS);
  signal.addEventListener('abort', () => loop.stop());
});
