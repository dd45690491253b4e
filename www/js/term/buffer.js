// A screen of lines with a cursor, a scroll region and (for the normal
// screen) a scrollback. The emulator moves the cursor and edits through it;
// the renderer reads `lines`, `scrollback` and `pushed` (how many lines went
// to the scrollback in all).

import { DEFAULT_ATTR, Line } from './cells.js';

export class Buffer {
  constructor(cols, rows, scrollbackLimit = 0) {
    this.cols = cols;
    this.rows = rows;
    this.limit = scrollbackLimit;
    this.lines = Array.from({ length: rows }, () => new Line(cols));
    this.scrollback = [];
    this.pushed = 0;
    this.x = 0;
    this.y = 0;
    this.top = 0;             // scroll region, inclusive
    this.bottom = rows - 1;
    this.wrapPending = false; // the cursor sits past the last column
  }

  line(y = this.y) { return this.lines[y]; }

  /** Put the cursor at (x, y), clamped to the screen. */
  moveTo(x, y) {
    this.x = Math.max(0, Math.min(this.cols - 1, x));
    this.y = Math.max(0, Math.min(this.rows - 1, y));
    this.wrapPending = false;
  }

  /** Scroll the region [top, bottom] up by n: lines leave at the top, blanks enter at the bottom. */
  scrollUp(n = 1, attr = DEFAULT_ATTR) {
    n = Math.min(n, this.bottom - this.top + 1);
    const gone = this.lines.splice(this.top, n);
    if (this.limit > 0 && this.top === 0) {
      this.scrollback.push(...gone);
      this.pushed += gone.length;
      if (this.scrollback.length > this.limit) this.scrollback.splice(0, this.scrollback.length - this.limit);
    }
    const fresh = Array.from({ length: n }, () => new Line(this.cols, attr));
    this.lines.splice(this.bottom - n + 1, 0, ...fresh);
  }

  /** Scroll the region down by n: blanks enter at the top, lines fall off the bottom. */
  scrollDown(n = 1, attr = DEFAULT_ATTR) {
    n = Math.min(n, this.bottom - this.top + 1);
    this.lines.splice(this.bottom - n + 1, n);
    this.lines.splice(this.top, 0, ...Array.from({ length: n }, () => new Line(this.cols, attr)));
  }

  /** Line feed: down one line, scrolling at the bottom of the region. */
  lineFeed(attr) {
    if (this.y === this.bottom) this.scrollUp(1, attr);
    else if (this.y < this.rows - 1) this.y++;
    this.wrapPending = false;
  }

  /** Reverse index: up one line, scrolling down at the top of the region. */
  reverseIndex(attr) {
    if (this.y === this.top) this.scrollDown(1, attr);
    else if (this.y > 0) this.y--;
    this.wrapPending = false;
  }

  /** Insert (n > 0) or delete lines at the cursor, inside the scroll region. */
  insertLines(n, attr) {
    if (this.y < this.top || this.y > this.bottom) return;
    const top = this.top;
    this.top = this.y;
    this.scrollDown(n, attr);
    this.top = top;
    this.x = 0;
  }

  deleteLines(n, attr) {
    if (this.y < this.top || this.y > this.bottom) return;
    const top = this.top;
    const limit = this.limit;
    this.top = this.y;
    this.limit = 0; // deleted lines do not go to the scrollback
    this.scrollUp(n, attr);
    this.top = top;
    this.limit = limit;
    this.x = 0;
  }

  /** Erase in display: 0 below the cursor, 1 above it, 2 all, 3 all and the scrollback. */
  eraseDisplay(mode, attr) {
    if (mode === 0) {
      this.line().erase(this.x, this.cols, attr);
      for (let y = this.y + 1; y < this.rows; y++) this.lines[y].erase(0, this.cols, attr);
    } else if (mode === 1) {
      this.line().erase(0, this.x + 1, attr);
      for (let y = 0; y < this.y; y++) this.lines[y].erase(0, this.cols, attr);
    } else {
      for (const l of this.lines) l.erase(0, this.cols, attr);
      if (mode === 3) this.scrollback.length = 0;
    }
  }

  /** Erase in line: 0 right of the cursor, 1 left of it, 2 the whole line. */
  eraseLine(mode, attr) {
    const l = this.line();
    if (mode === 0) l.erase(this.x, this.cols, attr);
    else if (mode === 1) l.erase(0, this.x + 1, attr);
    else l.erase(0, this.cols, attr);
  }

  /**
   * New size. Fewer rows push the top lines into the scrollback (as far as the
   * cursor needs to stay on screen) and drop the rest from the bottom.
   */
  resize(cols, rows) {
    if (cols !== this.cols) {
      for (const l of this.lines) l.resize(cols);
      for (const l of this.scrollback) l.resize(cols);
      this.cols = cols;
    }
    if (rows < this.rows) {
      const out = Math.max(0, this.y - rows + 1);
      if (out) {
        this.top = 0;
        this.bottom = this.rows - 1;
        this.scrollUp(out);
        this.y -= out;
      }
      this.lines.length = rows;
    } else {
      while (this.lines.length < rows) this.lines.push(new Line(cols));
    }
    this.rows = rows;
    this.top = 0;
    this.bottom = rows - 1;
    this.moveTo(this.x, this.y);
  }
}
