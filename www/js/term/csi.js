// CSI sequences (ESC [ …): cursor movement and positioning, erasing, inserting
// and deleting characters and lines, scrolling and its region, tab stops, SGR,
// modes, and the queries that are answered (DA, DSR). `em` is the Emulator.

import { applySgr } from './sgr.js';

const param = (params, i, dflt) => {
  const v = Array.isArray(params[i]) ? params[i][0] : params[i];
  return v === undefined || v < 0 ? dflt : v;
};
const count = (params, i = 0) => Math.max(1, param(params, i, 1));

export function runCsi(em, prefix, params, inter, final) {
  const b = em.buf;
  const blank = em.attr.blank();
  if (inter) {
    if (inter === '!' && final === 'p') em.softReset();
    return; // DECSCUSR (" q") and others: nothing to do
  }
  if (prefix === '?') {
    if (final === 'h' || final === 'l') em.setPrivateModes(params, final === 'h');
    return;
  }
  if (prefix === '>') {
    if (final === 'c') em.onReply('\x1b[>0;10;1c');
    return;
  }
  if (prefix) return;
  const originTop = em.modes.origin ? b.top : 0;
  switch (final) {
    case 'A': b.moveTo(b.x, Math.max(b.y - count(params), b.y >= b.top ? b.top : 0)); break;
    case 'B': b.moveTo(b.x, Math.min(b.y + count(params), b.y <= b.bottom ? b.bottom : b.rows - 1)); break;
    case 'C': case 'a': b.moveTo(b.x + count(params), b.y); break;
    case 'D': b.moveTo(b.x - count(params), b.y); break;
    case 'E': b.moveTo(0, b.y + count(params)); break;
    case 'F': b.moveTo(0, b.y - count(params)); break;
    case 'G': case '`': b.moveTo(count(params) - 1, b.y); break;
    case 'H': case 'f': b.moveTo(count(params, 1) - 1, originTop + count(params) - 1); break;
    case 'd': b.moveTo(b.x, originTop + count(params) - 1); break;
    case 'e': b.moveTo(b.x, b.y + count(params)); break;
    case 'I': em.tab(count(params)); break;
    case 'Z': em.tab(-count(params)); break;
    case 'J': b.eraseDisplay(param(params, 0, 0), blank); break;
    case 'K': b.eraseLine(param(params, 0, 0), blank); break;
    case 'X': b.line().erase(b.x, b.x + count(params), blank); break;
    case '@': b.line().insert(b.x, count(params), blank); break;
    case 'P': b.line().delete(b.x, count(params), blank); break;
    case 'L': b.insertLines(count(params), blank); break;
    case 'M': b.deleteLines(count(params), blank); break;
    case 'S': b.scrollUp(count(params), blank); break;
    case 'T': b.scrollDown(count(params), blank); break;
    case 'b': em.repeat(count(params)); break;
    case 'g': if (param(params, 0, 0) === 3) em.tabs.clear(); else em.tabs.delete(b.x); break;
    case 'm': em.attr = applySgr(em.attr, params); break;
    case 'r': {
      const top = count(params) - 1;
      const bottom = param(params, 1, b.rows) - 1;
      if (top < bottom && bottom < b.rows) { b.top = top; b.bottom = bottom; b.moveTo(0, em.modes.origin ? top : 0); }
      break;
    }
    case 's': em.saveCursor(); break;
    case 'u': em.restoreCursor(); break;
    case 'h': case 'l': if (param(params, 0, 0) === 4) em.modes.insert = final === 'h'; break;
    case 'n':
      if (param(params, 0, 0) === 5) em.onReply('\x1b[0n');
      else if (param(params, 0, 0) === 6) em.onReply(`\x1b[${b.y - originTop + 1};${b.x + 1}R`);
      break;
    case 'c': if (param(params, 0, 0) === 0) em.onReply('\x1b[?62;22c'); break;
    default: break;
  }
}
