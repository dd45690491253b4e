// A second tab strip inside a tab (a node's System → DNS, Hosts, Time, …; any
// Firewall → Rules, Options, …): each sub-view is mount(panel, route) → cleanup,
// addressed as #node/<node>/<tab>/<sub>, #dc/<tab>/<sub> or #qemu/<vmid>/<tab>/<sub>
// (router.js's `sub`), so a sub-view can be linked and survives a reload. The
// first sub-view is the default.

import { h } from '../dom.js';
import { navigate } from '../router.js';

let focusNext = null; // the sub-tab whose click remounts the panel: it gets the focus back

/**
 * mountSubTabs(panel, route, label, [{id, label, mount}]) → cleanup.
 * label names the strip for assistive tech ("System views").
 */
export function mountSubTabs(panel, route, label, tabs) {
  const current = tabs.find((t) => t.id === route.sub) || tabs[0];
  const go = (id) => {
    if (id === current.id) return;
    focusNext = id;
    navigate(route.key, `${route.tab}/${id}`);
  };
  const buttons = tabs.map((t) => h('button', {
    type: 'button', role: 'tab', class: 'tab', id: `subtab-${t.id}`, 'aria-controls': 'subpanel',
    'aria-selected': String(t === current), tabindex: t === current ? 0 : -1, onclick: () => go(t.id),
  }, t.label));
  const list = h('div', { class: 'tabs subtabs', role: 'tablist', 'aria-label': label }, buttons);
  list.addEventListener('keydown', (ev) => {
    const i = tabs.indexOf(current);
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (j === undefined) return;
    ev.preventDefault();
    go(tabs[(j + tabs.length) % tabs.length].id);
  });
  const body = h('section', { class: 'subpanel', id: 'subpanel', role: 'tabpanel', 'aria-labelledby': `subtab-${current.id}` });
  panel.append(list, body);
  if (focusNext === current.id) buttons[tabs.indexOf(current)].focus({ preventScroll: true });
  focusNext = null;

  let cleanup = null;
  try {
    cleanup = current.mount(body, { ...route, sub: current.id }) || null;
  } catch (err) {
    console.error(err);
    body.append(h('p', { class: 'notice notice-error', role: 'alert' }, `This view failed to load: ${err.message}`));
  }
  return () => { if (cleanup) cleanup(); };
}

