/**
 * Issue 15, items 1, 2 and 7: requests and frames that used to end `charmer serve` without a token,
 * sent on raw sockets to a real server process. After each, the process is alive, wrote no
 * "unexpected error" sentence (the CLI's last-resort handler must stay unreachable), and answers a
 * valid call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, tearDown, type Served } from '../e2e/helpers.ts';
import { MAX_MESSAGE_BYTES } from '../../src/server/index.ts';
import { httpText, malformedFrames, rawExchange, rawWebSocket, wsCall } from './raw.ts';

let dir: string;
let served: Served;
let token: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'charmer-hostile-'));
  served = await serve(join(dir, 'data'));
  token = new URL(served.url).searchParams.get('token')!;
});

afterAll(async () => {
  await tearDown(undefined, served, dir);
});

async function stillServing(): Promise<void> {
  const info = await wsCall(served.port, token, 'app.info', {});
  expect(info.error).toBeNull();
  expect(served.proc.exitCode).toBeNull();
  expect(served.proc.signalCode).toBeNull();
  expect(served.output()).not.toMatch(/charmer serve: an unexpected/);
}

const host = () => ({ Host: `127.0.0.1:${served.port}` });

describe('requests that ended the server (issue 15, item 1)', () => {
  it('GET // without a token is refused, and the server keeps serving', async () => {
    const answer = await rawExchange(served.port, httpText('GET', '//', host()));
    expect(answer).toMatch(/^HTTP\/1\.1 (400|401)/);
    const withToken = await rawExchange(served.port, httpText('GET', `//?token=${token}`, host()));
    expect(withToken).toMatch(/^HTTP\/1\.1 (400|404)/);
    await stillServing();
  });

  it('a malformed cookie from another app on 127.0.0.1 neither ends the server nor locks the person out', async () => {
    const cookie = 'other_app=50%; poison=100%; bad=%E0%A4%A';
    const anon = await rawExchange(served.port, httpText('GET', '/', { ...host(), Cookie: cookie }));
    expect(anon).toMatch(/^HTTP\/1\.1 401/);
    const page = await rawExchange(served.port, httpText('GET', `/?token=${token}`, { ...host(), Cookie: cookie }));
    expect(page).toMatch(/^HTTP\/1\.1 200/);
    await stillServing();
  });

  it('a WebSocket upgrade to // (any Host) is refused, and the server keeps serving', async () => {
    for (const h of [`127.0.0.1:${served.port}`, 'evil.example']) {
      const answer = await rawExchange(
        served.port,
        httpText('GET', '//', { Host: h, Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' }).replace(
          'Connection: close',
          'Connection: Upgrade',
        ),
      );
      expect(answer).toMatch(/^HTTP\/1\.1 40[03]/);
    }
    await stillServing();
  });

  it('a percent-encoding error in the path is a 400, not a crash', async () => {
    const answer = await rawExchange(served.port, httpText('GET', `/%E0%A4%A?token=${token}`, host()));
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    await stillServing();
  });
});

describe('malformed WebSocket frames (issue 15, items 2 and 7)', () => {
  for (const [what, frame] of malformedFrames(MAX_MESSAGE_BYTES)) {
    it(`${what}: that connection is closed, the server keeps serving`, async () => {
      const { sock, closed } = await rawWebSocket(served.port, token);
      sock.write(frame);
      const tail = await closed;
      if (what === 'length over maxPayload') {
        // The server says why: close code 1009, "message too big", before reading any payload.
        const at = tail.indexOf(0x88);
        expect(at).toBeGreaterThanOrEqual(0);
        expect(tail.readUInt16BE(at + 2)).toBe(1009);
      }
      await stillServing();
    });
  }

  it('the largest legitimate message still fits: a 10-million-character draft', async () => {
    const text = 'é'.repeat(5_000_000) + 'a'.repeat(5_000_000);
    const saved = await wsCall(served.port, token, 'drafts.save', { title: 'long', text });
    expect(saved.error).toBeNull();
    expect((saved.result as { text: string }).text.length).toBe(10_000_000);
    await stillServing();
  });
});

describe('the last resort of charmer serve', () => {
  it('reports an unexpected error as a sentence and keeps serving', async () => {
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${saved ?? ''} --import ${join(import.meta.dirname, 'inject-throw.mjs')}`.trim();
    let other: Served | undefined;
    try {
      other = await serve(join(dir, 'data-inject'));
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    try {
      const said = new Promise<void>((resolve) => {
        const check = () => {
          if (
            /unexpected error \(injected defect\).*keeps running/.test(other!.output()) &&
            /unexpected failure in a background task \(injected rejection\)/.test(other!.output())
          )
            resolve();
        };
        other!.proc.stderr!.on('data', check);
        check();
      });
      other.proc.kill('SIGUSR2');
      await said;
      const tokenOther = new URL(other.url).searchParams.get('token')!;
      expect((await wsCall(other.port, tokenOther, 'app.info', {})).error).toBeNull();
      expect(other.proc.exitCode).toBeNull();
    } finally {
      await other?.stop();
    }
  });
});
