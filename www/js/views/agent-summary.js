// VM → Summary → Guest agent: the IP addresses the guest's QEMU guest agent
// reports (GET …/agent/network-get-interfaces; loopback and link-local left
// out). The summary hands it every status it reads; the agent is asked only
// while the VM runs with the agent configured, and at most every 10 s.

import { api, errorText } from '../api.js';
import { h, setText } from '../dom.js';
import { parsePropString } from '../propstring.js';
import { card } from './summary-parts.js';

const AGENT_MS = 10000;

/** {result: [{name, ip-addresses: [{ip-address, prefix}]}]} → [{iface, address}] worth showing. */
export function agentAddresses(answer) {
  const ifaces = Array.isArray(answer?.result) ? answer.result : Array.isArray(answer) ? answer : [];
  const out = [];
  for (const i of ifaces) {
    if (!i || i.name === 'lo') continue;
    for (const a of Array.isArray(i['ip-addresses']) ? i['ip-addresses'] : []) {
      const ip = String(a?.['ip-address'] || '');
      if (!ip || /^fe80:/i.test(ip) || /^127\./.test(ip) || ip === '::1') continue;
      out.push({ iface: i.name || '?', address: a.prefix !== undefined ? `${ip}/${a.prefix}` : ip });
    }
  }
  return out;
}

/** The card; update(status) with each answer of …/status/current. */
export function agentCard(base, signal) {
  const stateText = h('p', { class: 'agent-state muted' }, 'Loading…');
  const detail = h('p', { class: 'muted small', hidden: true });
  const list = h('ul', { class: 'agent-ips', hidden: true, 'aria-label': 'IP addresses of the guest' });
  const el = card('Guest agent', stateText, list, detail);
  el.classList.add('agent-card');
  let last = 0;        // when the agent was last asked (0: ask at the next chance)
  let asking = false;

  function show(kind, text, more = '') {
    el.dataset.agent = kind;
    setText(stateText, text);
    setText(detail, more);
    detail.hidden = !more;
    if (kind !== 'ok') list.hidden = true;
  }

  async function ask() {
    asking = true;
    last = Date.now();
    try {
      const addrs = agentAddresses(await api(`${base}/agent/network-get-interfaces`, { signal }));
      show('ok', addrs.length ? 'Guest agent running' : 'Guest agent running; it reports no addresses');
      list.replaceChildren(...addrs.map((a) => h('li', null, h('span', { class: 'agent-iface' }, a.iface), ' ', h('span', { class: 'agent-ip' }, a.address))));
      list.hidden = !addrs.length;
    } catch (e) {
      if (e.name !== 'AbortError') show('error', 'Guest agent not running', errorText(e));
    } finally {
      asking = false;
    }
  }

  return {
    el,
    update(s) {
      if (parsePropString(s.agent, 'enabled').enabled !== '1') { last = 0; show('off', 'Guest agent not configured'); return; }
      if (s.status !== 'running') { last = 0; show('off', 'The VM is not running'); return; }
      if (!asking && Date.now() - last >= AGENT_MS) ask();
    },
  };
}
