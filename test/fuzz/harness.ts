/**
 * Fuzzing the whole API surface (issue 15): every operation of the contract through a real
 * `charmer serve` (WebSocket) and through the Electron IPC wiring (src/main/ipc.ts, with a stand-in
 * ipcMain), plus raw HTTP requests and raw WebSocket frames. Inputs come from fast-check, derived
 * from each operation's zod schema (mostly valid, sometimes wrong in type or range, sometimes
 * anything at all). Checked: the server never exits, every reply is an envelope with a known code,
 * and afterwards each library passes SQLite's integrity_check with run rows matching run folders.
 *
 * Used by test/fuzz/api.test.ts (a few hundred seeded cases in `npm test`) and scripts/fuzz.ts
 * (`npm run fuzz -- --calls 10000`).
 */
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { contract } from '../../src/api/contract.ts';
import { channelsOf, opChannel } from '../../src/api/define.ts';
import { API_ERROR_CODES } from '../../src/api/errors.ts';
import { createDispatch } from '../../src/api/dispatch.ts';
import { createHandlers } from '../../src/api/node/handlers.ts';
import { registerIpc } from '../../src/main/ipc.ts';
import { createServices } from '../../src/services/index.ts';
import type { Services } from '../../src/services/types.ts';
import { serve, type Served } from '../e2e/helpers.ts';
import { connectApi, httpText, rawExchange, rawWebSocket, type ApiConnection } from '../server/raw.ts';

const CHANNELS = channelsOf(contract);
const KNOWN = new Set<string>(API_ERROR_CODES);
const ID_KEYS = new Set(['id', 'runId', 'corpusId', 'checkpointId']);

/** Small, fast training settings: the fuzzer starts real runs, which must end on their own. */
const smallConfig = fc.record(
  {
    rnnSize: fc.integer({ min: 1, max: 16 }),
    numLayers: fc.integer({ min: 1, max: 2 }),
    batchSize: fc.integer({ min: 1, max: 8 }),
    seqLength: fc.integer({ min: 1, max: 16 }),
    maxTime: fc.integer({ min: 1, max: 3 }),
    maxIters: fc.integer({ min: 0, max: 30 }),
    evalEvery: fc.integer({ min: 1, max: 10 }),
    model: fc.constantFrom('lstm', 'gru', 'rnn'),
    backend: fc.constantFrom('cpu', 'wasm', 'auto'),
    threads: fc.constantFrom(0, 1),
    dropout: fc.double({ min: 0, max: 0.9, noNaN: true }),
    seed: fc.integer(),
  },
  { requiredKeys: ['maxTime', 'backend', 'threads'] },
);

const pathStrings = (fixtures: string) =>
  fc.oneof(
    fc.constantFrom(
      path.join(fixtures, 'names.txt'),
      path.join(fixtures, 'pipe.txt'),
      path.join(fixtures, 'folder'),
      path.join(fixtures, 'link.txt'),
      path.join(fixtures, 'empty.txt'),
      path.join(fixtures, 'binary.bin'),
      path.join(fixtures, 'missing.txt'),
      '../../etc/passwd',
      '/etc/passwd',
      '.',
      '',
    ),
    fc.string({ maxLength: 20 }).map((s) => path.join(fixtures, s)),
  );

/** What a wrong value looks like: any JSON-ish thing. */
const junk = fc.oneof(fc.constantFrom(null, -1, 0, 1e308, -0.5, '', 'x', true, [], {}, 2 ** 53), fc.string({ maxLength: 10 }), fc.anything({ maxDepth: 2 }));

type Schema = { _zod: { def: Record<string, unknown> & { type: string } } } & Record<string, unknown>;

