// Colours as CSS: the 16 ANSI colours come from custom properties (so the
// themes can tune them, see .term in corral.css), the 6×6×6 cube and the grey
// ramp of the 256-colour palette and 24-bit colours are computed.

import { TRUECOLOR } from './cells.js';

const hex2 = (n) => n.toString(16).padStart(2, '0');
const rgb = (r, g, b) => `#${hex2(r)}${hex2(g)}${hex2(b)}`;
const CUBE = [0, 95, 135, 175, 215, 255];

const PALETTE = [];
for (let i = 0; i < 16; i++) PALETTE.push(`var(--term-c${i})`);
for (let i = 0; i < 216; i++) PALETTE.push(rgb(CUBE[Math.floor(i / 36)], CUBE[Math.floor(i / 6) % 6], CUBE[i % 6]));
for (let i = 0; i < 24; i++) { const v = 8 + i * 10; PALETTE.push(rgb(v, v, v)); }

/** CSS for a colour of cells.js; `dflt` for -1 (the default). */
export function cssColor(c, dflt) {
  if (c < 0) return dflt;
  if (c >= TRUECOLOR) return `#${(c & 0xffffff).toString(16).padStart(6, '0')}`;
  return PALETTE[c] || dflt;
}
