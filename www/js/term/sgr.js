// SGR (CSI … m): the parameters applied to an attribute, giving a new one.
// 30–37/90–97 and 40–47/100–107 pick ANSI colours; 38/48 take 5;N (palette)
// or 2;R;G;B (24-bit), written with ";" or ":" between the parts.

import { Attr, BOLD, DIM, ITALIC, UNDERLINE, BLINK, INVERSE, HIDDEN, STRIKE, TRUECOLOR, DEFAULT_ATTR } from './cells.js';

const SET = { 1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 5: BLINK, 7: INVERSE, 8: HIDDEN, 9: STRIKE };
const CLEAR = { 21: UNDERLINE, 22: BOLD | DIM, 23: ITALIC, 24: UNDERLINE, 25: BLINK, 27: INVERSE, 28: HIDDEN, 29: STRIKE };

/** An extended colour from params[i…]; returns [colour | null, parameters used]. */
function extended(params, i) {
  const p = params[i];
  const parts = Array.isArray(p) ? p.slice(1) : params.slice(i + 1);
  const used = Array.isArray(p) ? 1 : null;
  if (parts[0] === 5 && parts.length >= 2) {
    return [parts[1] >= 0 && parts[1] < 256 ? parts[1] : null, used ?? 3];
  }
  if (parts[0] === 2) {
    // 38:2:CS:R:G:B (with a colour space id) or 38;2;R;G;B
    const rgb = Array.isArray(p) && parts.length >= 5 ? parts.slice(2, 5) : parts.slice(1, 4);
    if (rgb.length < 3) return [null, used ?? params.length];
    const [r, g, b] = rgb.map((v) => Math.max(0, Math.min(255, v < 0 ? 0 : v)));
    return [TRUECOLOR | (r << 16) | (g << 8) | b, used ?? 5];
  }
  return [null, used ?? params.length];
}

export function applySgr(attr, params) {
  let { fg, bg, flags } = attr;
  if (!params.length) params = [0];
  for (let i = 0; i < params.length;) {
    const raw = params[i];
    const p = Array.isArray(raw) ? raw[0] : raw < 0 ? 0 : raw;
    let used = 1;
    if (p === 0) { fg = -1; bg = -1; flags = 0; }
    else if (SET[p]) flags |= SET[p];
    else if (CLEAR[p]) flags &= ~CLEAR[p];
    else if (p >= 30 && p <= 37) fg = p - 30;
    else if (p >= 40 && p <= 47) bg = p - 40;
    else if (p >= 90 && p <= 97) fg = p - 90 + 8;
    else if (p >= 100 && p <= 107) bg = p - 100 + 8;
    else if (p === 39) fg = -1;
    else if (p === 49) bg = -1;
    else if (p === 38 || p === 48) {
      const [c, n] = extended(params, i);
      used = n;
      if (c !== null) { if (p === 38) fg = c; else bg = c; }
    }
    i += used;
  }
  if (fg === -1 && bg === -1 && flags === 0) return DEFAULT_ATTR;
  if (fg === attr.fg && bg === attr.bg && flags === attr.flags) return attr;
  return new Attr(fg, bg, flags);
}
