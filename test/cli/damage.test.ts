/**
 * Every file Charmer reads, damaged three ways (removed, truncated, filled with garbage): the
 * command that reads it answers with one sentence naming the file and what to do (never a stack
 * trace, never exit code 70), and no other file changes (hashed before and after).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/charmer.js');
const dir = mkdtempSync(join(tmpdir(), 'charmer-damage-'));
const TINY = ['--rnn-size', '16', '--num-layers', '1', '--eval-every', '2', '--sample-every', '0', '--backend', 'wasm', '--quiet', '--max-iters', '2'];

function charmerSync(args: string[], dataDir: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CHARMER_DATA_DIR: dataDir }, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function charmer(args: string[], dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CHARMER_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** sha256 of every file under root, by relative path. */
function hashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

/** Seeded garbage, the same on every run. */
function garbage(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

type Damage = 'removed' | 'truncated' | 'garbage';
const DAMAGES: Damage[] = ['removed', 'truncated', 'garbage'];

function damage(file: string, how: Damage): void {
  if (how === 'removed') rmSync(file);
  else if (how === 'truncated')
    truncateSync(file, Math.floor(statSync(file).size / 2) | 1); // odd: not a whole number of floats
  else writeFileSync(file, garbage(statSync(file).size));
}

const poem = join(dir, 'poem.txt');
const pristine = join(dir, 'pristine');

beforeAll(() => {
  writeFileSync(poem, 'the sun is warm, the sea is blue.\n'.repeat(40));
  // A library with one lines run (items.json) and a text checkpoint with trainer state.
  const a = charmerSync(['train', 'names', ...TINY], join(pristine, 'library'));
  expect(a.code, a.stderr).toBe(0);
  const b = charmerSync(
    ['train', poem, '--no-store', '--out', join(pristine, 'text'), '--batch-size', '4', '--seq-length', '16', ...TINY],
    join(pristine, 'library'),
  );
  expect(b.code, b.stderr).toBe(0);
}, 300_000);

/** Which command reads the file, and where it lives in the pristine copy. */
const FILES: Array<{ file: string; rel: string; command: (root: string) => string[] }> = [
  {
    file: 'model.json',
    rel: 'library/runs/1/best/model.json',
    command: (r) => ['sample', join(r, 'library/runs/1/best'), '--count', '3', '--backend', 'wasm'],
  },
  {
    file: 'weights.bin',
    rel: 'library/runs/1/best/weights.bin',
    command: (r) => ['sample', join(r, 'library/runs/1/best'), '--count', '3', '--backend', 'wasm'],
  },
  {
    file: 'items.json',
    rel: 'library/runs/1/best/items.json',
    command: (r) => ['sample', join(r, 'library/runs/1/best'), '--count', '3', '--backend', 'wasm'],
  },
  {
    file: 'trainer.json',
    rel: 'text/latest/trainer.json',
    command: (r) => ['train', poem, '--resume', '--out', join(r, 'text'), '--max-iters', '3', '--quiet'],
  },
  {
    file: 'optimizer.bin',
    rel: 'text/latest/optimizer.bin',
    command: (r) => ['train', poem, '--resume', '--out', join(r, 'text'), '--max-iters', '3', '--quiet'],
  },
  { file: 'weights.bin', rel: 'text/latest/weights.bin', command: (r) => ['train', poem, '--resume', '--out', join(r, 'text'), '--max-iters', '3', '--quiet'] },
  { file: 'model.json', rel: 'text/latest/model.json', command: (r) => ['info', join(r, 'text/latest')] },
  { file: 'weights.bin', rel: 'text/latest/weights.bin', command: (r) => ['info', join(r, 'text/latest')] },
  { file: 'charmer.db', rel: 'library/charmer.db', command: () => ['runs'] },
];

const WHAT_TO_DO = /Use |Resume |Restore |put the old charmer\.db back|train again|--init-from/;

describe('a damaged file gets a sentence naming it and what to do, and nothing else changes', () => {
  let n = 0;
  for (const f of FILES) {
    for (const how of DAMAGES) {
      it(`${f.rel} ${how} (charmer ${f.command('')[0]})`, async () => {
        const root = join(dir, `case-${++n}`);
        cpSync(pristine, root, { recursive: true });
        const target = join(root, f.rel);
        damage(target, how);
        const before = hashes(root);
        const r = await charmer(f.command(root), join(root, 'library'));
        const after = hashes(root);
        expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
        expect(r.code).not.toBe(70);
        expect(r.stderr).toContain(f.file);
        expect(r.stderr).toMatch(WHAT_TO_DO);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        if (f.file === 'charmer.db' && how === 'removed') {
          // A new, empty library: the old runs' folders are kept and named in the notice.
          expect(r.code).toBe(0);
          expect(r.stderr).toMatch(/was missing.*1 run folder already in .*runs is kept untouched/);
        } else {
          expect(r.code).toBe(2);
          expect(r.stdout).toBe('');
        }
        // Nothing else changed: every other file that was there is there with the same bytes.
        for (const [p, h] of before) {
          if (p === relative(root, target) || /charmer\.db(-wal|-shm)?$/.test(p)) continue;
          expect(after.get(p), p).toBe(h);
        }
      });
    }
  }

  it("after charmer.db was removed, a new run does not write into an old run's folder", () => {
    const root = join(dir, 'case-orphans');
    cpSync(pristine, root, { recursive: true });
    rmSync(join(root, 'library/charmer.db'));
    const before = hashes(join(root, 'library/runs/1'));
    const r = charmerSync(['train', 'names', ...TINY], join(root, 'library'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/charmer\.db was missing/);
    expect(hashes(join(root, 'library/runs/1'))).toEqual(before);
    expect(existsSync(join(root, 'library/runs/2/best/model.json'))).toBe(true);
  });
});