/** An arbitrary for a zod schema: mostly valid values, in small ranges; sometimes junk. */
function arb(schema: Schema, key: string, fixtures: string): fc.Arbitrary<unknown> {
  const def = schema._zod.def;
  if (key === 'config') return smallConfig;
  if (key === 'path') return pathStrings(fixtures);
  switch (def.type) {
    case 'optional':
      return fc.option(arb(def.innerType as Schema, key, fixtures), { nil: undefined });
    case 'nullable':
      return fc.option(arb(def.innerType as Schema, key, fixtures), { nil: null });
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const parts: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(shape)) parts[k] = arb(v, k, fixtures);
      return fc.record(parts).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    case 'number': {
      if (ID_KEYS.has(key)) return fc.integer({ min: 1, max: 8 });
      const min = Math.max(Number(schema.minValue ?? -1000), -1000);
      const max = Math.min(Number(schema.maxValue ?? 1000), min + 40);
      return schema.isInt ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case 'string': {
      if (schema.format === 'url') return fc.oneof(fc.webUrl(), fc.constantFrom('javascript:alert(1)', 'file:///etc/passwd', 'http://127.0.0.1/'));
      const min = Number(schema.minLength ?? 0);
      return fc.string({ minLength: min, maxLength: Math.max(min, 40), unit: fc.constantFrom('grapheme', 'binary', 'grapheme-ascii') as never });
    }
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...(schema.options as string[]));
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'array': {
      const el = arb(def.element as Schema, ID_KEYS.has(key.replace(/s$/, '')) ? key.replace(/s$/, '') : key, fixtures);
      return fc.array(el, { maxLength: 5 });
    }
    case 'union':
      return fc.oneof(...(def.options as Schema[]).map((o) => arb(o, key, fixtures)));
    default:
      return fc.anything({ maxDepth: 2 });
  }
}

/** Input for an operation: usually from its schema, sometimes with one field wrong, sometimes anything. */
function inputFor(channel: string, fixtures: string): fc.Arbitrary<unknown> {
  const [ns, name] = channel.split('.') as [string, string];
  const schema = (contract as unknown as Record<string, Record<string, { input: Schema }>>)[ns]![name]!.input;
  const good = arb(schema, '', fixtures);
  const keys = Object.keys((schema._zod.def.shape as Record<string, unknown>) ?? {});
  const broken = fc.tuple(good, fc.constantFrom(...(keys.length ? keys : ['x']), 'unknownKey'), junk).map(([g, k, v]) => ({ ...(g as object), [k]: v }));
  return fc.oneof({ weight: 6, arbitrary: good }, { weight: 2, arbitrary: broken }, { weight: 1, arbitrary: junk });
}

export type Action =
  | { kind: 'ws'; op: string; input: unknown }
  | { kind: 'ipc'; op: string; input: unknown; trusted: boolean }
  | { kind: 'ws-junk'; text: string }
  | { kind: 'http'; text: string }
  | { kind: 'frames'; frames: Buffer[] };

