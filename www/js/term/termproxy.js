// PVE's termproxy protocol over …/vncwebsocket. After the WebSocket opens
// the client sends "USER:TICKET\n" and the server answers "OK"; from then on
// the server sends raw terminal output, and the client sends frames:
//   0:LEN:DATA     input (LEN in UTF-8 bytes)
//   1:COLS:ROWS:   the terminal's size
//   2              keep-alive (every 30 s)

const PING_MS = 30000;
const encoder = new TextEncoder();

/**
 * openTermproxy({url, user, ticket, cols, rows, onOutput(bytes), onReady(), onClose(reason), onRefused(text)})
 * → {sendInput(text), resize(cols, rows), close()}
 */
export function openTermproxy({ url, user, ticket, cols = 80, rows = 24, onOutput, onReady, onClose, onRefused }) {
  const ws = new WebSocket(url, ['binary']);
  ws.binaryType = 'arraybuffer';
  let ready = false;
  let closed = false;
  let ping = null;
  let size = { cols, rows };

  const send = (s) => { if (ready && ws.readyState === WebSocket.OPEN) ws.send(s); };

  ws.addEventListener('open', () => ws.send(`${user}:${ticket}\n`));
  let early = [];
  ws.addEventListener('message', (ev) => {
    const text = typeof ev.data === 'string';
    const bytes = text ? encoder.encode(ev.data) : new Uint8Array(ev.data);
    if (ready) { onOutput(bytes); return; }
    // The login's answer is a text message "OK"; output that came ahead of it is kept for after it.
    if (!(bytes[0] === 0x4f && bytes[1] === 0x4b)) {
      if (!text) { early.push(bytes); return; }
      onRefused?.(new TextDecoder().decode(bytes.slice(0, 200)));
      ws.close();
      return;
    }
    ready = true;
    ws.send(`1:${size.cols}:${size.rows}:`);
    ping = setInterval(() => send('2'), PING_MS);
    onReady?.();
    for (const b of early) onOutput(b);
    early = [];
    if (bytes.length > 2) onOutput(bytes.subarray(2));
  });
  ws.addEventListener('close', (ev) => {
    if (ping) clearInterval(ping);
    ping = null;
    const was = closed;
    closed = true;
    if (!was) onClose?.(ready ? (ev.wasClean ? 'closed' : 'lost') : 'refused');
  });

  return {
    sendInput(text) { send(`0:${encoder.encode(text).length}:${text}`); },
    resize(c, r) { size = { cols: c, rows: r }; send(`1:${c}:${r}:`); },
    close() {
      closed = true;
      if (ping) clearInterval(ping);
      try { ws.close(); } catch { /* closing already */ }
    },
    get ready() { return ready; },
  };
}
