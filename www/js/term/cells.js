// The terminal's cells: a character and its attributes (colours and flags).
// Attributes are immutable and shared: every cell printed under the same SGR
// state points at the same Attr, so runs of equal cells are cheap to find.

export const BOLD = 1;
export const DIM = 2;
export const ITALIC = 4;
export const UNDERLINE = 8;
export const BLINK = 16;
export const INVERSE = 32;
export const HIDDEN = 64;
export const STRIKE = 128;

/**
 * A colour is -1 (the default), 0–255 (the xterm palette) or RGB | TRUECOLOR.
 */
export const TRUECOLOR = 0x1000000;

export class Attr {
  constructor(fg = -1, bg = -1, flags = 0) {
    this.fg = fg;
    this.bg = bg;
    this.flags = flags;
    Object.freeze(this);
  }

  with(changes) {
    return new Attr(changes.fg ?? this.fg, changes.bg ?? this.bg, changes.flags ?? this.flags);
  }

  equals(o) {
    return this === o || (this.fg === o.fg && this.bg === o.bg && this.flags === o.flags);
  }

  /** What erasing leaves behind under this attribute: blanks in its background (xterm's BCE). */
  blank() {
    return this.bg === -1 && this.fg === -1 && this.flags === 0 ? DEFAULT_ATTR : new Attr(-1, this.bg, 0);
  }
}

export const DEFAULT_ATTR = new Attr();

/** One row of cells. `dirty` until the renderer has drawn it; `el` is its DOM row (the renderer's). */
export class Line {
  constructor(cols, attr = DEFAULT_ATTR) {
    this.chars = new Array(cols).fill(' ');
    this.attrs = new Array(cols).fill(attr);
    this.wrapped = false; // the next line continues this one (autowrap)
    this.dirty = true;
    this.el = null;
  }

  get cols() { return this.chars.length; }

  /** Blank cells [from, to) with attribute `attr`. */
  erase(from, to, attr = DEFAULT_ATTR) {
    const end = Math.min(to, this.chars.length);
    for (let i = Math.max(0, from); i < end; i++) {
      this.chars[i] = ' ';
      this.attrs[i] = attr;
    }
    this.dirty = true;
  }

  /** Insert n blanks at x, pushing the rest right (cells fall off the end). */
  insert(x, n, attr) {
    const cols = this.chars.length;
    n = Math.min(n, cols - x);
    this.chars.splice(x, 0, ...new Array(n).fill(' '));
    this.attrs.splice(x, 0, ...new Array(n).fill(attr));
    this.chars.length = cols;
    this.attrs.length = cols;
    this.dirty = true;
  }

  /** Delete n cells at x, pulling the rest left (blanks come in at the end). */
  delete(x, n, attr) {
    const cols = this.chars.length;
    n = Math.min(n, cols - x);
    this.chars.splice(x, n);
    this.attrs.splice(x, n);
    for (let i = 0; i < n; i++) { this.chars.push(' '); this.attrs.push(attr); }
    this.dirty = true;
  }

  resize(cols) {
    const old = this.chars.length;
    this.chars.length = cols;
    this.attrs.length = cols;
    if (cols > old) { this.chars.fill(' ', old); this.attrs.fill(DEFAULT_ATTR, old); }
    this.dirty = true;
  }

  /** The text of the line, trailing blanks dropped. */
  text() {
    return this.chars.join('').replace(/\s+$/, '');
  }
}