function actions(fixtures: string): fc.Arbitrary<Action> {
  const op = fc.constantFrom(...CHANNELS, ...CHANNELS.slice(0, 3).map((c) => c + 'x'), 'constructor', '__proto__.x', 'library', '');
  const call = op.chain((o) => fc.tuple(fc.constant(o), CHANNELS.includes(o) ? inputFor(o, fixtures) : junk));
  const target = fc.oneof(
    fc.constantFrom(
      '/',
      '//',
      '///',
      '/api/ws',
      '/api/upload',
      '/assets/x.js',
      '/%',
      '/%E0%A4%A',
      '/..%2f..%2fetc%2fpasswd',
      '*',
      'http://evil/',
      '/?token=%',
      '/index.html?token=x',
    ),
    fc.string({ maxLength: 30, unit: 'grapheme-ascii' }).map((s) => '/' + s.replace(/[\r\n ]/g, '')),
  );
  const header = fc.tuple(
    fc.constantFrom('Host', 'Cookie', 'Origin', 'Authorization', 'Content-Length', 'Transfer-Encoding', 'Upgrade', 'X-Junk'),
    fc.oneof(
      fc.constantFrom(
        '127.0.0.1:PORT',
        'evil.example',
        'a=50%; b=%E0',
        'token TOKEN',
        'Bearer x',
        '-1',
        '99999999999',
        'chunked',
        'websocket',
        'http://127.0.0.1:PORT',
        'null',
      ),
      fc.string({ maxLength: 20, unit: 'grapheme-ascii' }).map((s) => s.replace(/[\r\n]/g, '')),
    ),
  );
  const http = fc
    .tuple(
      fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'DELETE', 'G€T', ''),
      target,
      fc.array(header, { maxLength: 5 }),
      fc.string({ maxLength: 60 }),
      fc.boolean(),
    )
    .map(([method, t, hs, body, withToken]) => ({ method, t: withToken && !t.includes('?') ? `${t}?token=TOKEN` : t, hs, body }));
  const frame = fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 140 }),
      fc.boolean(),
      fc.option(fc.constantFrom(126, 65536, 2 ** 31, 2 ** 40), { nil: undefined }),
    )
    .map(([first, payload, mask, length]) => ({ first, payload: Buffer.from(payload), mask: mask || first % 7 !== 0, length }));
  return fc.oneof(
    { weight: 10, arbitrary: call.map(([o, input]) => ({ kind: 'ws' as const, op: o, input })) },
    { weight: 8, arbitrary: fc.tuple(call, fc.boolean()).map(([[o, input], t]) => ({ kind: 'ipc' as const, op: o, input, trusted: t || o.length % 5 !== 0 })) },
    { weight: 1, arbitrary: fc.oneof(fc.json(), fc.string({ maxLength: 40 })).map((text) => ({ kind: 'ws-junk' as const, text })) },
    { weight: 2, arbitrary: http.map((h) => ({ kind: 'http' as const, ...h }) as never) },
    { weight: 2, arbitrary: fc.array(frame, { minLength: 1, maxLength: 3 }).map((fs) => ({ kind: 'frames' as const, frames: fs as never })) },
  );
}

export interface FuzzReport {
  seed: number;
  cases: number;
  wsCalls: number;
  ipcCalls: number;
  httpRequests: number;
  frameBatches: number;
  /** The server process ended (it must never). */
  crashes: number;
  /** Replies that were not an envelope with a known code (each is listed in `problems`). */
  malformed: number;
  codes: Record<string, number>;
  integrity: { browser: string; electron: string };
  /** Run rows and run folders are the same set, in both libraries. */
  runsMatchFolders: boolean;
  seconds: number;
  problems: string[];
}

function checkEnvelope(env: unknown): string | null {
  if (!env || typeof env !== 'object') return `not an object: ${JSON.stringify(env)?.slice(0, 200)}`;
  const e = env as { error?: unknown; result?: unknown };
  if (!('error' in e) || !('result' in e)) return `missing error/result: ${JSON.stringify(env).slice(0, 200)}`;
  if (e.error === null) return null;
  const err = e.error as { code?: unknown; message?: unknown };
  if (e.result !== null) return 'error with a result';
  if (typeof err.code !== 'string' || !KNOWN.has(err.code)) return `unknown code ${String(err.code)}`;
  if (typeof err.message !== 'string' || !err.message) return `error ${err.code} without a message`;
  if (err.code === 'INTERNAL') return `INTERNAL: ${err.message.slice(0, 300)}`;
  return null;
}

function fixturesIn(dir: string): string {
  const f = path.join(dir, 'fixtures');
  fs.mkdirSync(path.join(f, 'folder'), { recursive: true });
  fs.writeFileSync(path.join(f, 'names.txt'), 'Ada\nBea\nCyd\nDot\nEve\nFay\nGus\nHal\n'.repeat(30));
  fs.writeFileSync(path.join(f, 'empty.txt'), '');
  fs.writeFileSync(path.join(f, 'binary.bin'), Buffer.from([0, 1, 2, 255, 254]));
  fs.symlinkSync('/etc/hostname', path.join(f, 'link.txt'));
  execFileSync('mkfifo', [path.join(f, 'pipe.txt')]);
  return f;
}

