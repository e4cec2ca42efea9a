/**
 * Issue 15: the whole API surface fuzzed on every `npm test` (seeded, a few hundred cases; the long
 * run is `npm run fuzz -- --calls 10000`). See harness.ts for what is generated and checked.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from './harness.ts';

const SEED = Number(process.env.CHARMER_FUZZ_SEED ?? 15);
const CASES = Number(process.env.CHARMER_FUZZ_CASES ?? 300);

describe('the API under fuzzing', () => {
  it(`${CASES} seeded cases over WebSocket, IPC, raw HTTP and raw frames: no crash, only envelopes, a consistent library`, async () => {
    const r = await runFuzz({ cases: CASES, seed: SEED });
    expect(r.problems, `seed ${SEED}`).toEqual([]);
    expect(r.crashes).toBe(0);
    expect(r.malformed).toBe(0);
    expect(r.cases).toBe(CASES);
    expect(r.wsCalls).toBeGreaterThan(CASES / 5);
    expect(r.ipcCalls).toBeGreaterThan(CASES / 5);
    expect(r.integrity).toEqual({ browser: 'ok', electron: 'ok' });
    expect(r.runsMatchFolders).toBe(true);
    // The generator reaches past validation: some calls succeed, some fail in the services.
    expect(r.codes.ok).toBeGreaterThan(0);
    expect(Object.keys(r.codes).filter((c) => c !== 'ok' && c !== 'INVALID_INPUT').length).toBeGreaterThan(2);
  }, 600_000);
});
