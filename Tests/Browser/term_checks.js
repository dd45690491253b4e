// Checks of the console's terminal emulator (www/js/term/), run inside the
// page by console_test.py (execute_async_script): known output goes in, the
// screen text, attributes, replies and DOM rows are compared with what an
// xterm shows. The last argument is the callback; it gets a list of failures.
const done = arguments[arguments.length - 1];
(async () => {
  const { Terminal } = await import('/js/term/terminal.js');
  const { keySequence } = await import('/js/term/keys.js');
  const fails = [];
  const host = document.createElement('div');
  host.style.cssText = 'position:fixed;left:0;top:0;width:660px;height:420px;z-index:-1';
  document.body.append(host);
  const sent = [];
  const t = new Terminal(host, { onData: (s) => sent.push(s), scrollback: 100 });
  t.resizeObserver.disconnect(); // a known size, whatever the element offers (fit() is checked at the end)
  t.em.resize(40, 10);
  const reset = () => { t.write('\x1bc'); sent.length = 0; };
  const lines = () => t.screenLines();
  const eq = (name, got, want) => {
    const g = JSON.stringify(got);
    const w = JSON.stringify(want);
    if (g !== w) fails.push(`${name}: got ${g}, want ${w}`);
  };
  const rows = (n) => lines().slice(0, n);

  reset(); t.write('hello\r\nworld');
  eq('CR LF', rows(2), ['hello', 'world']);
  reset(); t.write('\x1b[3;5HX\x1b[1;1HY\x1b[2;3fZ');
  eq('CUP', rows(3), ['Y', '  Z', '    X']);
  reset(); t.write('abcdef\x1b[3D\x1b[K');
  eq('EL 0', rows(1), ['abc']);
  reset(); t.write('abcdef\x1b[3D\x1b[1K');
  eq('EL 1', rows(1), ['    ef']);
  reset(); t.write('one\r\ntwo\r\nthree\x1b[2;2H\x1b[J');
  eq('ED 0', rows(3), ['one', 't', '']);
  reset(); t.write('one\r\ntwo\r\nthree\x1b[2;2H\x1b[1J');
  eq('ED 1', rows(3), ['', '  o', 'three']);
  reset(); t.write('one\r\ntwo\x1b[2J');
  eq('ED 2', rows(2), ['', '']);
  reset(); t.write('abcdef\r\x1b[2@');
  eq('ICH', rows(1), ['  abcdef']);
  reset(); t.write('abcdef\r\x1b[2P');
  eq('DCH', rows(1), ['cdef']);
  reset(); t.write('abcdef\r\x1b[2X');
  eq('ECH', rows(1), ['  cdef']);
  reset(); t.write('1\r\n2\r\n3\r\n4\x1b[2;1H\x1b[L');
  eq('IL', rows(5), ['1', '', '2', '3', '4']);
  reset(); t.write('1\r\n2\r\n3\r\n4\x1b[2;1H\x1b[2M');
  eq('DL', rows(4), ['1', '4', '', '']);
  reset(); t.write('\x1b[A\x1b[5;5H\x1b[2A\x1b[3C\x1b[1Dx\x1b[2Bb\x1b[10Gg');
  eq('CUU CUF CUB CUD CHA', rows(5), ['', '', '      x', '', '       b g']);
  reset(); t.write('1\r\n2\r\n3\r\n4\r\n5\x1b[2;4r\x1b[4;1H\n\nX');
  eq('scroll region', rows(5), ['1', '4', '', 'X', '5']);
  reset(); t.write('\x1b[2;4r\x1b[2;1Ha\r\nb\r\nc\x1b[2;1H\x1bMtop');
  eq('RI in region', rows(5), ['', 'top', 'a', 'b', '']);
  reset(); t.write('1\r\n2\r\n3\x1b[2S');
  eq('SU', rows(3), ['3', '', '']);
  reset(); t.write('x'.repeat(45));
  eq('autowrap', rows(2), ['x'.repeat(40), 'xxxxx']);
  reset(); t.write('\x1b[?7l' + 'y'.repeat(45));
  eq('DECAWM off', rows(2), ['y'.repeat(39) + 'y', '']);
  reset(); t.write('a\tb\x1b[3g\x1b[1;1H\x1bH');
  eq('HT', rows(1), ['a       b']);
  reset(); t.write('ab\x1b7\x1b[5;5Hcd\x1b8ef');
  eq('DECSC DECRC', [rows(5)[0], rows(5)[4]], ['abef', '    cd']);
  reset(); t.write('ab\x1b[s\x1b[3;3H\x1b[uc');
  eq('CSI s u', rows(1), ['abc']);
  reset(); t.write('main\x1b[?1049hALT\x1b[2;2Hx');
  eq('alternate screen (cursor stays, screen cleared)', rows(2), ['    ALT', ' x']);
  t.write('\x1b[?1049l!');
  eq('back from the alternate screen', rows(2), ['main!', '']);
  reset(); t.write('\x1b[1;4;31mR\x1b[0m\x1b[38;5;196mP\x1b[38;2;1;2;3mT\x1b[48:2::9:8:7mC\x1b[7mI');
  const a = t.em.buf.lines[0].attrs;
  eq('SGR bold underline red', [a[0].flags & 9, a[0].fg], [9, 1]);
  eq('SGR 256', a[1].fg, 196);
  eq('SGR truecolor', a[2].fg, 0x1000000 | 0x010203);
  eq('SGR truecolor, colon form', a[3].bg, 0x1000000 | 0x090807);
  eq('SGR inverse', a[4].flags & 32, 32);
  t.flush();
  const spans = [...t.em.buf.lines[0].el.querySelectorAll('span')];
  eq('SGR drawn', [spans[0].className, spans[0].style.color, spans[1].style.color, spans[2].style.color],
    ['tb tu', 'var(--term-c1)', 'rgb(255, 0, 0)', 'rgb(1, 2, 3)']);
  reset(); t.write('\x1b]0;my title\x07ok\x1b]2;other\x1b\\!');
  eq('OSC title', [rows(1)[0], t.em.title], ['ok!', 'other']);
  reset(); t.write('\x1bP1$r0m\x1b\\after');
  eq('DCS skipped', rows(1), ['after']);
  reset(); t.write('\x1b(0lqk\x1b(Bx');
  eq('DEC line drawing', rows(1), ['\u250c\u2500\u2510x']);
  reset();
  const utf8 = new TextEncoder().encode('zürich €');
  t.write(utf8.slice(0, 2)); t.write(utf8.slice(2, 9)); t.write(utf8.slice(9));
  eq('UTF-8 split across writes', rows(1), ['zürich €']);
  reset(); t.write('e\u0301!');
  eq('combining mark', rows(1), ['e\u0301!']);
  reset(); t.write('日本x');
  eq('wide characters take two cells', [rows(1)[0], t.em.x], ['日本x', 5]);
  reset(); t.write('\x1b[1;40H日');
  eq('a wide character wraps at the last column', rows(2), ['', '日']);
  reset(); t.write('\x1b[3;7H\x1b[6n\x1b[c\x1b[5n');
  eq('DSR and DA replies', sent, ['\x1b[3;7R', '\x1b[?62;22c', '\x1b[0n']);
  reset(); t.write('\x1b[?2004h'); t.paste('a\nb');
  eq('bracketed paste', sent, ['\x1b[200~a\rb\x1b[201~']);
  reset(); t.write('\x1b[?2004l'); t.paste('a\nb');
  eq('plain paste', sent, ['a\rb']);

  // Scrollback: lines that leave the top go to the history above the screen.
  reset(); t.flush();
  for (let i = 0; i < 25; i++) t.write(`line ${i}\r\n`);
  t.flush();
  eq('scrollback kept', t.em.normal.scrollback.length, 16);
  eq('history rows', [...host.querySelectorAll('.term-history .term-row')].slice(-2).map((r) => r.textContent), ['line 14', 'line 15']);
  eq('screen rows', host.querySelectorAll('.term-rows .term-row').length, 10);

  // Only changed rows are drawn again; the others keep their elements.
  reset(); t.write('a\r\nb\r\nc'); t.flush();
  const before = [...host.querySelectorAll('.term-rows .term-row')];
  const changed = new Set();
  const mo = new MutationObserver((ms) => { for (const m of ms) changed.add(m.target.closest('.term-row')); });
  mo.observe(host, { childList: true, subtree: true, characterData: true });
  t.write('\x1b[1;1HA'); t.flush();
  await new Promise((r) => setTimeout(r, 0));
  mo.disconnect();
  const after = [...host.querySelectorAll('.term-rows .term-row')];
  eq('rows kept', after.every((r, i) => r === before[i]), true);
  eq('rows drawn again (text, old and new cursor)', [...changed].filter(Boolean).length <= 2 && changed.has(after[0]), true);

  // Cursor: shown as a cell, hidden by DECTCEM.
  reset(); t.write('ab'); t.flush();
  eq('cursor drawn', !!host.querySelector('.term-rows .term-cursor'), true);
  t.write('\x1b[?25l'); t.flush();
  eq('cursor hidden', !!host.querySelector('.term-rows .term-cursor'), false);

  // Keys.
  const key = (k, mods = {}, modes = {}) => keySequence({ key: k, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods }, modes);
  eq('keys', [key('ArrowUp'), key('ArrowUp', {}, { appCursor: true }), key('ArrowLeft', { ctrlKey: true }), key('Home'), key('End'),
    key('PageUp'), key('PageDown'), key('Delete'), key('F1'), key('F5'), key('F12'), key('c', { ctrlKey: true }), key('x', { altKey: true }),
    key('Enter'), key('Backspace'), key('Tab', { shiftKey: true }), key('a'), key('[', { ctrlKey: true })],
  ['\x1b[A', '\x1bOA', '\x1b[1;5D', '\x1b[H', '\x1b[F', '\x1b[5~', '\x1b[6~', '\x1b[3~', '\x1bOP', '\x1b[15~', '\x1b[24~', '\x03', '\x1bx',
    '\r', '\x7f', '\x1b[Z', null, '\x1b']);

  // Typing into the terminal's input goes out as data.
  reset();
  t.input.value = 'ls';
  t.input.dispatchEvent(new InputEvent('input', { data: 'ls', inputType: 'insertText' }));
  t.input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
  eq('typed input', sent, ['ls', '\r']);

  // Throughput: 5,000 lines of coloured output, parsed and drawn.
  reset();
  const began = performance.now();
  for (let i = 0; i < 5000; i++) t.write(`\x1b[32m${i}\x1b[0m ${'lorem ipsum '.repeat(3)}\r\n`);
  t.flush();
  const took = performance.now() - began;
  if (took > 3000) fails.push(`5,000 lines took ${took.toFixed(0)} ms`);
  eq('scrollback after a flood', t.em.normal.scrollback.length, 100);

  // Resize to the element: cols and rows from its pixels.
  t.fit();
  eq('fit to the element', t.cols > 40 && t.rows > 10, true);

  t.dispose();
  host.remove();
  done({ fails, took });
})().catch((e) => done({ fails: [`exception: ${e && (e.stack || e.message) || e}`] }));
