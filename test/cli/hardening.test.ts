/**
 * What a new user typing things wrong meets on the command line (issue 20, items 1-8 and 12): one
 * sentence of ours, exit code 2, and nothing left behind in the library.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';

const BIN = resolve(__dirname, '../../bin/charmer.js');
const dir = mkdtempSync(join(tmpdir(), 'charmer-hard-'));
const BANNER = /Hi, looks like you are running TensorFlow\.js/;

function charmer(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CHARMER_DATA_DIR: join(dir, 'library'), ...env },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line of ours: no stack, no node:util wording, no doubled period. */
function expectOneSentence(stderr: string, message: RegExp): void {
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at |internal error|ambiguous|Did you forget|\.\./);
}

const TINY = ['--rnn-size', '16', '--num-layers', '1', '--eval-every', '2', '--sample-every', '0', '--backend', 'wasm', '--quiet'];
const namesCk = join(dir, 'names-ck');
const textCk = join(dir, 'text-ck');
const textFile = join(dir, 'poem.txt');

beforeAll(() => {
  writeFileSync(textFile, 'the sun is warm, the sea is blue.\n'.repeat(40));
  const a = charmer(['train', 'names', '--no-store', '--out', namesCk, '--max-iters', '2', ...TINY]);
  expect(a.code, a.stderr).toBe(0);
  const b = charmer(['train', textFile, '--no-store', '--out', textCk, '--max-iters', '2', '--batch-size', '4', '--seq-length', '16', ...TINY]);
  expect(b.code, b.stderr).toBe(0);
}, 300_000);

describe('charmer train refuses bad options before the library gets a run (item 1)', () => {
  const lib = join(dir, 'lib-refusals');
  const damagedCk = join(dir, 'damaged-ck');
  const tiny = join(dir, 'tiny.txt');
  const cases: Array<[string, () => string[], RegExp]> = [
    ['--rnn-size=-3', () => ['names', '--rnn-size=-3'], /rnn-size must be a whole number of at least 1 \(got -3\)/],
    ['--rnn-size 0', () => ['names', '--rnn-size', '0'], /rnn-size must be a whole number of at least 1 \(got 0\)/],
    ['--rnn-size 5000', () => ['names', '--rnn-size', '5000'], /rnn-size 5000 is far beyond/],
    ['--dropout 1', () => ['names', '--dropout', '1'], /dropout must be at least 0 and below 1/],
    ['--learning-rate 0', () => ['names', '--learning-rate', '0'], /learning-rate must be a small positive number/],
    ['--batch-size=-1', () => ['names', '--batch-size=-1'], /batch-size must be a whole number of at least 1 \(got -1\)/],
    ['--val-fraction 0', () => ['names', '--val-fraction', '0'], /val-fraction must be above 0/],
    ['--val-fraction 1.5', () => ['names', '--val-fraction', '1.5'], /val-fraction must be above 0 and at most 0\.5.*\(got 1\.5\)/],
    ['--max-time=-5', () => ['names', '--max-time=-5'], /max-time must be 0 or more \(got -5\)/],
    ['a corpus too small for one batch', () => [(writeFileSync(tiny, 'a little text\n'.repeat(3)), tiny)], /too few for batches of 50 x 50/],
    [
      'a damaged --init-from',
      () => [(mkdirSync(damagedCk, { recursive: true }), writeFileSync(join(damagedCk, 'model.json'), '{'), 'names'), '--init-from', damagedCk],
      /model\.json is damaged/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = charmer(['train', ...args(), '--backend', 'wasm'], { CHARMER_DATA_DIR: lib });
      expect(r.code).toBe(2);
      expectOneSentence(r.stderr, message);
      const runsDir = join(lib, 'runs');
      expect(existsSync(runsDir) ? readdirSync(runsDir) : []).toEqual([]);
      if (existsSync(join(lib, 'charmer.db'))) {
        const store = openStore(lib);
        try {
          expect(store.listRuns()).toEqual([]);
        } finally {
          store.close();
        }
      }
    });
  }
});

describe('a negative number as a separate argument gets our own sentence (item 2)', () => {
  it('train --rnn-size -3', () => {
    const r = charmer(['train', 'names', '--rnn-size', '-3', '--no-store', '--out', join(dir, 'neg')]);
    expect(r.code).toBe(2);
    expectOneSentence(r.stderr, /^charmer: rnn-size must be a whole number of at least 1 \(got -3\)\.\n$/);
  });
  it('sample --temperature -1', () => {
    const r = charmer(['sample', namesCk, '--temperature', '-1']);
    expect(r.code).toBe(2);
    expectOneSentence(r.stderr, /^charmer: --temperature must be 0 or more \(got -1\)\.\n$/);
  });
  it('an option whose value is missing', () => {
    const r = charmer(['train', 'names', '--out', '--json']);
    expect(r.code).toBe(2);
    expectOneSentence(r.stderr, /--out needs a value/);
  });
});

