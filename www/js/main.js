// Corral web console — entry point. Wires the header, resource tree,
// content area and task panel together; every piece lives in its own module.
// Nothing here talks to the API before login.js reports a valid session.

import { api, errorText } from './api.js';
import { $, setText } from './dom.js';
import { initThemeToggle } from './theme.js';
import { createTree } from './tree.js';
import { createContent } from './content.js';
import { parseRoute, navigate } from './router.js';
import { loadNodes, subscribeNodes } from './nodes.js';
import { initTaskPanel } from './taskpanel.js';
import { startEvents, stopEvents, eventMode } from './events.js';
import { poll, setPollingPaused } from './poll.js';
import { initAuth } from './login.js';
import { loadResources, subscribeResources } from './resources.js';
import { openCreateVm } from './create-vm.js';
import { openCreateCt } from './create-ct.js';

const NODE_REFRESH_MS = 10000;
const LIVE_RELOAD_MS = 60000;
const narrow = window.matchMedia('(max-width: 760px)');

// --- header ----------------------------------------------------------------
initThemeToggle($('#theme-toggle'));

async function showVersion() {
  const el = $('#version');
  try {
    const v = await api('/version');
    // `version`/`release` name the PVE API level served; `corral` is the product's own version
    setText(el, v && v.corral ? `v${v.corral}` : v && v.version ? `API ${v.version}` : '');
    el.title = v ? `Corral ${v.corral ?? '?'}, PVE API ${v.release ?? v.version ?? '?'}, build ${v.repoid ?? '?'}` : '';
  } catch (err) {
    setText(el, 'version unknown');
    el.title = errorText(err);
  }
}

// The skip link must not change the hash (that is the router's).
$('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  $('#content').focus();
});

// --- global notices ------------------------------------------------------------
// (HTTP 401 is handled by login.js, which brings up the login dialog.)
const notice = $('#global-notice');
$('#global-notice-close').addEventListener('click', () => { notice.hidden = true; });

// --- sidebar drawer (phone width) -------------------------------------------
const menuBtn = $('#menu-toggle');
const sidebar = $('#sidebar');
const backdrop = $('#backdrop');

function setDrawer(open, { restoreFocus = true } = {}) {
  document.body.classList.toggle('drawer-open', open);
  menuBtn.setAttribute('aria-expanded', String(open));
  backdrop.hidden = !open;
  if (open) tree.focus();
  else if (restoreFocus && sidebar.contains(document.activeElement)) menuBtn.focus();
}
menuBtn.addEventListener('click', () => setDrawer(!document.body.classList.contains('drawer-open')));
backdrop.addEventListener('click', () => setDrawer(false));
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && document.body.classList.contains('drawer-open') && !document.querySelector('dialog[open]')) {
    setDrawer(false);
  }
});
narrow.addEventListener('change', () => { if (!narrow.matches) setDrawer(false, { restoreFocus: false }); });

// --- tree + content ----------------------------------------------------------
const content = createContent($('#content'));
const tree = createTree({
  root: $('#tree'),
  filterInput: $('#tree-filter'),
  messageEl: $('#tree-message'),
  onSelect(key) {
    if (parseRoute(location.hash).key !== key) navigate(key);
    if (narrow.matches) {
      setDrawer(false, { restoreFocus: false });
      $('#content').focus();
    }
  },
});
subscribeNodes((nodes, error) => tree.setNodes(nodes, error));
// Each resource update leaves two User Timing entries (the latest only): the tree's update
// ("corral:tree-update", the script's work) and until the frame after it ("corral:tree-frame",
// layout and paint too). Tests/Bench/console_bench.py reads them.
subscribeResources((list) => {
  const start = performance.now();
  if (list) tree.setResources(list);
  content.refreshTitle();
  performance.clearMeasures('corral:tree-update');
  performance.measure('corral:tree-update', { start });
  requestAnimationFrame(() => setTimeout(() => {
    performance.clearMeasures('corral:tree-frame');
    performance.measure('corral:tree-frame', { start });
  }, 0));
});

$('#create-vm').addEventListener('click', () => openCreateVm());
$('#create-ct').addEventListener('click', () => openCreateCt());

let active = false; // logged in: views may load data

function route() {
  if (!active) return; // the view mounts (and loads) after login
  const r = parseRoute(location.hash);
  tree.select(r.key);
  content.show(r);
}
window.addEventListener('hashchange', route);

// --- start (after login) -------------------------------------------------------
let started = false;

/** Runs after every login: the first one starts everything, later ones resume it. */
function start() {
  active = true;
  showVersion();
  route(); // (re)mounts the current view, so nothing of a previous session stays on screen
  setPollingPaused(false); // resumed loops refresh at once
  if (!started) {
    started = true;
    poll(() => loadNodes({ maxAge: 1000 }).catch(() => { /* shown in the tree */ }), NODE_REFRESH_MS);
    // while the event stream is live it keeps the list current: a full reload once a minute is the safety net
    poll(() => loadResources({ maxAge: eventMode() === 'live' ? LIVE_RELOAD_MS : 1000 })
      .catch((err) => console.debug('resources:', err)), NODE_REFRESH_MS);
    initTaskPanel({
      panel: $('#taskpanel'),
      toggle: $('#taskpanel-toggle'),
      body: $('#taskpanel-body'),
      summary: $('#taskpanel-summary'),
      modeEl: $('#event-mode'),
    });
  }
  startEvents(); // on a later login the reopened stream triggers a resync of the task panel
}

/** The session ended (logout or expiry): stop loading until the next login. */
function stop() {
  active = false;
  setPollingPaused(true);
  stopEvents();
  notice.hidden = true;
}

initAuth({
  dialog: $('#login-dialog'),
  sessionBox: $('#session'),
  userEl: $('#session-user'),
  logoutBtn: $('#logout'),
  onLogin: start,
  onLogout: stop,
});
