// The terminal's state machine without any DOM: two screens (normal with
// scrollback, alternate without), the cursor, modes, tab stops and what the
// control sequences do to them (CSI ones in csi.js). write(text) applies output from the host;
// replies to queries (DA, DSR) go to onReply. The renderer and the input
// side (terminal.js) read it; tests drive it directly.

import { DEFAULT_ATTR } from './cells.js';
import { Buffer } from './buffer.js';
import { Parser } from './parser.js';
import { runCsi } from './csi.js';
import { translate } from './charsets.js';

// Combining marks join the previous cell instead of taking one of their own.
const COMBINING = /^[\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0e31\u0e34-\u0e3a\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]$/u;

// East Asian wide characters and emoji take two cells (the second holds '').
const WIDE = [[0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf],
  [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff], [0x20000, 0x3fffd]];
const isWide = (cp) => cp >= 0x1100 && WIDE.some(([a, b]) => cp >= a && cp <= b);

export class Emulator {
  constructor(cols = 80, rows = 24, { scrollback = 1000, onReply = () => {}, onTitle = () => {}, onBell = () => {} } = {}) {
    this.onReply = onReply;
    this.onTitle = onTitle;
    this.onBell = onBell;
    this.scrollbackLimit = scrollback;
    this.parser = new Parser(this);
    this.hardReset(cols, rows);
  }

  hardReset(cols = this.cols, rows = this.rows) {
    this.cols = cols;
    this.rows = rows;
    this.normal = new Buffer(cols, rows, this.scrollbackLimit);
    this.alt = new Buffer(cols, rows, 0);
    this.buf = this.normal;
    this.attr = DEFAULT_ATTR;
    this.modes = { appCursor: false, appKeypad: false, autowrap: true, cursorVisible: true, bracketedPaste: false, origin: false, insert: false };
    this.charsets = ['B', 'B'];
    this.gl = 0;
    this.saved = null;
    this.tabs = new Set();
    for (let x = 8; x < 1000; x += 8) this.tabs.add(x);
    this.title = '';
    this.changed = true;
  }

  /** Output from the host (already decoded from UTF-8). */
  write(text) {
    this.parser.write(String(text));
    this.changed = true;
  }

  get x() { return this.buf.x; }
  get y() { return this.buf.y; }

  /** The visible screen as text lines (trailing blanks dropped), for tests and copy. */
  screenLines() { return this.buf.lines.map((l) => l.text()); }

  resize(cols, rows) {
    cols = Math.max(2, cols | 0);
    rows = Math.max(1, rows | 0);
    if (cols === this.cols && rows === this.rows) return;
    this.normal.resize(cols, rows);
    this.alt.resize(cols, rows);
    this.cols = cols;
    this.rows = rows;
    this.changed = true;
  }

  // --- parser callbacks ----------------------------------------------------------

