// The escape-sequence parser: a state machine over the decoded text that
// calls its handler with what it found. Printable runs go out whole.
//   print(text)                     printable characters
//   execute(code)                   a C0 control (BS, HT, LF, CR, …)
//   esc(intermediates, final)       ESC 7, ESC ( 0, ESC # 8, …
//   csi(prefix, params, intermediates, final)
//                                   CSI ? 25 h → ('?', [25], '', 'h'); a missing parameter is -1,
//                                   sub-parameters (38:2:r:g:b) arrive as nested arrays
//   osc(text)                       OSC … BEL/ST (titles and the like)
// DCS, SOS, PM and APC strings are skipped up to their terminator.

const GROUND = 0;
const ESC = 1;
const CSI = 2;
const OSC = 3;
const STRING = 4;   // DCS/SOS/PM/APC: ignored up to ST
const STRING_ESC = 5;
const OSC_ESC = 6;

const MAX_PARAMS = 32;
const MAX_OSC = 4096;

export class Parser {
  constructor(handler) {
    this.h = handler;
    this.state = GROUND;
    this.reset();
  }

  reset() {
    this.prefix = '';
    this.inter = '';
    this.params = [];
    this.cur = '';
    this.osc = '';
  }

  write(s) {
    const h = this.h;
    const n = s.length;
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      switch (this.state) {
        case GROUND: {
          if (c >= 0x20 && c !== 0x7f) {
            let j = i + 1;
            while (j < n) {
              const d = s.charCodeAt(j);
              if (d < 0x20 || d === 0x7f) break;
              j++;
            }
            h.print(s.slice(i, j));
            i = j;
            continue;
          }
          if (c === 0x1b) { this.reset(); this.state = ESC; }
          else if (c !== 0x7f) h.execute(c);
          break;
        }
        case ESC:
          if (c === 0x1b) { this.reset(); break; }
          if (c < 0x20) { h.execute(c); break; }
          if (c >= 0x20 && c <= 0x2f) { this.inter += s[i]; break; }
          if (this.inter === '' && c === 0x5b) { this.state = CSI; break; }        // [
          if (this.inter === '' && c === 0x5d) { this.state = OSC; break; }        // ]
          if (this.inter === '' && (c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f)) { this.state = STRING; break; } // P X ^ _
          this.state = GROUND;
          h.esc(this.inter, s[i]);
          break;
        case CSI:
          if (c === 0x1b) { this.reset(); this.state = ESC; break; }
          if (c < 0x20) { h.execute(c); break; }
          if (c >= 0x30 && c <= 0x3b) {
            if (c === 0x3b) { this.pushParam(); }
            else this.cur += s[i];
          } else if (c >= 0x3c && c <= 0x3f) {
            this.prefix += s[i];
          } else if (c >= 0x20 && c <= 0x2f) {
            this.inter += s[i];
          } else if (c >= 0x40 && c <= 0x7e) {
            this.pushParam();
            this.state = GROUND;
            h.csi(this.prefix, this.params, this.inter, s[i]);
          } else {
            this.state = GROUND; // not a CSI after all
          }
          break;
        case OSC:
          if (c === 0x07) { this.endOsc(); break; }
          if (c === 0x1b) { this.state = OSC_ESC; break; }
          if (this.osc.length < MAX_OSC) this.osc += s[i];
          break;
        case OSC_ESC:
          if (c === 0x5c) { this.endOsc(); break; }
          this.endOsc();
          this.reset();
          this.state = ESC;
          continue; // the ESC started something else: read this character in it
        case STRING:
          if (c === 0x1b) this.state = STRING_ESC;
          else if (c === 0x07) this.state = GROUND;
          break;
        case STRING_ESC:
          this.state = c === 0x5c ? GROUND : STRING;
          break;
        default:
          this.state = GROUND;
      }
      i++;
    }
  }

  pushParam() {
    if (this.params.length >= MAX_PARAMS) return;
    const t = this.cur;
    this.cur = '';
    if (t.includes(':')) {
      this.params.push(t.split(':').map((x) => (x === '' ? -1 : Number(x))));
    } else {
      this.params.push(t === '' ? -1 : Math.min(Number(t), 65535));
    }
  }

  endOsc() {
    this.state = GROUND;
    const text = this.osc;
    this.osc = '';
    this.h.osc(text);
  }
}
