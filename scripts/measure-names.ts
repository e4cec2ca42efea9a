/**
 * The figures of issue 17's "How we will know", from the JSON lines of `charmer sample --json`:
 *
 *   npx tsx scripts/measure-names.ts baby   F.jsonl M.jsonl 1920s.jsonl 2010s.jsonl t1.jsonl new-only.jsonl
 *   npx tsx scripts/measure-names.ts startup new-only.jsonl
 *
 * (docs/NAMES.md lists the commands that write those files.) Prints one JSON object with each
 * figure, its target and whether it is met; exits 1 when a target is missed.
 */
import { readFileSync } from 'node:fs';
import { isBrand } from '../src/engine/namedata.ts';

interface Line {
  text: string;
  novelty: 'train' | 'val' | 'new';
  known?: { sex: 'F' | 'M'; births: number; peak_year: number } | null;
  nearest_brand?: { name: string; distance: number } | null;
}

const read = (f: string): Line[] =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const pct = (x: number) => Math.round(x * 1000) / 10;

const [what, ...files] = process.argv.slice(2);
const figures: Array<{ figure: string; value: number | string; target: string; met: boolean }> = [];

if (what === 'baby') {
  const [f, m, d1920, d2010, t1, newOnly] = files.map(read);
  for (const [lines, sex] of [
    [f!, 'F'],
    [m!, 'M'],
  ] as const) {
    const known = lines.filter((l) => l.known);
    const share = known.filter((l) => l.known!.sex === sex).length / known.length;
    figures.push({
      figure: `${sex}: known names mostly given to ${sex === 'F' ? 'girls' : 'boys'} (% of ${known.length} known of ${lines.length})`,
      value: pct(share),
      target: '>= 90',
      met: share >= 0.9,
    });
  }
  const m1920 = median(d1920!.filter((l) => l.known).map((l) => l.known!.peak_year));
  const m2010 = median(d2010!.filter((l) => l.known).map((l) => l.known!.peak_year));
  figures.push({
    figure: '1920s: median peak year of known names',
    value: m1920,
    target: '1910-1944 (within 15 of the 1920s)',
    met: m1920 >= 1910 && m1920 <= 1944,
  });
  figures.push({
    figure: '2010s: median peak year of known names',
    value: m2010,
    target: '2000-2034 (within 15 of the 2010s)',
    met: m2010 >= 2000 && m2010 <= 2034,
  });
  figures.push({ figure: '2010s minus 1920s median peak year', value: m2010 - m1920, target: '>= 40', met: m2010 - m1920 >= 40 });
  const newShare = t1!.filter((l) => l.novelty === 'new').length / t1!.length;
  figures.push({ figure: `T=1: new names (% of ${t1!.length})`, value: pct(newShare), target: '>= 30', met: newShare >= 0.3 });
  const onlyNew = newOnly!.filter((l) => l.novelty === 'new' && !l.known).length / newOnly!.length;
  figures.push({ figure: `--new-only: new and not a known baby name (% of ${newOnly!.length})`, value: pct(onlyNew), target: '100', met: onlyNew === 1 });
} else if (what === 'startup') {
  const lines = read(files[0]!);
  const brandEqual = lines.filter((l) => isBrand(l.text)).length;
  const withNearest = lines.filter((l) => l.nearest_brand && typeof l.nearest_brand.distance === 'number').length;
  const isNew = lines.filter((l) => l.novelty === 'new').length;
  figures.push({ figure: 'names returned', value: lines.length, target: '200', met: lines.length === 200 });
  figures.push({ figure: 'new (novelty)', value: isNew, target: '200', met: isNew === lines.length });
  figures.push({ figure: 'equal to a corpus brand, ignoring case', value: brandEqual, target: '0', met: brandEqual === 0 });
  figures.push({ figure: 'with nearest_brand', value: withNearest, target: '200', met: withNearest === lines.length });
  const close = lines.filter((l) => l.nearest_brand && l.nearest_brand.distance <= 2).length;
  figures.push({ figure: 'within two edits of a brand (warned on the card)', value: close, target: '(information)', met: true });
} else {
  process.stderr.write('usage: measure-names.ts baby F M 1920s 2010s t1 new-only | startup new-only\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify({ what, figures }, null, 2) + '\n');
process.exitCode = figures.every((f) => f.met) ? 0 : 1;
