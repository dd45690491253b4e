// DEC Special Graphics (ESC ( 0): the line-drawing set ncurses and dialog use
// for boxes, mapped onto Unicode. Other characters pass through unchanged.

const SPECIAL = {
  '`': '\u25c6', a: '\u2592', b: '\u2409', c: '\u240c', d: '\u240d', e: '\u240a', f: '\u00b0', g: '\u00b1',
  h: '\u2424', i: '\u240b', j: '\u2518', k: '\u2510', l: '\u250c', m: '\u2514', n: '\u253c', o: '\u23ba',
  p: '\u23bb', q: '\u2500', r: '\u23bc', s: '\u23bd', t: '\u251c', u: '\u2524', v: '\u2534', w: '\u252c',
  x: '\u2502', y: '\u2264', z: '\u2265', '{': '\u03c0', '|': '\u2260', '}': '\u00a3', '~': '\u00b7',
};

/** The text as it shows in charset `set` ('0' = DEC Special Graphics, anything else as is). */
export function translate(text, set) {
  if (set !== '0') return text;
  let out = '';
  for (const ch of text) out += SPECIAL[ch] || ch;
  return out;
}
