/**
 * `--model transformer` through the command line, on a tiny file: train (JSON events), sample with
 * a prime longer than the context, info, resume, fine-tune, and a shape that cannot work.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/charmer.js');
const dir = mkdtempSync(join(tmpdir(), 'charmer-gpt-cli-'));

function charmer(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CHARMER_DATA_DIR: join(dir, 'library') },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SHAPE = [
  '--model',
  'transformer',
  '--n-layer',
  '2',
  '--n-head',
  '2',
  '--n-embd',
  '16',
  '--block-size',
  '16',
  '--batch-size',
  '8',
  '--threads',
  '1',
  '--backend',
  'wasm',
  '--no-store',
];
const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('charmer train --model transformer', () => {
  const text = join(dir, 'verse.txt');
  writeFileSync(text, 'Shall I compare thee to a summer day? Thou art more lovely and more temperate.\n'.repeat(30));

  it('trains, samples past its context, shows its shape, resumes and fine-tunes', () => {
    const out = join(dir, 'run');
    const r = charmer([
      'train',
      text,
      ...SHAPE,
      '--json',
      '--out',
      out,
      '--max-iters',
      '20',
      '--eval-every',
      '10',
      '--sample-every',
      '10',
      '--sample-length',
      '40',
      '--learning-rate',
      '0.01',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    const start = ev.find((e) => e.type === 'start');
    expect(start.config).toMatchObject({ model: 'transformer', n_layer: 2, n_head: 2, n_embd: 16, block_size: 16 });
    const progress = ev.filter((e) => e.type === 'progress');
    expect(progress.at(-1).train_loss).toBeLessThan(progress[0].train_loss);
    expect(ev.find((e) => e.type === 'sample').text.length).toBe(40);

    const prime = 'Shall I compare thee to a summer day? Thou art';
    const s = charmer(['sample', join(out, 'best'), '--prime', prime, '--length', '60', '--seed', '3', '--backend', 'wasm']);
    expect(s.code).toBe(0);
    expect(s.stdout.trim().length).toBeGreaterThanOrEqual(60);

    const info = charmer(['info', join(out, 'best')]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/2 x 16 Transformer \(2 heads, context 16\)/);

    const resumed = charmer(['train', text, ...SHAPE, '--json', '--out', out, '--resume', '--max-iters', '24', '--eval-every', '10', '--sample-every', '0']);
    expect(resumed.code).toBe(0);
    const re = events(resumed.stdout);
    expect(re.find((e) => e.type === 'start').start_iteration).toBe(20);
    expect(re.at(-1)).toMatchObject({ type: 'done', iteration: 24 });

    const tuned = charmer([
      'train',
      text,
      '--init-from',
      join(out, 'latest'),
      '--json',
      '--no-store',
      '--out',
      join(dir, 'tuned'),
      '--max-iters',
      '2',
      '--sample-every',
      '0',
      '--backend',
      'wasm',
      '--threads',
      '1',
    ]);
    expect(tuned.code).toBe(0);
    expect(events(tuned.stdout).find((e) => e.type === 'start').config).toMatchObject({ model: 'transformer', n_embd: 16, block_size: 16 });
  });

  it('refuses heads that do not divide the width, in one sentence, before any file', () => {
    const r = charmer(['train', text, ...SHAPE, '--n-head', '3', '--out', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^charmer: n-head 3 does not divide n-embd 16: .*15 or 18/);
  });
});