describe('info, sample and the banner (items 4, 5, 6, 8, 12)', () => {
  it('info checks weights.bin against model.json instead of counting bytes', () => {
    const ck = join(dir, 'info-ck');
    spawnSync('cp', ['-r', join(namesCk, 'best'), ck]);
    const ok = charmer(['info', ck, '--json']);
    expect(ok.code).toBe(0);
    const params = JSON.parse(ok.stdout).params;
    expect(params).toBe(readFileSync(join(ck, 'weights.bin')).length / 4);
    truncateSync(join(ck, 'weights.bin'), 1000);
    const r = charmer(['info', ck]);
    expect(r.code).toBe(2);
    expectOneSentence(r.stderr, /weights\.bin has 1000 bytes but model\.json lists weights of \d+.*damaged/);
    expect(r.stdout).toBe('');
  });

  it('sample prints nothing when the prime has a character the model never saw', () => {
    const r = charmer(['sample', join(textCk, 'latest'), '--prime', 'Héllo', '--length', '5', '--backend', 'wasm']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expectOneSentence(r.stderr, /never seen these characters: "H" \(U\+0048\), "é" \(U\+00E9\).*--skip-unknown/);
  });

  it('sample --prefix with unknown characters gets advice about the prefix', () => {
    const r = charmer(['sample', join(namesCk, 'best'), '--prefix', 'Zø', '--backend', 'wasm']);
    expect(r.code).toBe(2);
    expectOneSentence(r.stderr, /prefix text uses a character the model never saw: "ø" \(U\+00F8\).*change the prefix/);
    expect(r.stderr).not.toMatch(/prime|--skip-unknown/);
  });

  it('sample refuses impossible constraints before any work', () => {
    for (const [args, message] of [
      [['--min-length', '10', '--max-length', '4'], /--min-length 10 is above --max-length 4/],
      [['--prefix', 'Abcdef', '--max-length', '4'], /prefix "Abcdef" has 6 characters but items may have at most 4/],
      [['--max-length', '0'], /--max-length must be at least 1/],
    ] as const) {
      const r = charmer(['sample', join(namesCk, 'best'), '--count', '5', ...args, '--backend', 'wasm']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expectOneSentence(r.stderr, message);
    }
  });

  it('no TF.js banner from sample --backend cpu, train --resume or resume', () => {
    const s = charmer(['sample', join(namesCk, 'best'), '--count', '3', '--backend', 'cpu']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).not.toMatch(BANNER);
    const t = charmer(['train', textFile, '--resume', '--out', textCk, '--max-iters', '3', '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).not.toMatch(BANNER);
    const lib = join(dir, 'lib-banner');
    const a = charmer(['train', 'names', '--max-iters', '2', ...TINY], { CHARMER_DATA_DIR: lib });
    expect(a.code, a.stderr).toBe(0);
    // A bad limit is refused before the run is touched: it stays resumable, not failed.
    const bad = charmer(['resume', '1', '--max-time', '-5'], { CHARMER_DATA_DIR: lib });
    expect(bad.code).toBe(2);
    expectOneSentence(bad.stderr, /max-time must be 0 or more \(got -5\)/);
    const store = openStore(lib);
    expect(store.getRun(1)!.status).not.toBe('failed');
    store.close();
    const r = charmer(['resume', '1', '--max-iters', '3', '--quiet'], { CHARMER_DATA_DIR: lib });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(BANNER);
  });
});

describe('advice for a tiny corpus works when followed (item 7)', () => {
  for (const [what, text] of [
    ['12 characters', 'abcdefghijkl'],
    ['40 characters', 'the cat sat on the mat and then it slept'],
    ['95 characters', 'just a little text\n'.repeat(5)],
  ] as const) {
    it(what, () => {
      const file = join(dir, `tiny-${text.length}.txt`);
      writeFileSync(file, text);
      const out = join(dir, `tiny-out-${text.length}`);
      const r = charmer(['train', file, '--no-store', '--out', out, '--backend', 'wasm']);
      expect(r.code).toBe(2);
      const advice = /or (--.*) would fit\./.exec(r.stderr)?.[1];
      expect(advice, r.stderr).toBeDefined();
      const again = charmer([
        'train',
        file,
        '--no-store',
        '--out',
        out,
        ...advice!.split(' '),
        '--max-iters',
        '1',
        '--rnn-size',
        '8',
        '--num-layers',
        '1',
        '--backend',
        'wasm',
        '--quiet',
      ]);
      expect(again.stderr).not.toMatch(/CORPUS_TOO_SMALL|too few|validation split|holds out/);
      expect(again.code, again.stderr).toBe(0);
    });
  }
});