function consistency(dataDir: string): { integrity: string; match: boolean; detail: string } {
  const db = new Database(path.join(dataDir, 'charmer.db'), { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ');
    const fk = db.pragma('foreign_key_check') as unknown[];
    const rows = (db.prepare('SELECT id FROM runs ORDER BY id').all() as Array<{ id: number }>).map((r) => String(r.id));
    const runsDir = path.join(dataDir, 'runs');
    const folders = fs.existsSync(runsDir)
      ? fs
          .readdirSync(runsDir)
          .filter((n) => /^\d+$/.test(n))
          .sort((a, b) => Number(a) - Number(b))
      : [];
    const match = JSON.stringify(rows) === JSON.stringify(folders) && fk.length === 0;
    return { integrity, match, detail: `rows ${rows.join(',')} folders ${folders.join(',')} fk ${fk.length}` };
  } finally {
    db.close();
  }
}

/** Stops every run still training, so the library is at rest when it is checked. */
async function settle(call: (op: string, input: unknown) => Promise<{ error: unknown; result: unknown }>): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const runs = ((await call('runs.list', {})).result ?? []) as Array<{ id: number; status: string }>;
    const active = runs.filter((r) => ['running', 'paused', 'queued'].includes(r.status));
    if (!active.length) return;
    await Promise.all(active.map((r) => call('runs.stop', { id: r.id })));
  }
}

