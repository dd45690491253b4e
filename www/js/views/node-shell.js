// Node → Shell: a login shell on the node in the browser's terminal
// (js/term/), through POST /nodes/{node}/termproxy and the WebSocket
// …/vncwebsocket, the same path as a container's console (term-console.js).
// Only root@pam gets this tab (content.js): the API refuses others.

import { seg } from '../api.js';
import { mountTermConsole } from './term-console.js';

export function mountNodeShell(panel, { node }) {
  const ctrl = new AbortController();
  const cleanup = mountTermConsole(panel, null, ctrl.signal, {
    what: 'shell', base: `/nodes/${seg(node)}`, label: `Shell on node ${node}`,
  });
  return () => { ctrl.abort(); cleanup(); };
}
