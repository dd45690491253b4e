// Corral web console — entry point. Wires the header, resource tree,
// content area and task panel together; every piece lives in its own module.

import { api, errorText } from './api.js';
import { $, setText } from './dom.js';
import { initThemeToggle } from './theme.js';
import { createTree } from './tree.js';
import { createContent } from './content.js';
import { parseRoute, navigate } from './router.js';
import { loadNodes, subscribeNodes } from './nodes.js';
import { initTaskPanel } from './taskpanel.js';
import { startEvents } from './events.js';
import { poll } from './poll.js';

const NODE_REFRESH_MS = 10000;
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

// --- global notices (e.g. HTTP 401) ----------------------------------------
const notice = $('#global-notice');
window.addEventListener('corral:unauthorized', () => {
  setText($('#global-notice-text'), 'Your session is not authenticated (HTTP 401). Please log in again to continue.');
  notice.hidden = false;
});
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

function route() {
  const r = parseRoute(location.hash);
  tree.select(r.key);
  content.show(r);
}
window.addEventListener('hashchange', route);

// --- start -------------------------------------------------------------------
showVersion();
route();
poll(() => loadNodes({ maxAge: 1000 }).catch(() => { /* shown in the tree */ }), NODE_REFRESH_MS);
initTaskPanel({
  panel: $('#taskpanel'),
  toggle: $('#taskpanel-toggle'),
  body: $('#taskpanel-body'),
  summary: $('#taskpanel-summary'),
  modeEl: $('#event-mode'),
});
startEvents();
