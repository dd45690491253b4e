// The content area: a heading plus a tab strip for the selected object
// (see router.js for routes). Each tab is a view module with
// mount(panel, route) → cleanup(). New object types (storage, pools, …)
// register in VIEWS. A tab with `when` shows only while when() holds (the
// node's Shell is root@pam's; Metric Server and Realms need Sys.Audit on /); the strip
// is rebuilt when another user logs in or the user's privileges change.

import { h, icon, replaceChildren } from './dom.js';
import { navigate } from './router.js';
import { mountDatacenterSummary } from './views/datacenter.js';
import { mountNodeSummary } from './views/node-summary.js';
import { mountNodeTasks } from './views/node-tasks.js';
import { mountNodeStorage } from './views/node-storage.js';
import { mountNodeSystem } from './views/node-system.js';
import { mountNodeDisks } from './views/node-disks.js';
import { mountNodeUpdates } from './views/node-updates.js';
import { mountNodeShell } from './views/node-shell.js';
import { mountDcStorage } from './views/dc-storage.js';
import { mountDcCluster } from './views/dc-cluster.js';
import { mountGuestSummary } from './views/guest-summary.js';
import { mountQemuHardware } from './views/qemu-hardware.js';
import { mountQemuOptions } from './views/qemu-options.js';
import { mountQemuCloudinit } from './views/qemu-cloudinit.js';
import { mountGuestSnapshots } from './views/guest-snapshots.js';
import { mountGuestBackups } from './views/guest-backups.js';
import { mountQemuConsole } from './views/qemu-console.js';
import { mountLxcConsole } from './views/lxc-console.js';
import { mountLxcResources } from './views/lxc-resources.js';
import { mountLxcNetwork } from './views/lxc-network.js';
import { mountLxcDns } from './views/lxc-dns.js';
import { mountLxcOptions } from './views/lxc-options.js';
import { mountGuestPermissions } from './views/guest-permissions.js';
import { mountDcUsers } from './views/dc-users.js';
import { mountDcGroups } from './views/dc-groups.js';
import { mountDcRoles } from './views/dc-roles.js';
import { mountDcBackup } from './views/dc-backup.js';
import { mountDcAcl } from './views/dc-acl.js';
import { mountDcTokens } from './views/dc-tokens.js';
import { mountDcTfa } from './views/dc-tfa.js';
import { mountDcFirewall, mountGuestFirewall, mountNodeFirewall } from './views/firewall.js';
import { mountNodeNetwork } from './views/node-network.js';
import { mountDcSdn } from './views/sdn.js';
import { mountDcHa } from './views/ha.js';
import { mountDcMetrics } from './views/dc-metrics.js';
import { mountDcRealms } from './views/dc-realms.js';
import { guestTitle } from './guests.js';
import { hasCap, sessionStamp, sessionUser } from './login.js';

const tab = (id, label, iconName, mount, when = null) => ({ id, label, icon: iconName, mount, when });
const asRoot = () => sessionUser() === 'root@pam';
const dcAudit = () => hasCap('dc', 'Sys.Audit'); // privileges on / (PVE's cap.dc)

/** A guest's tabs: Summary and Console, the type's own, then Snapshots, Backup, Firewall and Permissions. */
const guestTabs = (mountConsole, own = []) => [
  tab('summary', 'Summary', 'summary', mountGuestSummary),
  tab('console', 'Console', 'terminal', mountConsole),
  ...own,
  tab('snapshots', 'Snapshots', 'camera', mountGuestSnapshots),
  tab('backup', 'Backup', 'archive', mountGuestBackups),
  tab('firewall', 'Firewall', 'firewall', mountGuestFirewall),
  tab('permissions', 'Permissions', 'lock', mountGuestPermissions),
];