  print(text) {
    const b = this.buf;
    const set = this.charsets[this.gl];
    if (set !== 'B') text = translate(text, set);
    const attr = this.attr;
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (cp >= 0x300 && COMBINING.test(ch)) {
        const px = b.wrapPending ? b.x : b.x - 1;
        if (px >= 0) { const l = b.line(); l.chars[px] += ch; l.dirty = true; }
        continue;
      }
      const wide = cp >= 0x1100 && isWide(cp);
      // A wide character that does not fit in the last column wraps first.
      if (wide && b.x === b.cols - 1 && !b.wrapPending && this.modes.autowrap) b.wrapPending = true;
      if (b.wrapPending) {
        if (this.modes.autowrap) {
          b.line().wrapped = true;
          b.x = 0;
          b.lineFeed(attr.blank());
        }
        b.wrapPending = false;
      }
      const l = b.line();
      if (this.modes.insert) l.insert(b.x, wide ? 2 : 1, attr);
      l.chars[b.x] = ch;
      l.attrs[b.x] = attr;
      l.dirty = true;
      if (wide && b.x < b.cols - 1) {
        b.x++;
        l.chars[b.x] = '';
        l.attrs[b.x] = attr;
      }
      if (b.x === b.cols - 1) b.wrapPending = true;
      else b.x++;
    }
  }

  execute(code) {
    const b = this.buf;
    switch (code) {
      case 0x07: this.onBell(); break;
      case 0x08: if (b.x > 0) b.x--; b.wrapPending = false; break;
      case 0x09: this.tab(1); break;
      case 0x0a: case 0x0b: case 0x0c: b.lineFeed(this.attr.blank()); break;
      case 0x0d: b.x = 0; b.wrapPending = false; break;
      case 0x0e: this.gl = 1; break; // SO: G1
      case 0x0f: this.gl = 0; break; // SI: G0
      default: break;
    }
  }

  esc(inter, final) {
    const b = this.buf;
    if (inter === '(' || inter === ')') { this.charsets[inter === '(' ? 0 : 1] = final; return; }
    if (inter === '#' && final === '8') { // DECALN: fill with E
      for (const l of b.lines) { l.chars.fill('E'); l.attrs.fill(DEFAULT_ATTR); l.dirty = true; }
      return;
    }
    if (inter) return;
    switch (final) {
      case '7': this.saveCursor(); break;
      case '8': this.restoreCursor(); break;
      case 'D': b.lineFeed(this.attr.blank()); break;
      case 'E': b.x = 0; b.lineFeed(this.attr.blank()); break;
      case 'M': b.reverseIndex(this.attr.blank()); break;
      case 'H': this.tabs.add(b.x); break;
      case 'c': this.hardReset(); break;
      case '=': this.modes.appKeypad = true; break;
      case '>': this.modes.appKeypad = false; break;
      default: break;
    }
  }

  osc(text) {
    // "0;title" / "2;title": kept as plain text, never interpreted further.
    const m = /^([012]);(.*)$/s.exec(text);
    if (m) {
      this.title = m[2].slice(0, 200);
      this.onTitle(this.title);
    }
  }

  csi(prefix, params, inter, final) {
    runCsi(this, prefix, params, inter, final);
  }

  // --- helpers ----------------------------------------------------------------------

  setPrivateModes(params, on) {
    for (const raw of params) {
      const p = Array.isArray(raw) ? raw[0] : raw;
      switch (p) {
        case 1: this.modes.appCursor = on; break;
        case 6: this.modes.origin = on; this.buf.moveTo(0, on ? this.buf.top : 0); break;
        case 7: this.modes.autowrap = on; break;
        case 25: this.modes.cursorVisible = on; break;
        case 2004: this.modes.bracketedPaste = on; break;
        case 47: case 1047: this.useAlt(on, false); break;
        case 1048: if (on) this.saveCursor(); else this.restoreCursor(); break;
        case 1049: this.useAlt(on, true); break;
        default: break; // mouse modes, focus events, …: not offered
      }
    }
  }

  /** Switch screens; 1049 also saves the cursor on the way in, restores it on the way out, and clears. */
  useAlt(on, withCursor) {
    if (on === (this.buf === this.alt)) return;
    if (on) {
      if (withCursor) this.saveCursor();
      this.alt.moveTo(this.normal.x, this.normal.y);
      this.buf = this.alt;
      if (withCursor) this.alt.eraseDisplay(2, DEFAULT_ATTR);
    } else {
      this.buf = this.normal;
      if (withCursor) this.restoreCursor();
    }
    for (const l of this.buf.lines) l.dirty = true;
  }

  saveCursor() {
    const b = this.buf;
    this.saved = { x: b.x, y: b.y, attr: this.attr, wrap: b.wrapPending, charsets: [...this.charsets], gl: this.gl, origin: this.modes.origin };
  }

  restoreCursor() {
    const s = this.saved;
    if (!s) { this.buf.moveTo(0, 0); return; }
    this.buf.moveTo(s.x, s.y);
    this.buf.wrapPending = s.wrap;
    this.attr = s.attr;
    this.charsets = [...s.charsets];
    this.gl = s.gl;
    this.modes.origin = s.origin;
  }

  softReset() {
    Object.assign(this.modes, { appCursor: false, appKeypad: false, autowrap: true, cursorVisible: true, origin: false, insert: false });
    this.attr = DEFAULT_ATTR;
    this.buf.top = 0;
    this.buf.bottom = this.buf.rows - 1;
    this.charsets = ['B', 'B'];
    this.gl = 0;
  }

  /** Move to the n-th next (n < 0: previous) tab stop. */
  tab(n) {
    const b = this.buf;
    let x = b.x;
    for (let i = 0; i < Math.abs(n); i++) {
      do { x += n > 0 ? 1 : -1; } while (x > 0 && x < b.cols - 1 && !this.tabs.has(x));
    }
    b.x = Math.max(0, Math.min(b.cols - 1, x));
    b.wrapPending = false;
  }

  /** REP: the last printed character n more times. */
  repeat(n) {
    const b = this.buf;
    const px = b.wrapPending ? b.x : b.x - 1;
    if (px < 0) return;
    this.print(b.line().chars[px].repeat(Math.min(n, b.cols * b.rows)));
  }
}
