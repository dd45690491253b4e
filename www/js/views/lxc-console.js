// CT → Console: the container's console in the browser's terminal
// (js/term/), through PVE's termproxy (see term-console.js).

import { guestView } from '../guests.js';
import { mountTermConsole } from './term-console.js';

export const mountLxcConsole = guestView((panel, guest, signal) =>
  mountTermConsole(panel, guest, signal, { what: 'container', proxyBody: undefined }));
