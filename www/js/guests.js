// Guests (VMs and containers) as the views see them: their API paths, status
// wording, tags, and the mount wrapper that finds a guest's node first.

import { seg, errorText } from './api.js';
import { h } from './dom.js';
import { findGuest, cachedGuest, resourcesUnsupported } from './resources.js';

export const guestNoun = (type) => (type === 'lxc' ? 'CT' : 'VM');
export const guestLongNoun = (type) => (type === 'lxc' ? 'container' : 'virtual machine');

/** /nodes/{node}/{qemu|lxc}/{vmid} */
export const guestBase = (g) => `/nodes/${seg(g.node)}/${g.type}/${seg(g.vmid)}`;

/** PVE accepts ";" "," and spaces between tags. */
export function splitTags(tags) {
  return String(tags || '').split(/[;,\s]+/).map((t) => t.trim()).filter(Boolean);
}

/**
 * {kind, text} of a guest from a resources entry or status/current:
 * kind is running | paused | stopped | unknown (the tree's status dots).
 */
export function guestStatus(s) {
  if (!s) return { kind: 'unknown', text: 'unknown' };
  if (s.status === 'running') {
    if (s.qmpstatus === 'paused') return { kind: 'paused', text: 'paused' };
    if (s.qmpstatus === 'suspended') return { kind: 'paused', text: 'suspended' };
    if (s.qmpstatus === 'prelaunch') return { kind: 'paused', text: 'prelaunch' };
    return { kind: 'running', text: 'running' };
  }
  // A VM hibernated to disk is stopped with the "suspended" lock.
  if (s.status === 'stopped' && s.lock === 'suspended') return { kind: 'paused', text: 'hibernated' };
  if (s.status === 'stopped') return { kind: 'stopped', text: 'stopped' };
  return { kind: 'unknown', text: s.status || 'unknown' };
}

/** Title for the content heading: "VM 100 (web)". */
export function guestTitle(route) {
  const g = cachedGuest(route.type, route.vmid);
  return `${guestNoun(route.type)} ${route.vmid}${g && g.name ? ` (${g.name})` : ''}`;
}

/**
 * Wrap a guest view: mount(panel, route) finds the guest's node, then calls
 * start(panel, guest, signal) → cleanup. The guest is {type, vmid, node, name, …}.
 */
export function guestView(start) {
  return function mount(panel, route) {
    const ctrl = new AbortController();
    let cleanup = null;
    const loading = h('p', { class: 'muted' }, 'Loading…');
    panel.append(loading);
    (async () => {
      let entry = null;
      try {
        entry = await findGuest(route.type, route.vmid);
      } catch (err) {
        if (ctrl.signal.aborted) return;
        loading.replaceWith(h('p', { class: 'notice notice-error', role: 'alert' },
          `Could not look up ${guestNoun(route.type)} ${route.vmid}: ${errorText(err)}`));
        return;
      }
      if (ctrl.signal.aborted) return;
      if (!entry) {
        loading.replaceWith(h('p', { class: 'notice notice-warn', role: 'alert' }, resourcesUnsupported()
          ? 'This server does not list guests yet (GET /cluster/resources is not implemented).'
          : `${guestNoun(route.type)} ${route.vmid} does not exist (any more), or you may not see it.`));
        return;
      }
      loading.remove();
      const guest = { ...entry, type: route.type, vmid: Number(route.vmid) };
      try {
        cleanup = start(panel, guest, ctrl.signal) || null;
      } catch (err) {
        console.error(err);
        panel.append(h('p', { class: 'notice notice-error', role: 'alert' }, `This view failed to load: ${err.message}`));
      }
    })();
    return () => {
      ctrl.abort();
      if (cleanup) cleanup();
    };
  };
}
