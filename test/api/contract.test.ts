import { describe, expect, it } from 'vitest';
import { contract, events } from '../../src/api/contract.ts';
import { OPERATION_NAMES, EVENT_NAMES } from '../../src/api/names.ts';
import { channelsOf } from '../../src/api/define.ts';
import { createDispatch } from '../../src/api/dispatch.ts';
import { ApiError, fail, ok, toErrorData, unwrap } from '../../src/api/errors.ts';
import { CharmerError } from '../../src/engine/errors.ts';
import { countParams, estimateWork, PRESETS, referenceCharsPerS, OPTION_HELP, DEFAULT_CONFIG } from '../../src/api/training.ts';
import { createHandlers } from '../../src/api/handlers.ts';
import { fakeServices } from '../server/fake-services.ts';

describe('the contract', () => {
  it('lists every operation and event in the preload-safe name lists', () => {
    const fromNames = Object.entries(OPERATION_NAMES).flatMap(([ns, names]) => names.map((n) => `${ns}.${n}`));
    expect(fromNames.sort()).toEqual(channelsOf(contract).sort());
    expect([...EVENT_NAMES].sort()).toEqual(Object.keys(events).sort());
  });

  it('refuses unknown keys and wrong types in every operation', () => {
    for (const [ns, ops] of Object.entries(contract)) {
      for (const [name, def] of Object.entries(ops)) {
        expect(def.input.safeParse({ __proto_pollution__: 1, surprise: true }).success, `${ns}.${name}`).toBe(false);
        expect(def.input.safeParse('a string').success, `${ns}.${name}`).toBe(false);
      }
    }
  });

  it('validates training options: known keys, sane bounds', () => {
    const start = contract.runs.start.input;
    expect(start.safeParse({ corpusId: 1, config: { rnnSize: 128, model: 'gru' } }).success).toBe(true);
    expect(start.safeParse({ corpusId: 1, config: { rnnSize: -1 } }).success).toBe(false);
    expect(start.safeParse({ corpusId: 1, config: { model: 'transformer', nHead: 4, nEmbd: 128 } }).success).toBe(true);
    expect(start.safeParse({ corpusId: 1, config: { model: 'mamba' } }).success).toBe(false);
    expect(start.safeParse({ corpusId: 1, config: { notAnOption: 1 } }).success).toBe(false);
    expect(start.safeParse({ corpusId: 0, config: {} }).success).toBe(false);
    // Every option of the engine has a schema entry (and vice versa).
    const keys = Object.keys((start as unknown as { shape: { config: { unwrap?: unknown; shape: Record<string, unknown> } } }).shape.config.shape);
    expect(keys.sort()).toEqual(Object.keys(DEFAULT_CONFIG).sort());
  });
});

describe('envelopes and errors', () => {
  it('rebuilds a CharmerError as an ApiError with code and message', () => {
    const env = fail(new CharmerError('EMPTY_CORPUS', 'The file is empty.', { path: '/x' }));
    expect(env).toEqual({ error: { code: 'EMPTY_CORPUS', message: 'The file is empty.', details: { path: '/x' } }, result: null });
    const roundTrip = JSON.parse(JSON.stringify(env));
    try {
      unwrap(roundTrip);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe('EMPTY_CORPUS');
      expect((e as ApiError).message).toBe('The file is empty.');
    }
    expect(unwrap(ok(42))).toBe(42);
  });

  it('hides internals of unexpected errors behind INTERNAL, and maps ENOENT', () => {
    expect(toErrorData(new Error('boom')).code).toBe('INTERNAL');
    expect(toErrorData(Object.assign(new Error('no such file'), { code: 'ENOENT' })).code).toBe('FILE_NOT_FOUND');
  });

  it('dispatch validates before calling a handler', async () => {
    const { services, calls } = fakeServices('/tmp/x');
    const handlers = createHandlers(services, { shell: 'browser', version: '1' }, () => {});
    const dispatch = createDispatch(contract, handlers);
    const bad = await dispatch('runs.start', { corpusId: 'one', config: {} });
    expect(bad.error?.code).toBe('INVALID_INPUT');
    expect(bad.error?.message).toMatch(/corpusId/);
    expect(calls).toEqual([]);
    expect((await dispatch('nope.nothing', {})).error?.code).toBe('UNKNOWN_OPERATION');
    expect((await dispatch('__proto__.constructor', {})).error?.code).toBe('UNKNOWN_OPERATION');
    const list = await dispatch('library.list', {});
    expect(list.error).toBeNull();
    expect((list.result as unknown[]).length).toBe(1);
    const missing = await dispatch('library.get', { id: 99 });
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND' });
    const dialog = await dispatch('shell.openCorpusDialog', {});
    expect(dialog.error?.code).toBe('UNAVAILABLE');
    const link = await dispatch('shell.openExternal', { url: 'file:///etc/passwd' });
    expect(link.error?.code).toBe('INVALID_INPUT');
  });
});

describe('training data for the UI', () => {
  it('has help for every option and presets that the schema accepts', () => {
    const helped = Object.values(OPTION_HELP).flatMap((g) => Object.keys(g));
    expect(helped.sort()).toEqual(Object.keys(DEFAULT_CONFIG).sort());
    for (const p of PRESETS) expect(contract.runs.start.input.safeParse({ corpusId: 1, config: p.config }).success, p.id).toBe(true);
  });

  it('counts parameters like TF.js layers do', () => {
    // Embedding 65x128, LSTM(128->128) x2, Dense 128->65.
    const p = countParams({ model: 'lstm', rnnSize: 128, numLayers: 2, embeddingSize: 0 }, 65);
    expect(p).toBe(65 * 128 + 2 * 4 * (128 * 128 + 128 * 128 + 128) + 128 * 65 + 65);
  });

  it('estimates time from speed and budget', () => {
    const w = estimateWork({ ...DEFAULT_CONFIG, maxEpochs: 1, maxTime: 0 }, 10_000, 1000);
    expect(w.trainChars).toBe(9000);
    expect(w.seconds).toBeCloseTo(9);
    expect(estimateWork({ ...DEFAULT_CONFIG, maxTime: 5 }, 10_000, 1000).seconds).toBe(5);
    // The reference curve matches DESIGN.md's figures within a factor of 2.
    const small = referenceCharsPerS(countParams({ model: 'lstm', rnnSize: 128, numLayers: 2, embeddingSize: 0 }, 65));
    expect(small).toBeGreaterThan(700);
    expect(small).toBeLessThan(2800);
  });
});
