// Resource tree: Datacenter → nodes → guests (VMs and containers, from
// /cluster/resources; nodes alone while the server lacks that endpoint).
// Implements the WAI-ARIA tree pattern with a roving tabindex:
//   ↑/↓ move, → expands / goes to first child, ← collapses / goes to parent,
//   Home/End jump, Enter/Space (or a click) open the focused object.
// The search box above the tree filters it by name, VMID or tag.

import { h, icon } from './dom.js';
import { errorText } from './api.js';
import { formatPercent, ratio } from './format.js';
import { guestStatus, splitTags } from './guests.js';

export function createTree({ root, filterInput, messageEl, onSelect }) {
  let data = [];                 // [{key, label, icon, status?, dim?, title?, tags?, search?, children?}]
  let nodes = null;              // last node list
  let guests = [];               // qemu/lxc entries of /cluster/resources
  let selectedKey = 'dc';
  let focusKey = 'dc';
  let filter = '';
  const expanded = new Set(['dc']);
  const seen = new Set();        // node keys met before (see rebuild)
  let rowsByKey = new Map();     // key → <li>
  let visible = [];              // visible items in display order: {item, parentKey}

  function guestItem(g) {
    const type = g.type === 'lxc' ? 'CT' : 'VM';
    const st = guestStatus(g);
    const label = g.name ? `${g.vmid} (${g.name})` : String(g.vmid);
    const tags = splitTags(g.tags);
    const parts = [st.text];
    if (st.kind === 'running' && Number.isFinite(Number(g.cpu))) parts.push(`CPU ${formatPercent(g.cpu, 1)}`);
    if (g.lock) parts.push(`locked (${g.lock})`);
    return {
      key: `${g.type}/${g.vmid}`, label, tags,
      icon: g.type === 'lxc' ? 'container' : Number(g.template) ? 'vm-template' : 'vm',
      status: Number(g.template) ? null : st.kind,
      statusText: Number(g.template) ? 'template' : st.text,
      search: `${label} ${tags.join(' ')}`.toLowerCase(),
      title: `${type} ${label}: ${parts.join(', ')}${tags.length ? ` · tags: ${tags.join(', ')}` : ''}`,
    };
  }

  function nodeItems(nodes) {
    const byNode = new Map();
    for (const g of guests) {
      if (!byNode.has(g.node)) byNode.set(g.node, []);
      byNode.get(g.node).push(g);
    }
    return nodes.map((n) => {
      const online = n.status === 'online';
      const parts = [online ? 'online' : (n.status || 'unknown')];
      if (online && Number.isFinite(n.cpu)) parts.push(`CPU ${formatPercent(n.cpu, 1)}`);
      if (online && n.maxmem) parts.push(`memory ${formatPercent(ratio(n.mem, n.maxmem), 1)}`);
      const kids = (byNode.get(n.node) || []).sort((a, b) => Number(a.vmid) - Number(b.vmid)).map(guestItem);
      return {
        key: `node/${n.node}`, label: n.node, icon: 'server', dim: !online,
        status: online ? 'online' : 'offline', statusText: parts[0], title: `${n.node}: ${parts.join(', ')}`,
        children: kids.length ? kids : undefined,
      };
    });
  }

  // An item matches by itself or through a descendant (so a matching guest keeps its node).
  function matches(item) {
    if (!filter) return true;
    if ((item.search || item.label.toLowerCase()).includes(filter)) return true;
    return !!(item.children && item.children.some(matches));
  }

  // Rows are kept by key between renders (keyed diffing): a row whose look did not change keeps
  // its element, only its selection, tab stop and tooltip are set in place, and the lists are
  // reconciled by moving elements, so a change to one guest touches one row, not a thousand.
  let cache = new Map();         // key → {sig, li, row, ul}

  const labelId = (key) => `tree-label-${key.replace(/[^\w-]/g, '_')}`;

  /** Make `parent`'s children the `wanted` elements, in order, moving as few as possible. */
  function reconcile(parent, wanted) {
    // Stale elements go first, so the kept ones are already in order and only new ones move in.
    const keep = new Set(wanted);
    for (const el of [...parent.children]) if (!keep.has(el)) el.remove();
    const kids = parent.children;
    for (let i = 0; i < wanted.length; i++) if (kids[i] !== wanted[i]) parent.insertBefore(wanted[i], kids[i] || null);
    while (kids.length > wanted.length) kids[kids.length - 1].remove();
  }

  function buildItem(item, level, parentKey, next) {
    const kids = (item.children || []).filter(matches);
    const hasKids = !!(item.children && item.children.length);
    const isOpen = hasKids && (expanded.has(item.key) || !!filter);
    visible.push({ item, parentKey });
    const tags = item.tags || [];
    const sig = [item.label, item.status, item.statusText, item.icon, tags.join(';'), level, hasKids, isOpen].join('\u0000');
    let c = cache.get(item.key);
    if (!c || c.sig !== sig) {
      const id = labelId(item.key);
      const row = h('div', { class: `tree-row${item.dim ? ' is-offline' : ''}`, style: { '--level': level } },
        h('span', { class: 'twisty', 'aria-hidden': 'true' }, hasKids ? icon(isOpen ? 'chevron-down' : 'chevron-right') : null),
        icon(item.icon, { cls: 'tree-icon' }),
        h('span', { id, class: 'tree-label' }, item.label,
          item.statusText || item.status ? h('span', { class: 'sr-only' }, ` (${item.statusText || item.status})`) : null),
        tags.length ? h('span', { class: 'tags', 'aria-hidden': 'true' },
          tags.slice(0, 3).map((t) => h('span', { class: 'tag', style: { '--tag-hue': tagHue(t) } }, t))) : null,
        item.status ? h('span', { class: `dot dot-${item.status}`, 'aria-hidden': 'true' }) : null);
      const li = h('li', {
        role: 'treeitem', 'aria-level': level, 'aria-expanded': hasKids ? String(isOpen) : null,
        'aria-labelledby': id, dataset: { key: item.key }, class: 'tree-item',
      }, row);
      c = { sig, li, row, ul: null };
    }
    next.set(item.key, c);
    const { li, row } = c;
    const selected = String(item.key === selectedKey);
    if (li.getAttribute('aria-selected') !== selected) li.setAttribute('aria-selected', selected);
    const tab = item.key === focusKey ? 0 : -1;
    if (li.tabIndex !== tab) li.tabIndex = tab;
    if (item.title) { if (row.title !== item.title) row.title = item.title; } else row.removeAttribute('title');
    rowsByKey.set(item.key, li);
    if (isOpen && kids.length) {
      if (!c.ul) { c.ul = h('ul', { role: 'group' }); li.append(c.ul); }
      reconcile(c.ul, kids.map((k) => buildItem(k, level + 1, item.key, next)));
    } else if (c.ul) {
      c.ul.remove();
      c.ul = null;
    }
    return li;
  }

  function render() {
    const hadFocus = root.contains(document.activeElement);
    // While the tree is not focused, Tab should land on the selected item.
    if (!hadFocus) focusKey = selectedKey;
    rowsByKey = new Map();
    visible = [];
    const next = new Map();
    reconcile(root, data.map((item) => buildItem(item, 1, null, next)));
    cache = next;
    // Keep the roving tabindex on something visible.
    if (!rowsByKey.has(focusKey)) {
      focusKey = rowsByKey.has(selectedKey) ? selectedKey : (visible[0]?.item.key ?? 'dc');
      rowsByKey.get(focusKey)?.setAttribute('tabindex', '0');
    }
    if (hadFocus) rowsByKey.get(focusKey)?.focus({ preventScroll: true });
  }

  // Open the ancestors of the selected item so it can be seen.
  function revealSelected() {
    if (selectedKey === 'dc') return;
    expanded.add('dc');
    const g = guests.find((x) => `${x.type}/${x.vmid}` === selectedKey);
    if (g && !expanded.has(`node/${g.node}`)) {
      expanded.add(`node/${g.node}`);
      render();
    }
  }

  function focusItem(key) {
    const li = rowsByKey.get(key);
    if (!li) return;
    rowsByKey.get(focusKey)?.setAttribute('tabindex', '-1');
    focusKey = key;
    li.setAttribute('tabindex', '0');
    li.focus();
    li.scrollIntoView({ block: 'nearest' });
  }

  function toggle(key, open) {
    if (open) expanded.add(key); else expanded.delete(key);
    focusKey = key;
    render();
    rowsByKey.get(key)?.focus();
  }

  function choose(key, how) {
    selectedKey = key;
    focusKey = key;
    for (const [k, li] of rowsByKey) li.setAttribute('aria-selected', String(k === key));
    onSelect(key, how);
  }

  root.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const idx = visible.findIndex((v) => v.item.key === focusKey);
    if (idx < 0) return;
    const { item, parentKey } = visible[idx];
    const hasKids = !!(item.children && item.children.length);
    const isOpen = hasKids && (expanded.has(item.key) || !!filter);
    let handled = true;
    switch (ev.key) {
      case 'ArrowDown': if (idx < visible.length - 1) focusItem(visible[idx + 1].item.key); break;
      case 'ArrowUp': if (idx > 0) focusItem(visible[idx - 1].item.key); break;
      case 'Home': focusItem(visible[0].item.key); break;
      case 'End': focusItem(visible[visible.length - 1].item.key); break;
      case 'ArrowRight':
        if (hasKids && !isOpen) toggle(item.key, true);
        else if (isOpen && visible[idx + 1]) focusItem(visible[idx + 1].item.key);
        break;
      case 'ArrowLeft':
        if (isOpen && !filter) toggle(item.key, false);
        else if (parentKey) focusItem(parentKey);
        break;
      case 'Enter': case ' ': choose(item.key, 'keyboard'); break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });

  root.addEventListener('click', (ev) => {
    const li = ev.target.closest('li[role="treeitem"]');
    if (!li) return;
    const key = li.dataset.key;
    if (ev.target.closest('.twisty') && li.hasAttribute('aria-expanded')) {
      toggle(key, li.getAttribute('aria-expanded') !== 'true');
      return;
    }
    focusItem(key);
    choose(key, 'pointer');
  });

  root.addEventListener('dblclick', (ev) => {
    const li = ev.target.closest('li[role="treeitem"][aria-expanded]');
    if (li && !ev.target.closest('.twisty')) toggle(li.dataset.key, li.getAttribute('aria-expanded') !== 'true');
  });

  filterInput.addEventListener('input', () => {
    filter = filterInput.value.trim().toLowerCase();
    render();
    const anyMatch = visible.length > 1 || !filter;
    messageEl.hidden = anyMatch;
    if (!anyMatch) messageEl.textContent = 'Nothing matches.';
  });
  filterInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); focusItem(visible[1]?.item.key ?? visible[0]?.item.key); }
    if (ev.key === 'Escape' && filterInput.value) {
      ev.preventDefault(); ev.stopPropagation();
      filterInput.value = '';
      filterInput.dispatchEvent(new Event('input'));
    }
  });

  // What the rows show, apart from tooltips (those change with every refresh).
  const sig = (list) => (list || []).map((i) =>
    `${i.key}\u0000${i.label}\u0000${i.status}\u0000${i.icon}\u0000${(i.tags || []).join(';')}\u0002${sig(i.children)}`).join('\u0001');

  function rebuild() {
    const items = nodeItems(nodes);
    // Nodes start expanded, so guests are in sight; a node the user collapsed stays so.
    for (const i of items) {
      if (!seen.has(i.key)) { seen.add(i.key); expanded.add(i.key); }
    }
    const same = data.length && sig(data[0].children) === sig(items);
    data = [{ key: 'dc', label: 'Datacenter', icon: 'datacenter', children: items }];
    if (same) {
      // Only the numbers changed: update tooltips in place (no rebuild under the pointer).
      const walk = (list) => list.forEach((i) => {
        rowsByKey.get(i.key)?.querySelector('.tree-row')?.setAttribute('title', i.title);
        if (i.children) walk(i.children);
      });
      walk(items);
    } else {
      render();
    }
  }

  return {
    /** New node list (or null + error when /nodes failed). */
    setNodes(list, error) {
      if (list) {
        nodes = list;
        rebuild();
      } else if (!data.length) {
        data = [{ key: 'dc', label: 'Datacenter', icon: 'datacenter', children: [] }];
        render();
      }
      if (error) {
        messageEl.hidden = false;
        messageEl.textContent = `Could not load nodes: ${errorText(error)}`;
      } else if (!filter || visible.length > 1) {
        messageEl.hidden = true;
      }
    },
    /** New /cluster/resources list: the guests hang under the node each lives on. */
    setResources(list) {
      guests = (list || []).filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.vmid !== undefined && r.node);
      // A node (or a guest's node) that /nodes does not list yet still shows, with the status the list gives.
      if (!nodes) return;
      const known = new Set(nodes.map((n) => n.node));
      const listed = new Map((list || []).filter((r) => r.type === 'node' && r.node).map((r) => [r.node, r]));
      const extra = [...new Set([...listed.keys(), ...guests.map((g) => g.node)])].filter((n) => !known.has(n))
        .map((node) => ({ ...listed.get(node), node, status: listed.get(node)?.status || 'unknown' }));
      if (extra.length) nodes = [...nodes, ...extra].sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
      rebuild();
      if (selectedKey !== 'dc' && !selectedKey.startsWith('node/')) revealSelected();
    },
    /** Reflect the current route in the tree without triggering onSelect. */
    select(key) {
      selectedKey = key;
      revealSelected();
      render();
    },
    focus() { rowsByKey.get(focusKey)?.focus(); },
  };
}

/** A stable hue per tag name, so one tag has one colour everywhere. */
export function tagHue(tag) {
  let hsh = 0;
  for (const c of String(tag)) hsh = (hsh * 31 + c.codePointAt(0)) >>> 0;
  return hsh % 360;
}
