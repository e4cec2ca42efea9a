/**
 * `npm run fuzz -- --calls 10000 [--seed N]`: the long fuzzing run of issue 15 (the same harness as
 * test/fuzz/api.test.ts, which runs a few hundred cases in `npm test`). Prints the figures and
 * exits 1 on any crash, malformed reply or inconsistency.
 */
import { parseArgs } from 'node:util';
import { runFuzz } from '../test/fuzz/harness.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '10000' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) } } });
const cases = Number(values.calls);
const seed = Number(values.seed);
if (!Number.isInteger(cases) || cases < 1) {
  process.stderr.write(`--calls must be a positive whole number (got ${values.calls}).\n`);
  process.exit(2);
}
process.stderr.write(`Fuzzing ${cases} cases, seed ${seed}…\n`);
const r = await runFuzz({ cases, seed, log: (s) => process.stderr.write(`${s}\n`) });
const codes = Object.entries(r.codes)
  .sort((a, b) => b[1] - a[1])
  .map(([c, n]) => `${c} ${n}`)
  .join(', ');
process.stdout.write(
  [
    `cases: ${r.cases} (WebSocket calls ${r.wsCalls}, IPC calls ${r.ipcCalls}, raw HTTP requests ${r.httpRequests}, raw frame batches ${r.frameBatches}, the rest non-call WebSocket messages)`,
    `seed: ${r.seed}`,
    `crashes: ${r.crashes}`,
    `malformed replies: ${r.malformed}`,
    `replies by code: ${codes}`,
    `integrity_check: browser ${r.integrity.browser}, electron ${r.integrity.electron}`,
    `run rows match run folders: ${r.runsMatchFolders ? 'yes' : 'no'}`,
    `time: ${r.seconds.toFixed(1)} s`,
    ...(r.problems.length ? ['problems:', ...r.problems.map((p) => `  ${p}`)] : []),
    '',
  ].join('\n'),
);
process.exit(r.crashes || r.malformed || !r.runsMatchFolders || r.problems.length ? 1 : 0);
