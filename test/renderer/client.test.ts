import { describe, expect, it } from 'vitest';
import { browserPlatform, electronPlatform } from '../../src/renderer/lib/client.ts';
import { ApiError } from '../../src/api/errors.ts';

class FakeWS {
  static last: FakeWS;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(public url: string) {
    FakeWS.last = this;
  }
  send(m: string) {
    this.sent.push(m);
  }
  reply(id: number, envelope: unknown) {
    this.onmessage!({ data: JSON.stringify({ t: 'reply', id, envelope }) });
  }
}

describe('renderer client', () => {
  it('browser mode: queues calls until connected, rebuilds typed errors, delivers events', async () => {
    const p = browserPlatform({ host: '127.0.0.1:9', protocol: 'http:', search: '?token=abc' }, FakeWS as never);
    const ws = FakeWS.last;
    expect(ws.url).toBe('ws://127.0.0.1:9/api/ws?token=abc');
    const list = p.api.library.list();
    const get = p.api.library.get({ id: 7 });
    expect(ws.sent).toEqual([]);
    ws.onopen!();
    expect(ws.sent.map((m) => JSON.parse(m).op)).toEqual(['library.list', 'library.get']);
    const [a, b] = ws.sent.map((m) => JSON.parse(m).id);
    ws.reply(a, { error: null, result: [] });
    ws.reply(b, { error: { code: 'NOT_FOUND', message: 'There is no corpus 7.' }, result: null });
    expect(await list).toEqual([]);
    const err = await get.catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'There is no corpus 7.' });
    const seen: unknown[] = [];
    p.api.on.runEvent((e) => seen.push(e));
    ws.onmessage!({ data: JSON.stringify({ t: 'event', name: 'runEvent', payload: { runId: 1 } }) });
    expect(seen).toEqual([{ runId: 1 }]);
  });

  it('browser mode: a call cut off by a lost connection fails instead of running twice', async () => {
    const p = browserPlatform({ host: 'h:1', protocol: 'http:', search: '' }, FakeWS as never);
    const ws = FakeWS.last;
    ws.onopen!();
    const start = p.api.runs.start({ corpusId: 1, config: {} });
    ws.onclose!();
    await expect(start).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('Electron: unwraps the preload’s envelopes', async () => {
    const p = electronPlatform({
      ops: {
        runs: { stop: async () => ({ error: { code: 'RUN_ACTIVE', message: 'busy' }, result: null }) },
        library: { list: async () => ({ error: null, result: [1] }) },
      },
      on: { runEvent: () => () => {} },
      pathForFile: () => '/x',
    } as never);
    expect(await p.api.library.list()).toEqual([1]);
    await expect(p.api.runs.stop({ id: 1 })).rejects.toMatchObject({ code: 'RUN_ACTIVE', message: 'busy' });
  });
});
