/**
 * The command line for names: `charmer corpora --json`, training on a CSV with --categories and
 * on built-in corpora by id (subsets too), sampling by category with known / nearest_brand, and
 * bad input (missing column, unknown or empty category, impossible filter) as one clear line.
 * Training is tiny: the point is the plumbing, quality is measured by scripts/measure-names.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/charmer.js');
const dir = mkdtempSync(join(tmpdir(), 'charmer-names-cli-'));
const TINY = [
  '--rnn-size',
  '32',
  '--num-layers',
  '1',
  '--batch-size',
  '32',
  '--learning-rate',
  '0.01',
  '--eval-every',
  '40',
  '--sample-every',
  '0',
  '--backend',
  'wasm',
  '--threads',
  '1',
];

function charmer(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CHARMER_DATA_DIR: join(dir, 'library') },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const jsonLines = (s: string) =>
  s
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const PRIVATE_USE = /[\uE000-\uF8FF]/;

const csv = join(dir, 'folk.csv');
writeFileSync(
  csv,
  ['name,kind', ...Array.from({ length: 60 }, (_, i) => [`Ael${'aeiln'[i % 5]}${'lnie'[i % 4]},elf`, `Bor${'ogub'[i % 4]}${'rgb'[i % 3]},dwarf`]).flat()].join(
    '\n',
  ) + '\n',
);

describe('charmer corpora', () => {
  it('prints one JSON object per built-in corpus with id, name, items, mode, categories and source', () => {
    const r = charmer(['corpora', '--json']);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.id)).toEqual(['us-baby-names', 'startup-names', 'names']);
    const rows = gunzipSync(readFileSync(resolve(__dirname, '../../resources/names/us-baby-names.tsv.gz')))
      .toString('utf8')
      .trim()
      .split('\n')
      .slice(1);
    const baby = lines[0]!;
    expect(baby).toMatchObject({ name: 'US baby names', items: rows.length, mode: 'lines', source: expect.stringMatching(/Social Security/) });
    expect((baby.categories as Record<string, string[]>).sex).toEqual(['F', 'M']);
    expect((baby.categories as Record<string, string[]>).decade).toContain('1920s');
    const brands = readFileSync(resolve(__dirname, '../../resources/names/startup-names.txt'), 'utf8').trim().split('\n');
    expect(lines[1]).toMatchObject({ items: brands.length, categories: {}, licence: expect.stringContaining('CC0') });
    for (const l of lines) expect(typeof l.source).toBe('string');
  });
});

describe('charmer train / sample with categories', () => {
  const out = join(dir, 'folk-run');
  it('trains one model on a two-category CSV and samples for each category', () => {
    const t = charmer(['train', csv, '--categories', 'kind', '--no-store', '--out', out, '--max-iters', '80', ...TINY, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    for (const kind of ['elf', 'dwarf']) {
      const r = charmer(['sample', join(out, 'best'), '--category', kind, '--count', '10', '--json', '--seed', '3']);
      expect(r.code, r.stderr).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines).toHaveLength(10);
      for (const l of lines) {
        expect(l.category).toEqual([kind]);
        expect(l.categories).toEqual({ kind });
        expect(l.text as string).not.toMatch(PRIVATE_USE);
        expect(['train', 'val', 'new']).toContain(l.novelty);
        expect(l).toHaveProperty('known');
      }
    }
    const info = JSON.parse(readFileSync(join(out, 'best', 'model.json'), 'utf8'));
    expect(info.userDefinedMetadata.charmer.categories.columns.map((c: { name: string; values: string[] }) => [c.name, c.values])).toEqual([
      ['kind', ['dwarf', 'elf']],
    ]);
  });

  const refusals: Array<[string, string[], RegExp]> = [
    ['a category the model never saw', ['--category', 'hobbit'], /never saw the category "hobbit"\. It knows: kind \(dwarf, elf\)/],
    ['an empty category', ['--category', ''], /A category is empty/],
    ['a guidance past the strongest', ['--category', 'elf', '--guidance', '12'], /--guidance must be between 0 \(none\) and 10 \(got 12\)/],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} with one clear line`, () => {
      const r = charmer(['sample', join(out, 'best'), ...args, '--count', '3', '--json']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    });
  }

  it('refuses a CSV without the chosen column, writing nothing', () => {
    const o = join(dir, 'no-column');
    const r = charmer(['train', csv, '--categories', 'kind,race', '--no-store', '--out', o, ...TINY]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/folk\.csv has no column "race".*"name", "kind"/);
    expect(existsSync(o) ? readdirSync(o) : []).toEqual([]);
  });

  it('refuses an impossible baby-name subset, leaving nothing in the library', () => {
    const r = charmer(['train', 'us-baby-names', '--sex', 'F', '--since', '2020', '--min-births', '2000000000', '--max-iters', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No baby name matches girls, since 2020, ≥2,000,000,000 births\. Lower the minimum births or widen the years/);
    const corpora = join(dir, 'library', 'corpora');
    expect(existsSync(corpora) ? readdirSync(corpora) : []).toEqual([]);
  });
});

describe('a brand model', () => {
  it('gives new names, none equal to a brand ignoring case, each with nearest_brand', () => {
    const out = join(dir, 'brands');
    const t = charmer(['train', 'startup-names', '--no-store', '--out', out, '--max-iters', '60', ...TINY, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const r = charmer(['sample', join(out, 'best'), '--new-only', '--count', '20', '--json', '--temperature', '1']);
    expect(r.code, r.stderr).toBe(0);
    const brands = new Set(
      readFileSync(resolve(__dirname, '../../resources/names/startup-names.txt'), 'utf8')
        .trim()
        .split('\n')
        .map((b) => b.toLowerCase()),
    );
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(20);
    for (const l of lines) {
      expect(brands.has((l.text as string).toLowerCase())).toBe(false);
      const nb = l.nearest_brand as { name: string; distance: number };
      expect(brands.has(nb.name.toLowerCase())).toBe(true);
      expect(nb.distance).toBeGreaterThan(0);
    }
  });
});
