// What the VM's Hardware and Options views share: the configuration as a
// table of three columns (name, value, actions) on a card, and the reload
// that reads the config with its digest and pending changes.

import { h } from '../dom.js';
import { loadConfig } from '../qemu-config.js';

/** The card with the table; `heads` names the first two columns, rows go into `tbody`. */
export function configTable(caption, [nameHead, valueHead], tbody) {
  return h('div', { class: 'card card-flush' }, h('div', { class: 'table-wrap' },
    h('table', { class: 'grid kv-grid' },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, nameHead), h('th', { scope: 'col' }, valueHead),
        h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      tbody)));
}

/**
 * refresh() for a config view: loads the config of `base` (see loadConfig) and hands it to
 * show(state); a failure other than an abort goes to the error slot `err`, a success clears it.
 */
export function configLoader(base, { signal, err }, show) {
  return async function refresh() {
    try {
      show(await loadConfig(base, { signal }));
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  };
}
