// A terminal in an element: the emulator, its renderer, keyboard and paste
// input through a hidden textarea (so phones bring up their keyboard and IMEs
// work), and a size that follows the element (cols × rows from its pixels).
//
//   const t = new Terminal(host, { onData: (s) => …, onResize: (cols, rows) => … });
//   t.write(bytesOrText); t.focus(); t.dispose();
// Keys: Tab and Esc go to the host; Shift+Esc calls onLeave (to move focus out), Shift+PgUp/PgDn
// scroll the history.

import { Emulator } from './emulator.js';
import { Renderer } from './render.js';
import { keySequence, pasteSequence } from './keys.js';

export class Terminal {
  constructor(host, { label = 'Terminal', scrollback = 1000, onData = () => {}, onResize = () => {}, onTitle = () => {}, onLeave = null } = {}) {
    this.host = host;
    this.onLeave = onLeave; // Shift+Esc: the keyboard's way out (Tab goes to the host)
    this.onData = onData;
    this.onResize = onResize;
    this.decoder = new TextDecoder();
    this.em = new Emulator(80, 24, { scrollback, onReply: (s) => this.onData(s), onTitle });
    host.classList.add('term');
    this.viewport = document.createElement('div');
    this.viewport.className = 'term-viewport';
    this.input = document.createElement('textarea');
    this.input.className = 'term-input';
    this.input.setAttribute('aria-label', `${label}: type here`);
    for (const [k, v] of Object.entries({ autocapitalize: 'off', autocomplete: 'off', autocorrect: 'off', spellcheck: 'false', rows: '1' })) {
      this.input.setAttribute(k, v);
    }
    host.append(this.viewport, this.input);
    this.renderer = new Renderer(this.viewport, this.em);
    this.cell = null;
    this.listen();
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(host);
    this.fit();
    this.renderer.schedule();
  }

  get cols() { return this.em.cols; }
  get rows() { return this.em.rows; }

  /** Output from the host: a string, or bytes (UTF-8, split anywhere). */
  write(data) {
    const text = typeof data === 'string' ? data : this.decoder.decode(data, { stream: true });
    if (!text) return;
    this.em.write(text);
    this.renderer.schedule();
  }

  focus() { this.input.focus({ preventScroll: true }); }

  /** Draw now (tests; otherwise the next animation frame does). */
  flush() {
    this.renderer.cancel();
    this.renderer.render();
  }

  screenLines() { return this.em.screenLines(); }

  /** The cell size of the terminal font, measured once per font load. */
  measure() {
    const probe = document.createElement('span');
    probe.className = 'term-probe';
    probe.textContent = 'W'.repeat(40);
    this.viewport.append(probe);
    const r = probe.getBoundingClientRect();
    probe.remove();
    return r.width > 0 ? { w: r.width / 40, h: r.height } : null;
  }

  /** Take the size the element offers; tells onResize when it changed. */
  fit() {
    if (!this.viewport.isConnected) return;
    const cell = this.measure();
    if (!cell) return; // not laid out (hidden)
    this.cell = cell;
    this.host.style.setProperty('--term-row-h', `${cell.h}px`);
    const cols = Math.max(20, Math.floor(this.viewport.clientWidth / cell.w));
    const rows = Math.max(4, Math.floor(this.viewport.clientHeight / cell.h));
    if (cols === this.em.cols && rows === this.em.rows) return;
    this.em.resize(cols, rows);
    this.renderer.follow = true;
    this.renderer.schedule();
    this.onResize(cols, rows);
  }

  send(s) {
    if (!s) return;
    this.renderer.follow = true; // typing brings the view back to the bottom
    this.renderer.schedule();
    this.onData(s);
  }

  /** Text as if pasted (bracketed when the host asked for it). */
  paste(text) { this.send(pasteSequence(text, this.em.modes)); }

  listen() {
    const inp = this.input;
    let composing = false;
    inp.addEventListener('keydown', (ev) => {
      if (ev.shiftKey && ev.key === 'Escape' && this.onLeave) {
        ev.preventDefault();
        this.onLeave();
        return;
      }
      if (ev.shiftKey && (ev.key === 'PageUp' || ev.key === 'PageDown')) {
        ev.preventDefault();
        this.viewport.scrollTop += (ev.key === 'PageUp' ? -1 : 1) * this.viewport.clientHeight * 0.9;
        return;
      }
      const seq = keySequence(ev, this.em.modes);
      if (seq === null) return;
      ev.preventDefault();
      this.send(seq);
    });
    inp.addEventListener('compositionstart', () => { composing = true; });
    inp.addEventListener('compositionend', (ev) => {
      composing = false;
      this.send(ev.data || '');
      inp.value = '';
    });
    inp.addEventListener('input', (ev) => {
      if (composing || ev.isComposing) return;
      const text = inp.value;
      inp.value = '';
      this.send(text.replace(/\r?\n/g, '\r'));
    });
    inp.addEventListener('paste', (ev) => {
      ev.preventDefault();
      const text = ev.clipboardData ? ev.clipboardData.getData('text/plain') : '';
      if (text) this.paste(text);
    });
    inp.addEventListener('focus', () => this.host.classList.add('is-focused'));
    inp.addEventListener('blur', () => this.host.classList.remove('is-focused'));
    // A click focuses the input, unless it ended a selection (to copy).
    this.viewport.addEventListener('mouseup', () => {
      const sel = window.getSelection();
      if (!sel || sel.isCollapsed) this.focus();
    });
  }

  dispose() {
    this.resizeObserver.disconnect();
    this.renderer.cancel();
    this.host.classList.remove('term', 'is-focused');
    this.viewport.remove();
    this.input.remove();
  }
}
