import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/charmer.js');
const dir = mkdtempSync(join(tmpdir(), 'charmer-cli-'));

function charmer(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CHARMER_DATA_DIR: join(dir, 'library'), ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, data: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe('charmer train: bad input gets one clear line, a non-zero exit and no files', () => {
  mkdirSync(join(dir, 'a-folder'), { recursive: true });
  const cases: Array<[string, () => string[], RegExp]> = [
    ['missing file', () => [join(dir, 'missing.txt')], /There is no file at .*missing\.txt/],
    ['directory', () => [join(dir, 'a-folder')], /is a folder, not a text file/],
    ['empty file', () => [file('empty.txt', '')], /is empty/],
    [
      'binary file',
      () => [file('photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a]))],
      /not a text file: it contains a NUL byte at byte offset 4/,
    ],
    ['invalid UTF-8', () => [file('latin1.txt', Buffer.from('caf\xe9 au lait', 'latin1'))], /not valid UTF-8 text \(invalid UTF-8 at byte offset 3\)/],
    ['corpus too small', () => [file('small.txt', 'just a little text\n'.repeat(5))], /too few for batches of 50 x 50.*--batch-size 1 would fit/],
    [
      'vocabulary too large',
      () => [file('cjk.txt', Array.from({ length: 10_050 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join(''))],
      /more than 10,000 distinct characters/,
    ],
    ['bad option value', () => ['names', '--rnn-size', 'big'], /--rnn-size needs a number \(got "big"\)/],
    ['unknown option', () => ['names', '--hidden-size', '3'], /Unknown option '--hidden-size'/],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const out = join(dir, `out-${what.replace(/\W/g, '-')}`);
      const r = charmer(['train', ...args(), '--no-store', '--out', out, '--backend', 'cpu']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    });
  }
});

describe('charmer train / sample / info', () => {
  it('trains on the built-in names with --json events, then samples new names as JSON and shows info', () => {
    const out = join(dir, 'names-run');
    const r = charmer([
      'train',
      '--json',
      '--no-store',
      '--out',
      out,
      '--max-iters',
      '30',
      '--eval-every',
      '15',
      '--sample-every',
      '15',
      '--rnn-size',
      '32',
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const types = new Set(events.map((e) => e.type));
    for (const t of ['start', 'progress', 'eval', 'sample', 'checkpoint', 'done']) expect(types).toContain(t);
    const progress = events.find((e) => e.type === 'progress');
    for (const k of ['iteration', 'epoch', 'train_loss', 'lr', 'chars_per_s', 'eta_s', 'backend']) expect(progress).toHaveProperty(k);
    expect(progress.backend).toBe('wasm');
    expect(events.find((e) => e.type === 'eval')).toHaveProperty('val_loss');
    expect(events.at(-1)).toMatchObject({ type: 'done', iteration: 30 });
    expect(readdirSync(out).sort()).toEqual(['best', 'latest']);

    const s = charmer(['sample', join(out, 'best'), '--count', '20', '--new-only', '--json', '--seed', '1', '--backend', 'wasm']);
    expect(s.code).toBe(0);
    const items = s.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(items).toHaveLength(20);
    for (const it of items) {
      expect(it.novelty).toBe('new');
      expect(typeof it.logprob).toBe('number');
      expect(it.text.length).toBeGreaterThan(0);
    }
    const again = charmer(['sample', join(out, 'best'), '--count', '20', '--new-only', '--json', '--seed', '1', '--backend', 'wasm']);
    expect(again.stdout).toBe(s.stdout);

    const info = charmer(['info', join(out, 'best'), '--json']);
    const meta = JSON.parse(info.stdout);
    expect(meta.mode).toBe('lines');
    expect(meta.iteration).toBe(30);
    expect(meta.val_history.map((h: { iteration: number }) => h.iteration)).toEqual([15, 30]);
    expect(meta.config.rnn_size).toBe(32);
  });

  it('--help lists every option with its default, in char-rnn groups', () => {
    const r = charmer(['train', '--help']);
    expect(r.code).toBe(0);
    for (const g of ['Data:', 'Model:', 'Optimization:', 'Bookkeeping:']) expect(r.stdout).toContain(g);
    for (const o of [
      '--mode',
      '--model',
      '--rnn-size',
      '--num-layers',
      '--dropout',
      '--seq-length',
      '--batch-size',
      '--learning-rate',
      '--max-epochs',
      '--max-iters',
      '--max-time',
      '--eval-every',
      '--sample-every',
      '--seed',
      '--backend',
      '--out',
      '--resume',
      '--init-from',
      '--json',
    ]) {
      expect(r.stdout).toContain(o);
    }
    expect(r.stdout).toMatch(/--rnn-size N\s+hidden units per recurrent layer \(lstm\/gru\/rnn only\) \(default: 128\)/);
    expect(r.stdout).toMatch(/--model lstm\|gru\|rnn\|transformer/);
    for (const o of ['--n-layer', '--n-head', '--n-embd', '--block-size']) expect(r.stdout).toMatch(new RegExp(`${o} N\\s+.*\\(transformer only\\)`));
  });

  it('sample names unknown prime characters', () => {
    const out = join(dir, 'text-run');
    const t = charmer([
      'train',
      file('poem.txt', 'the sun is warm, the sea is blue.\n'.repeat(40)),
      '--no-store',
      '--out',
      out,
      '--max-iters',
      '3',
      '--batch-size',
      '4',
      '--seq-length',
      '16',
      '--rnn-size',
      '16',
      '--num-layers',
      '1',
      '--backend',
      'wasm',
      '--quiet',
    ]);
    expect(t.code).toBe(0);
    const r = charmer(['sample', join(out, 'latest'), '--prime', 'the Sun', '--length', '10', '--backend', 'wasm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/never seen this character: "S" \(U\+0053\).*--skip-unknown/);
    const ok = charmer(['sample', join(out, 'latest'), '--prime', 'the Sun', '--length', '10', '--skip-unknown', '--backend', 'wasm']);
    expect(ok.code).toBe(0);
  });
});
