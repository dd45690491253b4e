// Keys → the bytes a terminal sends for them (xterm's conventions).
// keySequence(event, modes) returns the string to send, or null when the key
// is not the terminal's (printable text comes through the input event).

const CSI = '\x1b[';
const SS3 = '\x1bO';

// key → [final, code]: "ESC [ code ~" keys have a code; the others end in `final`.
const CURSOR = { ArrowUp: 'A', ArrowDown: 'B', ArrowRight: 'C', ArrowLeft: 'D', Home: 'H', End: 'F' };
const TILDE = { Insert: 2, Delete: 3, PageUp: 5, PageDown: 6, F5: 15, F6: 17, F7: 18, F8: 19, F9: 20, F10: 21, F11: 23, F12: 24 };
const PF = { F1: 'P', F2: 'Q', F3: 'R', F4: 'S' };
// Ctrl + these characters: the C0 controls beyond Ctrl+letter.
const CTRL_CHAR = { ' ': '\x00', '@': '\x00', '2': '\x00', '[': '\x1b', '3': '\x1b', '\\': '\x1c', '4': '\x1c', ']': '\x1d', '5': '\x1d', '^': '\x1e', '6': '\x1e', '_': '\x1f', '-': '\x1f', '7': '\x1f', '/': '\x1f', '8': '\x7f', '?': '\x7f' };

/** xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl (1 = none). */
const modifier = (ev) => 1 + (ev.shiftKey ? 1 : 0) + (ev.altKey ? 2 : 0) + (ev.ctrlKey ? 4 : 0);

export function keySequence(ev, modes = {}) {
  if (ev.isComposing || ev.metaKey) return null;
  const mod = modifier(ev);
  const k = ev.key;
  if (CURSOR[k]) {
    if (mod > 1) return `${CSI}1;${mod}${CURSOR[k]}`;
    return (modes.appCursor ? SS3 : CSI) + CURSOR[k];
  }
  if (TILDE[k]) return mod > 1 ? `${CSI}${TILDE[k]};${mod}~` : `${CSI}${TILDE[k]}~`;
  if (PF[k]) return mod > 1 ? `${CSI}1;${mod}${PF[k]}` : SS3 + PF[k];
  switch (k) {
    case 'Enter': return ev.altKey ? '\x1b\r' : '\r';
    case 'Backspace': return (ev.altKey ? '\x1b' : '') + (ev.ctrlKey ? '\x08' : '\x7f');
    case 'Tab': return ev.shiftKey ? `${CSI}Z` : ev.ctrlKey || ev.altKey ? null : '\t';
    case 'Escape': return '\x1b';
    default: break;
  }
  if (k.length !== 1 && !/^[\u{10000}-\u{10ffff}]$/u.test(k)) return null; // Shift, CapsLock, …
  if (ev.ctrlKey && !ev.altKey) {
    // Ctrl+Shift+C / V stay the browser's (copy, paste).
    if (ev.shiftKey && /^[cv]$/i.test(k)) return null;
    if (/^[a-z]$/i.test(k)) return String.fromCharCode(k.toUpperCase().charCodeAt(0) & 0x1f);
    return CTRL_CHAR[k] ?? null;
  }
  if (ev.altKey && !ev.ctrlKey) {
    // Alt+key as ESC key (meta sends escape); AltGr (Ctrl+Alt) types its character normally.
    return `\x1b${k}`;
  }
  return null; // plain printable keys: the input event carries them (and IME text)
}

/** Pasted text as the host should get it: CR line ends, bracketed when the host asked (mode 2004). */
export function pasteSequence(text, modes = {}) {
  const t = String(text).replace(/\r?\n/g, '\r');
  return modes.bracketedPaste ? `${CSI}200~${t.replace(/\x1b\[20[01]~/g, '')}${CSI}201~` : t;
}
