// CT → DNS: the name servers and search domain the container gets
// (empty: the host's), as PVE writes them into its resolv.conf.

import { guestBase, guestView } from '../guests.js';
import { DNS_NAME } from '../wizard.js';
import { configView, optionEditors } from './config-grid.js';

export const mountLxcDns = guestView((panel, guest, signal) => {
  const view = configView(panel, guestBase(guest), signal, {
    caption: `DNS of CT ${guest.vmid}`, heads: ['Setting', 'Value'], rows,
  });
  const { editText } = optionEditors(view.config, view.save);

  function rows(cfg) {
    return [
      { key: 'nameserver', label: 'DNS servers', value: cfg.nameserver || 'as on the host',
        edit: () => editText('nameserver', 'DNS servers', { placeholder: '192.0.2.53 2001:db8::53', hint: 'Addresses separated by spaces; empty: as on the host.' }) },
      { key: 'searchdomain', label: 'DNS search domain', value: cfg.searchdomain || 'as on the host',
        edit: () => editText('searchdomain', 'DNS search domain', { pattern: DNS_NAME, hint: 'Empty: as on the host.' }) },
    ];
  }
  return null;
});
