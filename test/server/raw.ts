/** Raw sockets against browser mode: bytes as an attacker would send them, below any HTTP or WebSocket library. */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

/** Sends `bytes` on a fresh connection and resolves with what came back once the server closed it (or after `idleMs` of silence once it answered). */
export function rawExchange(port: number, bytes: Buffer | string, opts: { endAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.write(bytes, () => {
      if (opts.endAfterWrite) sock.end();
    });
  });
}

/** An HTTP/1.1 request as text. */
export function httpText(method: string, target: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
  if (body || method === 'POST') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** A WebSocket frame: `first` is FIN/RSV/opcode, masked unless told otherwise; `length` overrides the declared payload length. */
export function wsFrame(first: number, payload: Buffer, opts: { mask?: boolean; length?: number } = {}): Buffer {
  const mask = opts.mask ?? true;
  const len = opts.length ?? payload.length;
  const head: number[] = [first];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(m | 127, ...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((x, i) => x ^ key[i & 3]!));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** Opens a WebSocket by hand (token in the query) and resolves with the socket once the server switched protocols. */
export function rawWebSocket(port: number, token: string): Promise<{ sock: net.Socket; closed: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const after: Buffer[] = [];
    const closed = new Promise<Buffer>((r) => {
      sock.on('close', () => r(Buffer.concat(after)));
      sock.on('error', () => {}); // a reset is a close here
    });
    sock.on('data', (d) => {
      if (upgraded) return void after.push(d);
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error(`no upgrade: ${head}`));
      upgraded = true;
      if (buf.length > end + 4) after.push(buf.subarray(end + 4));
      resolve({ sock, closed });
    });
    sock.once('error', reject);
    sock.write(
      httpText('GET', `/api/ws?token=${token}`, {
        Host: `127.0.0.1:${port}`,
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
        Origin: `http://127.0.0.1:${port}`,
      }).replace('Connection: close', 'Connection: Upgrade'),
    );
  });
}

/** The eight malformed frames of issue 15, each of which ended the server before. */
export function malformedFrames(maxPayload: number): Array<[string, Buffer]> {
  return [
    ['text frame with invalid UTF-8', wsFrame(0x81, Buffer.from([0xff, 0xfe, 0xfd]))],
    ['length over maxPayload', wsFrame(0x82, Buffer.alloc(0), { length: maxPayload + 1 })],
    ['unmasked client frame', wsFrame(0x81, Buffer.from('hi'), { mask: false })],
    ['reserved opcode 3', wsFrame(0x83, Buffer.from('x'))],
    ['RSV1 without permessage-deflate', wsFrame(0xc1, Buffer.from('x'))],
    ['close frame with code 1005', wsFrame(0x88, Buffer.from([0x03, 0xed]))],
    ['ping over 125 bytes', wsFrame(0x89, Buffer.alloc(126, 1))],
    ['continuation with nothing to continue', wsFrame(0x80, Buffer.from('x'))],
  ];
}

/** One call over a proper WebSocket client; resolves with the reply's envelope. */
export async function wsCall(
  port: number,
  token: string,
  op: string,
  input: unknown,
): Promise<{ error: { code: string; message: string } | null; result: unknown }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws?token=${token}`, { headers: { Origin: `http://127.0.0.1:${port}` } });
  try {
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    return await new Promise((resolve, reject) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d));
        if (m.t === 'reply' && m.id === 1) resolve(m.envelope);
      });
      ws.once('close', () => reject(new Error('closed before the reply')));
      ws.send(JSON.stringify({ t: 'call', id: 1, op, input }));
    });
  } finally {
    ws.terminate();
  }
}

export interface ApiConnection {
  call(op: string, input: unknown): Promise<{ error: { code: string; message: string } | null; result: unknown }>;
  /** Resolves with the first event payload of `name` that `match` accepts (events seen before the call count too). */
  waitEvent<T = Record<string, unknown>>(name: string, match: (payload: T) => boolean): Promise<T>;
  /** Every event of `name` seen so far. */
  seen<T = Record<string, unknown>>(name: string): T[];
  close(): void;
}

/** A lasting WebSocket connection: calls, and every event kept for waitEvent. */
export async function connectApi(port: number, token: string): Promise<ApiConnection> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws?token=${token}`, { headers: { Origin: `http://127.0.0.1:${port}` }, maxPayload: 256 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  let next = 1;
  const replies = new Map<number, (e: never) => void>();
  const seen: Array<{ name: string; payload: unknown }> = [];
  const waiters = new Set<{ name: string; match: (p: never) => boolean; resolve: (p: never) => void }>();
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.t === 'reply') {
      replies.get(m.id)?.(m.envelope as never);
      replies.delete(m.id);
    } else if (m.t === 'event') {
      seen.push({ name: m.name, payload: m.payload });
      for (const w of [...waiters]) {
        if (w.name === m.name && w.match(m.payload as never)) {
          waiters.delete(w);
          w.resolve(m.payload as never);
        }
      }
    }
  });
  return {
    call: (op, input) =>
      new Promise((resolve) => {
        const id = next++;
        replies.set(id, resolve as never);
        ws.send(JSON.stringify({ t: 'call', id, op, input }));
      }),
    waitEvent: <T>(name: string, match: (p: T) => boolean) =>
      new Promise<T>((resolve) => {
        const old = seen.find((e) => e.name === name && match(e.payload as T));
        if (old) return resolve(old.payload as T);
        waiters.add({ name, match: match as never, resolve: resolve as never });
      }),
    seen: <T>(name: string) => seen.filter((e) => e.name === name).map((e) => e.payload as T),
    close: () => ws.terminate(),
  };
}
