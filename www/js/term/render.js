// Draws an Emulator into the DOM: one <div> per line, runs of equal
// attributes as <span>s (plain text where the attributes are the defaults).
// A line keeps its element for life (line.el), so scrolling moves elements
// instead of redrawing them; only lines marked dirty are drawn again. Lines
// that leave the top of the normal screen move into the history above it.
// Work is batched: schedule() asks for one animation frame, render() does it.

import { BOLD, DIM, ITALIC, UNDERLINE, INVERSE, HIDDEN, STRIKE, BLINK } from './cells.js';
import { cssColor } from './colors.js';

const styles = new WeakMap(); // Attr → {cls, css}

function styleOf(a) {
  let s = styles.get(a);
  if (s) return s;
  const f = a.flags;
  let fg = cssColor(a.fg, '');
  let bg = cssColor(a.bg, '');
  if (f & INVERSE) {
    [fg, bg] = [bg || 'var(--term-bg)', fg || 'var(--term-fg)'];
  }
  const cls = [f & BOLD && 'tb', f & DIM && 'td', f & ITALIC && 'ti', f & UNDERLINE && 'tu', f & STRIKE && 'ts', f & BLINK && 'tk', f & HIDDEN && 'th']
    .filter(Boolean).join(' ');
  s = { cls, css: `${fg ? `color:${fg};` : ''}${bg ? `background:${bg};` : ''}`, plain: !cls && !fg && !bg };
  styles.set(a, s);
  return s;
}

export class Renderer {
  constructor(viewport, emulator) {
    this.em = emulator;
    this.viewport = viewport;
    this.history = document.createElement('div');
    this.history.className = 'term-history';
    this.screen = document.createElement('div');
    this.screen.className = 'term-rows';
    viewport.append(this.history, this.screen);
    this.normal = emulator.normal;
    this.seen = 0;          // normal.pushed at the last render
    this.cursorLine = null; // the line drawn with the cursor
    this.cursorKey = '';
    this.frame = 0;
    this.follow = true;     // keep the view at the bottom while output comes
    this.frames = 0;        // renders done (tests and benchmarks read it)
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  cancel() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  render() {
    const em = this.em;
    const vp = this.viewport;
    const atBottom = this.follow || vp.scrollTop + vp.clientHeight >= vp.scrollHeight - 4;
    this.renderHistory();
    // The cursor: its old and new lines are drawn again when it moved.
    const buf = em.buf;
    const cl = buf.lines[buf.y];
    const key = `${buf.x},${buf.y},${em.modes.cursorVisible},${buf === em.alt}`;
    if (key !== this.cursorKey || cl !== this.cursorLine) {
      if (this.cursorLine) this.cursorLine.dirty = true;
      cl.dirty = true;
      this.cursorKey = key;
      this.cursorLine = cl;
    }
    const cx = em.modes.cursorVisible ? buf.x : -1;
    const kids = this.screen.children;
    for (let i = 0; i < buf.lines.length; i++) {
      const line = buf.lines[i];
      if (!line.el) line.el = document.createElement('div');
      if (line.dirty) this.draw(line, line === cl ? cx : -1);
      if (kids[i] !== line.el) this.screen.insertBefore(line.el, kids[i] || null);
    }
    while (kids.length > buf.lines.length) kids[kids.length - 1].remove();
    this.history.hidden = buf === em.alt;
    if (atBottom) vp.scrollTop = vp.scrollHeight;
    this.follow = false;
    em.changed = false;
    this.frames++;
  }

  /** Lines pushed into the scrollback since the last frame join the history (as they were when they left). */
  renderHistory() {
    const nb = this.em.normal;
    if (nb !== this.normal) { // a reset made new screens
      this.normal = nb;
      this.seen = 0;
      this.history.replaceChildren();
    }
    const fresh = Math.min(nb.pushed - this.seen, nb.scrollback.length);
    this.seen = nb.pushed;
    for (let i = nb.scrollback.length - fresh; i < nb.scrollback.length; i++) {
      const line = nb.scrollback[i];
      if (!line.el) line.el = document.createElement('div');
      if (line.dirty) this.draw(line, -1);
      if (line === this.cursorLine) { this.draw(line, -1); this.cursorLine = null; }
      this.history.append(line.el);
    }
    let extra = this.history.childElementCount - nb.scrollback.length;
    while (extra-- > 0) this.history.firstElementChild.remove();
  }

  /** One line's runs; the cell at `cx` (if ≥ 0) is the cursor. */
  draw(line, cx) {
    const { chars, attrs } = line;
    const n = chars.length;
    const parts = [];
    let start = 0;
    for (let i = 1; i <= n; i++) {
      if (i < n && i !== cx && i !== cx + 1 && attrs[i].equals(attrs[start])) continue;
      const s = styleOf(attrs[start]);
      const text = chars.slice(start, i).join('');
      if (start === cx) {
        const span = document.createElement('span');
        span.className = s.cls ? `term-cursor ${s.cls}` : 'term-cursor';
        if (s.css) span.style.cssText = s.css;
        span.textContent = text;
        parts.push(span);
      } else if (s.plain) {
        parts.push(i === n ? text.replace(/ +$/, '') : text);
      } else {
        const span = document.createElement('span');
        if (s.cls) span.className = s.cls;
        if (s.css) span.style.cssText = s.css;
        span.textContent = text;
        parts.push(span);
      }
      start = i;
    }
    line.el.className = 'term-row';
    line.el.replaceChildren(...parts);
    line.dirty = false;
  }
}
