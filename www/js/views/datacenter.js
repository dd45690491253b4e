// Datacenter → Summary: node counts, cluster-wide CPU and memory, node list.

import { h, icon, setText } from '../dom.js';
import { errorSlot, meter, nextId } from '../ui.js';
import { formatBytes, formatDuration, formatPercent, formatUsage, ratio } from '../format.js';
import { loadNodes, subscribeNodes, isOnline } from '../nodes.js';
import { hashFor } from '../router.js';
import { poll } from '../poll.js';

const REFRESH_MS = 5000;

function statCard(title, ...body) {
  const id = nextId('card');
  return { id, el: h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body) };
}

export function mountDatacenterSummary(panel) {
  const err = errorSlot('Could not load the node list');

  const nodeCount = h('p', { class: 'big-number' }, '–');
  const nodeSub = h('p', { class: 'muted' }, '');
  const nodesCard = statCard('Nodes', nodeCount, nodeSub);

  const health = h('p', { class: 'health' }, '–');
  const healthCard = statCard('Health', health);

  const usageCard = (title) => {
    const big = h('p', { class: 'big-number' }, '–');
    const detail = h('p', { class: 'muted' }, '\u00a0');
    const card = statCard(title, big);
    const bar = meter(card.id);
    card.el.append(bar.el, detail);
    return {
      el: card.el,
      set(frac, more) {
        const pct = formatPercent(frac, 1);
        bar.update(frac, `${pct}, ${more}`);
        setText(big, pct);
        setText(detail, more);
      },
    };
  };
  const cpuCard = usageCard('CPU usage');
  const memCard = usageCard('Memory usage');

  const tbody = h('tbody');
  const tableId = nextId('nodes');
  const table = h('section', { class: 'card card-wide', 'aria-labelledby': tableId },
    h('h2', { id: tableId }, 'Nodes'),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid' },
        h('thead', null, h('tr', null, ['Name', 'Status', 'CPU usage', 'Memory usage', 'Uptime']
          .map((c) => h('th', { scope: 'col' }, c)))),
        tbody)));

  panel.append(err.el, h('div', { class: 'cards' },
    nodesCard.el, healthCard.el, cpuCard.el, memCard.el, table));

  function render(nodes) {
    const online = nodes.filter(isOnline);
    const offline = nodes.length - online.length;
    setText(nodeCount, String(nodes.length));
    setText(nodeSub, `${online.length} online${offline ? `, ${offline} offline` : ''}`);

    health.replaceChildren(offline
      ? h('span', { class: 'status status-error' }, icon('alert'), `${offline} node${offline > 1 ? 's' : ''} offline`)
      : nodes.length
        ? h('span', { class: 'status status-ok' }, icon('check'), 'All nodes online')
        : h('span', { class: 'muted' }, 'No nodes'));

    const maxcpu = online.reduce((s, n) => s + (Number(n.maxcpu) || 0), 0);
    const usedcpu = online.reduce((s, n) => s + (Number(n.cpu) || 0) * (Number(n.maxcpu) || 0), 0);
    const cpuFrac = maxcpu ? usedcpu / maxcpu : 0;
    cpuCard.set(cpuFrac, maxcpu ? `of ${maxcpu} CPU${maxcpu === 1 ? '' : 's'} in ${online.length} online node${online.length === 1 ? '' : 's'}` : 'no online nodes');

    const maxmem = online.reduce((s, n) => s + (Number(n.maxmem) || 0), 0);
    const mem = online.reduce((s, n) => s + (Number(n.mem) || 0), 0);
    memCard.set(ratio(mem, maxmem), maxmem ? `${formatBytes(mem)} of ${formatBytes(maxmem)}` : 'no online nodes');

    tbody.replaceChildren(...(nodes.length ? nodes.map((n) => {
      const on = isOnline(n);
      const m = meter(null);
      m.el.setAttribute('aria-label', `${n.node} memory`);
      m.update(ratio(n.mem, n.maxmem), formatUsage(n.mem, n.maxmem));
      return h('tr', null,
        h('th', { scope: 'row' }, h('a', { href: hashFor(`node/${n.node}`), class: 'link' }, icon('server'), n.node)),
        h('td', null, h('span', { class: `dot dot-${on ? 'online' : 'offline'}`, 'aria-hidden': 'true' }), ` ${n.status || 'unknown'}`),
        h('td', { class: 'num' }, on ? `${formatPercent(n.cpu, 1)} of ${n.maxcpu ?? '?'}` : '–'),
        h('td', { class: 'mem-cell' }, on ? [m.el, h('span', { class: 'num' }, `${formatBytes(n.mem)} / ${formatBytes(n.maxmem)}`)] : '–'),
        h('td', { class: 'num nowrap' }, on ? formatDuration(n.uptime) : '–'));
    }) : [h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No nodes.'))]));
  }

  const unsubscribe = subscribeNodes((nodes, error) => {
    err.set(error);
    if (nodes) render(nodes);
  });
  const loop = poll(() => loadNodes({ maxAge: 1000 }).catch(() => { /* shown via subscriber */ }), REFRESH_MS);

  return () => { loop.stop(); unsubscribe(); };
}
