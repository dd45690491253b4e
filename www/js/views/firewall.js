// The Firewall tab of the datacenter, a node and a guest (PVE's API under …/firewall), as sub-tabs:
// Rules everywhere; Security Groups in the datacenter; Aliases and IPSet in the datacenter and on guests;
// Options everywhere; Log on nodes and guests. Above them, while the datacenter's firewall is off (GET
// /cluster/firewall/options: enable is not 1), a notice says that nothing is applied — in the datacenter
// itself with a way to its Options. Each sub-view is mount(panel, scope, signal) → cleanup, the scope
// being the firewall's paths (firewall-parts.js).

import { api } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { guestView } from '../guests.js';
import { hashFor } from '../router.js';
import { clusterScope, guestScope, nodeScope } from './firewall-parts.js';
import { mountRules } from './firewall-rules.js';
import { mountFirewallGroups } from './firewall-groups.js';
import { mountFirewallIpset } from './firewall-ipset.js';
import { mountFirewallAliases } from './firewall-aliases.js';
import { mountFirewallOptions } from './firewall-options.js';
import { mountFirewallLog } from './firewall-log.js';
import { mountSubTabs } from './subtabs.js';

const RULES = { id: 'rules', label: 'Rules', mount: (panel, scope, signal) => { mountRules(panel, scope, signal); } };
const GROUPS = { id: 'groups', label: 'Security Groups', mount: mountFirewallGroups };
const ALIASES = { id: 'aliases', label: 'Aliases', mount: mountFirewallAliases };
const IPSET = { id: 'ipset', label: 'IPSet', mount: mountFirewallIpset };
const OPTIONS = { id: 'options', label: 'Options', mount: mountFirewallOptions };
const LOG = { id: 'log', label: 'Log', mount: mountFirewallLog };

/**
 * The notice shown while the datacenter's firewall is off; refresh() reads the option again (after an
 * Options edit). A failed read shows nothing: the sub-view says what failed.
 */
function offNotice(route, signal) {
  const dc = route.type === 'dc';
  const msg = h('span');
  const el = h('div', { class: 'notice notice-warn fw-off', role: 'status', hidden: true, dataset: { role: 'firewall-off' } },
    icon('alert'), msg,
    dc && route.sub === 'options' ? null
      : h('a', { class: 'link', href: hashFor('dc', 'firewall/options') }, dc ? 'Options' : 'Datacenter → Firewall → Options'));
  async function refresh() {
    try {
      const o = (await api('/cluster/firewall/options', { signal })) || {};
      const off = Number(o.enable ?? 0) !== 1;
      setText(msg, dc
        ? 'The firewall is off for the whole datacenter: none of these rules, nor those of the nodes and guests, is applied. '
          + 'Turn it on with the option "Firewall".'
        : 'The datacenter\'s firewall is off: these settings are kept, but nothing is applied until it is turned on.');
      el.hidden = !off;
    } catch (e) {
      if (e.name !== 'AbortError') console.debug('firewall options:', e.message);
    }
  }
  refresh();
  return { el, refresh };
}

/** Notice, then the sub-tabs; scopeOf(changed) → the scope (dc, node), or null for a guest (its node is looked up). */
function firewallTabs(panel, route, subs, scopeOf) {
  const ctl = new AbortController();
  const notice = offNotice(route, ctl.signal);
  panel.append(notice.el);
  const changed = () => notice.refresh();
  const tabs = subs.map((t) => ({
    ...t,
    mount: scopeOf
      ? (p) => t.mount(p, scopeOf(changed), ctl.signal) || null
      : guestView((p, guest, signal) => t.mount(p, guestScope(guest, changed), signal) || null),
  }));
  const cleanup = mountSubTabs(panel, route, 'Firewall views', tabs);
  return () => { ctl.abort(); cleanup(); };
}

export const mountDcFirewall = (panel, route) => firewallTabs(panel, route, [RULES, GROUPS, ALIASES, IPSET, OPTIONS],
  (changed) => clusterScope(changed));

export const mountNodeFirewall = (panel, route) => firewallTabs(panel, route, [RULES, OPTIONS, LOG],
  (changed) => nodeScope(route.node, changed));

export const mountGuestFirewall = (panel, route) => firewallTabs(panel, route, [RULES, ALIASES, IPSET, OPTIONS, LOG], null);
