// Resource tree (Datacenter → nodes; later: guests, storage, pools).
// Implements the WAI-ARIA tree pattern with a roving tabindex:
//   ↑/↓ move, → expands / goes to first child, ← collapses / goes to parent,
//   Home/End jump, Enter/Space (or a click) open the focused object.
// The search box above the tree filters it by name.

import { h, icon, replaceChildren } from './dom.js';
import { errorText } from './api.js';
import { formatPercent, ratio } from './format.js';

export function createTree({ root, filterInput, messageEl, onSelect }) {
  let data = [];                 // [{key, label, icon, status?, title?, children?}]
  let selectedKey = 'dc';
  let focusKey = 'dc';
  let filter = '';
  const expanded = new Set(['dc']);
  let rowsByKey = new Map();     // key → <li>
  let visible = [];              // visible items in display order: {item, parentKey}
  let labelSeq = 0;

  function nodeItems(nodes) {
    return nodes.map((n) => {
      const online = n.status === 'online';
      const parts = [online ? 'online' : (n.status || 'unknown')];
      if (online && Number.isFinite(n.cpu)) parts.push(`CPU ${formatPercent(n.cpu, 1)}`);
      if (online && n.maxmem) parts.push(`memory ${formatPercent(ratio(n.mem, n.maxmem), 1)}`);
      return {
        key: `node/${n.node}`, label: n.node, icon: 'server',
        status: online ? 'online' : 'offline', title: `${n.node}: ${parts.join(', ')}`,
      };
    });
  }

  function matches(item) {
    return !filter || item.label.toLowerCase().includes(filter);
  }

  function buildItem(item, level, parentKey) {
    const kids = (item.children || []).filter(matches);
    const hasKids = !!(item.children && item.children.length);
    const isOpen = hasKids && (expanded.has(item.key) || !!filter);
    const labelId = `tree-label-${++labelSeq}`;
    visible.push({ item, parentKey });

    const li = h('li', {
      role: 'treeitem', 'aria-level': level, 'aria-selected': String(item.key === selectedKey),
      'aria-expanded': hasKids ? String(isOpen) : null, tabindex: item.key === focusKey ? 0 : -1,
      'aria-labelledby': labelId, dataset: { key: item.key }, class: 'tree-item',
    },
    h('div', { class: 'tree-row', title: item.title || null, style: { '--level': level } },
      h('span', { class: 'twisty', 'aria-hidden': 'true' }, hasKids ? icon(isOpen ? 'chevron-down' : 'chevron-right') : null),
      icon(item.icon, { cls: 'tree-icon' }),
      h('span', { id: labelId, class: 'tree-label' }, item.label,
        item.status ? h('span', { class: 'sr-only' }, ` (${item.status})`) : null),
      item.status ? h('span', { class: `dot dot-${item.status}`, 'aria-hidden': 'true' }) : null));
    rowsByKey.set(item.key, li);
    if (isOpen && kids.length) {
      li.append(h('ul', { role: 'group' }, kids.map((k) => buildItem(k, level + 1, item.key))));
    }
    return li;
  }

  function render() {
    const hadFocus = root.contains(document.activeElement);
    // While the tree is not focused, Tab should land on the selected item.
    if (!hadFocus) focusKey = selectedKey;
    rowsByKey = new Map();
    visible = [];
    labelSeq = 0;
    replaceChildren(root, data.map((item) => buildItem(item, 1, null)));
    // Keep the roving tabindex on something visible.
    if (!rowsByKey.has(focusKey)) {
      focusKey = rowsByKey.has(selectedKey) ? selectedKey : (visible[0]?.item.key ?? 'dc');
      rowsByKey.get(focusKey)?.setAttribute('tabindex', '0');
    }
    if (hadFocus) rowsByKey.get(focusKey)?.focus({ preventScroll: true });
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
    if (!anyMatch) messageEl.textContent = 'No matching nodes.';
  });
  filterInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); focusItem(visible[1]?.item.key ?? visible[0]?.item.key); }
    if (ev.key === 'Escape' && filterInput.value) {
      ev.preventDefault(); ev.stopPropagation();
      filterInput.value = '';
      filterInput.dispatchEvent(new Event('input'));
    }
  });

  return {
    /** New node list (or null + error when /nodes failed). */
    setNodes(nodes, error) {
      if (nodes) {
        const items = nodeItems(nodes);
        const sig = (list) => list.map((i) => `${i.key}\u0000${i.status}`).join('\u0001');
        const same = data.length && sig(data[0].children) === sig(items);
        data = [{ key: 'dc', label: 'Datacenter', icon: 'datacenter', children: items }];
        if (same) {
          // Only the numbers changed: update tooltips in place (no rebuild under the pointer).
          for (const i of items) rowsByKey.get(i.key)?.querySelector('.tree-row')?.setAttribute('title', i.title);
        } else {
          render();
        }
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
    /** Reflect the current route in the tree without triggering onSelect. */
    select(key) {
      selectedKey = key;
      if (key.startsWith('node/')) expanded.add('dc');
      render();
    },
    focus() { rowsByKey.get(focusKey)?.focus(); },
  };
}
