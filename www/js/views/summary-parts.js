// Pieces the node and guest Summary views are both built from: cards, fact
// rows, usage gauges, and the "Updated … · refreshes every N s" bookkeeping
// of a view that polls its status.

import { h, setText } from '../dom.js';
import { meter, nextId, sparkline } from '../ui.js';
import { formatTimestamp } from '../format.js';

/** A card with a heading that labels it. */
export function card(title, ...body) {
  const id = nextId('card');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

/** A definition-list row; returns [element, dd]. */
export function fact(label) {
  const dd = h('dd', null, '–');
  return [h('div', { class: 'fact' }, h('dt', null, label), dd), dd];
}

/** Labelled usage gauge: title + percentage, bar, detail line (+ optional sparkline). */
export function gauge(title, withSpark = false) {
  const id = nextId('g');
  const value = h('span', { class: 'gauge-value' }, '–');
  const detail = h('p', { class: 'gauge-detail' }, '\u00a0');
  const bar = meter(id);
  const spark = withSpark ? sparkline(60) : null;
  const el = h('div', { class: 'gauge' },
    h('div', { class: 'gauge-head' }, h('span', { id, class: 'gauge-title' }, title), value),
    bar.el, detail, spark ? spark.el : null);
  return {
    el,
    /** frac 0..1; text = headline (e.g. "39.04%"); more = detail line. */
    set(frac, text, more = '') {
      bar.update(frac, more ? `${text}, ${more}` : text);
      setText(value, text);
      setText(detail, more || '\u00a0');
      spark?.push(frac);
    },
  };
}

/**
 * The outcome of each refresh of a polling view: fresh() after a good one (the time in
 * `updated`, the error slot cleared, the panel no longer marked stale); stale(e) after a
 * failed one (the error shown, the panel marked stale) — false, with nothing done, for an abort.
 */
export function freshness(panel, err, updated, everyMs) {
  return {
    fresh() {
      setText(updated, `Updated ${formatTimestamp(Date.now() / 1000).slice(11)} · refreshes every ${everyMs / 1000} s`);
      err.set(null);
      panel.classList.remove('is-stale');
    },
    stale(e) {
      if (e.name === 'AbortError') return false;
      err.set(e);
      panel.classList.add('is-stale');
      return true;
    },
  };
}