export async function runFuzz(opts: { cases: number; seed: number; log?: (s: string) => void }): Promise<FuzzReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'charmer-fuzz-'));
  const fixtures = fixturesIn(dir);
  const report: FuzzReport = {
    seed: opts.seed,
    cases: 0,
    wsCalls: 0,
    ipcCalls: 0,
    httpRequests: 0,
    frameBatches: 0,
    crashes: 0,
    malformed: 0,
    codes: {},
    integrity: { browser: '', electron: '' },
    runsMatchFolders: false,
    seconds: 0,
    problems: [],
  };
  let served: Served | null = null;
  let services: Services | null = null;
  let api: ApiConnection | null = null;
  try {
    served = await serve(path.join(dir, 'browser'), ['--allow-dir', fixtures]);
    const token = new URL(served.url).searchParams.get('token')!;
    const port = served.port;
    let exited = false;
    served.proc.once('exit', () => (exited = true));
    api = await connectApi(port, token);

    // The Electron shell: the same handlers over the IPC wiring, with its own library.
    services = await createServices({ dataDir: path.join(dir, 'electron') });
    const ipc = new Map<string, (event: unknown, input: unknown) => Promise<unknown>>();
    const trusted = new WeakSet<object>();
    const handlers = createHandlers(
      services,
      { shell: 'electron', version: 'fuzz', openCorpusDialog: async () => null, openExternal: async () => {} },
      () => {},
    );
    registerIpc(
      { handle: (ch: string, fn: never) => void ipc.set(ch, fn), removeHandler: (ch: string) => void ipc.delete(ch) } as never,
      contract,
      createDispatch(contract, handlers),
      (e) => trusted.has(e as object),
    );
    const ipcCall = async (op: string, input: unknown, isTrusted = true) => {
      const event = {};
      if (isTrusted) trusted.add(event);
      const fn = ipc.get(opChannel(op));
      if (!fn) return null;
      return fn(event, input) as Promise<{ error: unknown; result: unknown }>;
    };

    // A finished run in each library, so sampling, inspection and run operations meet real checkpoints.
    const seedRun = { rnnSize: 8, numLayers: 1, batchSize: 8, seqLength: 8, maxIters: 20, evalEvery: 10, backend: 'cpu', threads: 1 };
    await api.call('runs.start', { corpusId: 1, config: seedRun });
    await ipcCall('runs.start', { corpusId: 1, config: seedRun });
    await api.waitEvent<{ runId: number; kind: string; status?: string }>('runEvent', (e) => e.kind === 'status' && e.status === 'completed');

    const record = (where: string, action: unknown, env: unknown) => {
      const problem = checkEnvelope(env);
      const code = (env as { error?: { code?: string } } | null)?.error?.code ?? 'ok';
      report.codes[code] = (report.codes[code] ?? 0) + 1;
      if (problem) {
        report.malformed++;
        if (report.problems.length < 50) report.problems.push(`${where}: ${problem} <- ${JSON.stringify(action).slice(0, 300)}`);
      }
      return problem === null;
    };
    const alive = () => !exited && served!.proc.exitCode === null;

    const property = fc.asyncProperty(actions(fixtures), async (a) => {
      report.cases++;
      const fill = (s: string) => s.replaceAll('PORT', String(port)).replaceAll('TOKEN', token);
      switch (a.kind) {
        case 'ws': {
          report.wsCalls++;
          const env = await api!.call(a.op, a.input);
          record('ws', a, env);
          break;
        }
        case 'ipc': {
          report.ipcCalls++;
          const env = await ipcCall(a.op, a.input, a.trusted);
          if (env !== null || CHANNELS.includes(a.op)) record('ipc', a, env);
          break;
        }
        case 'ws-junk': {
          // Not a call: no reply is due. The next call on the connection shows it still works.
          const sock = await rawWebSocket(port, token);
          const { wsFrame } = await import('../server/raw.ts');
          sock.sock.write(wsFrame(0x81, Buffer.from(a.text)));
          sock.sock.end();
          await sock.closed;
          break;
        }
        case 'http': {
          report.httpRequests++;
          const h = a as unknown as { method: string; t: string; hs: Array<[string, string]>; body: string };
          const headers: Record<string, string> = { Host: `127.0.0.1:${port}` };
          for (const [k, v] of h.hs) headers[k] = fill(v);
          const answer = await rawExchange(port, httpText(h.method, fill(h.t), headers, h.body), { endAfterWrite: true });
          if (answer && !/^HTTP\/1\.1 \d{3} /.test(answer)) {
            report.malformed++;
            report.problems.push(`http: not an HTTP answer: ${answer.slice(0, 100)}`);
          }
          break;
        }
        case 'frames': {
          report.frameBatches++;
          const { wsFrame } = await import('../server/raw.ts');
          const sock = await rawWebSocket(port, token);
          for (const f of a.frames as unknown as Array<{ first: number; payload: Buffer; mask: boolean; length?: number }>) {
            sock.sock.write(wsFrame(f.first, f.payload, { mask: f.mask, ...(f.length !== undefined ? { length: f.length } : {}) }));
          }
          sock.sock.end();
          await sock.closed;
          break;
        }
      }
      if (!alive()) {
        report.crashes++;
        throw new Error(`the server ended after ${JSON.stringify(a).slice(0, 300)}\n${served!.output().slice(-2000)}`);
      }
      return true;
    });
    try {
      await fc.assert(property, { numRuns: opts.cases, seed: opts.seed, endOnFailure: true, verbose: 0 });
    } catch (e) {
      report.problems.push(String((e as Error).message).slice(0, 3000));
    }
    log(`${report.cases} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s; settling`);
    if (alive()) {
      await settle((op, input) => api!.call(op, input));
      // The last word: a valid call still answers.
      const info = await api.call('app.info', {});
      if (info.error) report.problems.push(`app.info after fuzzing: ${JSON.stringify(info.error)}`);
    }
    await settle(async (op, input) => (await ipcCall(op, input))!);
    // The CLI's last-resort handler (src/cli/commands/serve.ts) must never have fired.
    const lastResort = /charmer serve: an unexpected.*/.exec(served.output());
    if (lastResort) {
      report.problems.push(`serve logged: ${lastResort[0]}`);
      report.malformed++;
    }
    api.close();
    api = null;
    await served.stop();
    served = null;
    await services.close();
    services = null;
    const b = consistency(path.join(dir, 'browser'));
    const e = consistency(path.join(dir, 'electron'));
    report.integrity = { browser: b.integrity, electron: e.integrity };
    report.runsMatchFolders = b.match && e.match;
    if (!report.runsMatchFolders) report.problems.push(`browser: ${b.detail}; electron: ${e.detail}`);
  } finally {
    api?.close();
    await served?.stop();
    await services?.close();
    report.seconds = (Date.now() - t0) / 1000;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