const VIEWS = {
  dc: {
    icon: 'datacenter',
    title: () => 'Datacenter',
    tabs: [
      tab('summary', 'Summary', 'summary', mountDatacenterSummary),
      tab('cluster', 'Cluster', 'network', mountDcCluster),
      tab('storage', 'Storage', 'disk', mountDcStorage),
      tab('backup', 'Backup', 'archive', mountDcBackup),
      tab('firewall', 'Firewall', 'firewall', mountDcFirewall),
      tab('sdn', 'SDN', 'network', mountDcSdn),
      tab('ha', 'HA', 'reboot', mountDcHa),
      tab('metrics', 'Metric Server', 'metrics', mountDcMetrics, dcAudit),
      tab('users', 'Users', 'user', mountDcUsers),
      tab('groups', 'Groups', 'group', mountDcGroups),
      tab('roles', 'Roles', 'shield', mountDcRoles),
      tab('acl', 'Permissions', 'lock', mountDcAcl),
      tab('tokens', 'API Tokens', 'key', mountDcTokens),
      tab('tfa', 'Two-factor', 'phone-key', mountDcTfa),
      tab('realms', 'Realms', 'realm', mountDcRealms, dcAudit),
    ],
  },
  node: {
    icon: 'server',
    title: (r) => `Node ${r.node}`,
    tabs: [
      tab('summary', 'Summary', 'summary', mountNodeSummary),
      tab('shell', 'Shell', 'terminal', mountNodeShell, asRoot), // the API gives others 403
      tab('system', 'System', 'cog', mountNodeSystem),
      tab('network', 'Network', 'network', mountNodeNetwork),
      tab('disks', 'Disks', 'hardware', mountNodeDisks),
      tab('storage', 'Storage', 'disk', mountNodeStorage),
      tab('updates', 'Updates', 'package', mountNodeUpdates),
      tab('firewall', 'Firewall', 'firewall', mountNodeFirewall),
      tab('tasks', 'Tasks', 'tasks', mountNodeTasks),
    ],
  },
  qemu: {
    icon: 'vm',
    title: guestTitle,
    tabs: guestTabs(mountQemuConsole, [
      tab('hardware', 'Hardware', 'hardware', mountQemuHardware),
      tab('options', 'Options', 'options', mountQemuOptions),
      tab('cloudinit', 'Cloud-Init', 'cloud', mountQemuCloudinit),
    ]),
  },
  lxc: {
    icon: 'container',
    title: guestTitle,
    tabs: guestTabs(mountLxcConsole, [
      tab('resources', 'Resources', 'hardware', mountLxcResources),
      tab('network', 'Network', 'network', mountLxcNetwork),
      tab('dns', 'DNS', 'search', mountLxcDns),
      tab('options', 'Options', 'options', mountLxcOptions),
    ]),
  },
};

/** The tabs of a view the current user gets. */
const visibleTabs = (view) => view.tabs.filter((t) => !t.when || t.when());

export function createContent(main) {
  let current = null;   // {key, stamp (user and privileges), route, tabButtons, panel, heading}
  let cleanup = null;

  function unmount() {
    if (cleanup) {
      try { cleanup(); } catch (err) { console.debug('view cleanup failed', err); }
    }
    cleanup = null;
  }

  function mountTab(route) {
    unmount();
    const view = VIEWS[route.type];
    const tab = visibleTabs(view).find((t) => t.id === route.tab);
    for (const [id, btn] of current.tabButtons) {
      const on = id === route.tab;
      btn.setAttribute('aria-selected', String(on));
      btn.tabIndex = on ? 0 : -1;
      // At phone width the strip scrolls sideways: keep the open tab in sight.
      if (on) btn.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
    current.panel.setAttribute('aria-labelledby', `tab-${route.tab}`);
    current.panel.replaceChildren();
    try {
      cleanup = tab.mount(current.panel, route) || null;
    } catch (err) {
      console.error(err);
      current.panel.append(h('p', { class: 'notice notice-error', role: 'alert' }, `This view failed to load: ${err.message}`));
    }
  }

  function buildObject(route) {
    const view = VIEWS[route.type];
    const tabButtons = new Map();
    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': `${view.title(route)} views` });
    for (const t of visibleTabs(view)) {
      const btn = h('button', {
        type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': 'tabpanel', class: 'tab',
        onclick: () => navigate(route.key, t.id),
      }, icon(t.icon), t.label);
      tabButtons.set(t.id, btn);
      tablist.append(btn);
    }
    // Arrow keys move between tabs (automatic activation).
    tablist.addEventListener('keydown', (ev) => {
      const ids = [...tabButtons.keys()];
      const i = ids.indexOf(document.activeElement?.id?.replace(/^tab-/, ''));
      let j = null;
      if (ev.key === 'ArrowRight') j = (i + 1) % ids.length;
      else if (ev.key === 'ArrowLeft') j = (i - 1 + ids.length) % ids.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = ids.length - 1;
      if (j === null || i < 0) return;
      ev.preventDefault();
      tabButtons.get(ids[j]).focus();
      navigate(route.key, ids[j]);
    });
    const panel = h('section', { class: 'tabpanel', id: 'tabpanel', role: 'tabpanel', tabindex: -1 });
    const titleText = h('span', null, view.title(route));
    replaceChildren(main,
      h('div', { class: 'content-head' },
        h('h1', { id: 'content-title' }, icon(view.icon), titleText),
        tablist),
      panel);
    document.title = `${view.title(route)} – Corral`;
    current = { key: route.key, stamp: sessionStamp(), route, tabButtons, panel, titleText };
  }

  return {
    /** Names can arrive after the view (a guest's name comes with /cluster/resources). */
    refreshTitle() {
      if (!current) return;
      const t = VIEWS[current.route.type].title(current.route);
      if (current.titleText.textContent !== t) {
        current.titleText.textContent = t;
        document.title = `${t} – Corral`;
      }
    },
    show(route) {
      const view = VIEWS[route.type] || VIEWS.dc;
      const tabs = visibleTabs(view);
      if (!tabs.some((t) => t.id === route.tab)) route = { ...route, tab: tabs[0].id, sub: undefined };
      if (!current || current.key !== route.key || current.stamp !== sessionStamp()) buildObject(route);
      mountTab(route);
    },
  };
}
