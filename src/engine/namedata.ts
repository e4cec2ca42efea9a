/**
 * The built-in name data under resources/names (built by scripts/build-name-data.mjs): US baby
 * names per name and sex (SSA national data 1880-2024) and company/product names. Lookups for name
 * cards (nearest by spelling and by sound, popularity) and the baby-name subsets live here so the
 * command line and the services share them; everything is loaded once, lazily.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { doubleMetaphone } from 'double-metaphone';
import { distance } from 'fastest-levenshtein';
import { CharmerError } from './errors.ts';
import type { BabyNameFilter, BrandMatch, Neighbour, Sex } from '../common/names.ts';

export type { BabyNameFilter, BrandMatch, Neighbour, Sex };

export const FIRST_DECADE = 1880;
export const LAST_YEAR = 2024;

export interface BabyNameRecord {
  name: string;
  sex: Sex;
  births: number;
  firstYear: number;
  lastYear: number;
  peakYear: number;
  /** Births per decade, 1880s first. */
  decades: number[];
}

/** Both sexes of one spelling. */
export interface KnownName {
  name: string;
  F?: BabyNameRecord;
  M?: BabyNameRecord;
  births: number;
  /** The sex with more births. */
  sex: Sex;
  /** The peak year of the majority sex. */
  peakYear: number;
}

/** Where resources/ is: beside src/ in a checkout, beside out/ in a build (or CHARMER_RESOURCES). */
export function resourcesDir(): string {
  if (process.env.CHARMER_RESOURCES) return process.env.CHARMER_RESOURCES;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'resources', 'names', 'manifest.json'))) return join(dir, 'resources');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'resources');
}

function namesFile(file: string): string {
  const p = join(resourcesDir(), 'names', file);
  if (!existsSync(p)) {
    throw new CharmerError('FILE_NOT_FOUND', `The built-in name data is missing (${p}). Reinstall Charmer, or rebuild it with npm run build:names.`, {
      path: p,
    });
  }
  return p;
}

export interface NameDataManifest {
  corpora: Array<Record<string, unknown> & { id: string; items: number }>;
}

let manifestCache: NameDataManifest | undefined;
export function nameDataManifest(): NameDataManifest {
  manifestCache ??= JSON.parse(readFileSync(namesFile('manifest.json'), 'utf8')) as NameDataManifest;
  return manifestCache;
}

/**
 * A row of the data, its births per decade parsed when first asked for: a look-up (`known` on each
 * sampled name) needs only the totals, and parsing 1.7 million decade counts was about a fifth of
 * `charmer sample baby-names`'s CPU time.
 */
class BabyNameRow implements BabyNameRecord {
  #decades: number[] | null = null;
  constructor(
    readonly name: string,
    readonly sex: Sex,
    readonly births: number,
    readonly firstYear: number,
    readonly lastYear: number,
    readonly peakYear: number,
    private readonly decadesText: string,
  ) {}
  get decades(): number[] {
    return (this.#decades ??= this.decadesText.split(',').map(Number));
  }
}

let babyCache: BabyNameRecord[] | undefined;
/** Every name+sex pair, sorted by name then sex. */
export function babyNames(): BabyNameRecord[] {
  if (babyCache) return babyCache;
  const text = gunzipSync(readFileSync(namesFile('us-baby-names.tsv.gz'))).toString('utf8');
  const out: BabyNameRecord[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l) continue;
    const [name, sex, births, first, last, peak, decades] = l.split('\t');
    out.push(new BabyNameRow(name!, sex as Sex, +births!, +first!, +last!, +peak!, decades!));
  }
  babyCache = out;
  return out;
}

export function decadeLabel(year: number): string {
  return `${year - (year % 10)}s`;
}

let knownCache: Map<string, KnownName> | undefined;
/** Known names by lower-case spelling. */
export function knownNames(): Map<string, KnownName> {
  if (knownCache) return knownCache;
  const m = new Map<string, KnownName>();
  for (const r of babyNames()) {
    const key = r.name.toLowerCase();
    let k = m.get(key);
    if (!k) {
      k = { name: r.name, births: 0, sex: r.sex, peakYear: r.peakYear };
      m.set(key, k);
    }
    k[r.sex] = r;
    k.births += r.births;
    const major = (k.F?.births ?? 0) >= (k.M?.births ?? 0) ? k.F! : k.M!;
    k.sex = major.sex;
    k.peakYear = major.peakYear;
  }
  knownCache = m;
  return m;
}

export function lookupName(text: string): KnownName | null {
  return knownNames().get(text.trim().toLowerCase()) ?? null;
}

let brandCache: string[] | undefined;
export function startupNames(): string[] {
  brandCache ??= readFileSync(namesFile('startup-names.txt'), 'utf8')
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  return brandCache;
}

// ------------------------------------------------------------------------------------ subsets

/**
 * Births of a record within [since, until]. The data holds births per decade, so a decade partly
 * inside the range counts in proportion to its years inside (the 2020s hold 2020-2024 only).
 */
export function birthsBetween(r: BabyNameRecord, since = FIRST_DECADE, until = LAST_YEAR): number {
  if (since <= FIRST_DECADE && until >= LAST_YEAR) return r.births;
  let sum = 0;
  for (let d = 0; d < r.decades.length; d++) {
    const lo = FIRST_DECADE + d * 10;
    const hi = Math.min(lo + 9, LAST_YEAR);
    const a = Math.max(lo, since);
    const b = Math.min(hi, until);
    if (b < a || !r.decades[d]) continue;
    sum += (r.decades[d]! * (b - a + 1)) / (hi - lo + 1);
  }
  return Math.round(sum);
}

export function checkBabyNameFilter(f: BabyNameFilter): void {
  if (f.sex !== undefined && f.sex !== 'F' && f.sex !== 'M') {
    throw new CharmerError('BAD_OPTION', `sex must be F or M (got "${f.sex}").`);
  }
  for (const k of ['since', 'until'] as const) {
    const v = f[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= FIRST_DECADE && v <= LAST_YEAR)) {
      throw new CharmerError('BAD_OPTION', `${k} must be a year from ${FIRST_DECADE} to ${LAST_YEAR} (got ${v}).`);
    }
  }
  if (f.since !== undefined && f.until !== undefined && f.since > f.until) {
    throw new CharmerError('BAD_OPTION', `since (${f.since}) is after until (${f.until}): no year is left. Swap them.`);
  }
  if (f.minBirths !== undefined && !(Number.isFinite(f.minBirths) && f.minBirths >= 0)) {
    throw new CharmerError('BAD_OPTION', `min-births must be 0 or more (got ${f.minBirths}).`);
  }
}

export function describeBabyNameFilter(f: BabyNameFilter): string {
  const parts: string[] = [];
  if (f.sex) parts.push(f.sex === 'F' ? 'girls' : 'boys');
  if (f.since !== undefined && f.until !== undefined) parts.push(`${f.since}-${f.until}`);
  else if (f.since !== undefined) parts.push(`since ${f.since}`);
  else if (f.until !== undefined) parts.push(`until ${f.until}`);
  if (f.minBirths) parts.push(`≥${f.minBirths.toLocaleString('en-US')} births`);
  return parts.join(', ');
}

export function isEmptyFilter(f: BabyNameFilter): boolean {
  return !f.sex && f.since === undefined && f.until === undefined && !f.minBirths;
}

/**
 * The name+sex pairs a filter keeps, each with the decade of its peak within the chosen years.
 * Throws EMPTY_SUBSET, saying which condition to loosen, when nothing is left.
 */
export function filterBabyNames(f: BabyNameFilter = {}): Array<BabyNameRecord & { decade: string; birthsInRange: number }> {
  checkBabyNameFilter(f);
  const since = f.since ?? FIRST_DECADE;
  const until = f.until ?? LAST_YEAR;
  const out: Array<BabyNameRecord & { decade: string; birthsInRange: number }> = [];
  for (const r of babyNames()) {
    if (f.sex && r.sex !== f.sex) continue;
    if (r.lastYear < since || r.firstYear > until) continue;
    const b = birthsBetween(r, since, until);
    if (b <= 0 || b < (f.minBirths ?? 0)) continue;
    // Fields by name: a spread would drop `decades` (a getter on BabyNameRow).
    const { name, sex, births, firstYear, lastYear, peakYear, decades } = r;
    out.push({ name, sex, births, firstYear, lastYear, peakYear, decades, decade: decadeLabel(peakDecadeWithin(r, since, until)), birthsInRange: b });
  }
  if (out.length === 0) {
    throw new CharmerError(
      'EMPTY_SUBSET',
      `No baby name matches ${describeBabyNameFilter(f) || 'this filter'}. Lower the minimum births${f.since !== undefined || f.until !== undefined ? ' or widen the years' : ''}.`,
      { filter: f },
    );
  }
  return out;
}

/** The peak year when it lies in the range, else the start of the range's busiest decade. */
function peakDecadeWithin(r: BabyNameRecord, since: number, until: number): number {
  if (r.peakYear >= since && r.peakYear <= until) return r.peakYear;
  let best = -1;
  let year = since;
  for (let d = 0; d < r.decades.length; d++) {
    const lo = FIRST_DECADE + d * 10;
    if (lo + 9 < since || lo > until) continue;
    if (r.decades[d]! > best) {
      best = r.decades[d]!;
      year = Math.max(lo, since);
    }
  }
  return year;
}

// ------------------------------------------------------------------------------- nearest names

function metaphoneKeys(s: string): string[] {
  const letters = s.normalize('NFD').replace(/[^A-Za-z]/g, '');
  if (!letters) return [];
  const [a, b] = doubleMetaphone(letters);
  return [...new Set([a, b].filter(Boolean))];
}

export function soundsAlike(a: string, b: string): boolean {
  const ka = metaphoneKeys(a);
  const kb = new Set(metaphoneKeys(b));
  return ka.length > 0 && ka[0]!.length >= 2 && ka.some((k) => kb.has(k));
}

class SoundIndex {
  private readonly byKey = new Map<string, string[]>();
  constructor(names: Iterable<string>) {
    for (const n of names) {
      for (const k of metaphoneKeys(n)) {
        let list = this.byKey.get(k);
        if (!list) this.byKey.set(k, (list = []));
        list.push(n);
      }
    }
  }
  find(s: string): string[] {
    const out = new Set<string>();
    for (const k of metaphoneKeys(s)) for (const n of this.byKey.get(k) ?? []) out.add(n);
    return [...out];
  }
}

/** Up to `limit` entries of `pool` closest to `text` (case-insensitive edit distance, then popularity). */
function nearestBySpelling<T extends { name: string; births?: number }>(
  text: string,
  pool: readonly T[],
  limit: number,
  maxDistance: number,
): Array<T & { distance: number }> {
  const q = text.toLowerCase();
  const found: Array<T & { distance: number }> = [];
  for (const e of pool) {
    const n = e.name;
    if (Math.abs(n.length - q.length) > maxDistance) continue;
    const d = distance(q, n.toLowerCase());
    if (d === 0 || d > maxDistance) continue;
    found.push({ ...e, distance: d });
  }
  found.sort((a, b) => a.distance - b.distance || (b.births ?? 0) - (a.births ?? 0) || a.name.localeCompare(b.name));
  return found.slice(0, limit);
}

let knownList: KnownName[] | undefined;
let knownSound: SoundIndex | undefined;

/** Known baby names nearest by spelling (edit distance ≤ 2) and by sound (same double metaphone), most popular first. */
export function nearestKnownNames(text: string, limit = 5): { spelling: Neighbour[]; sound: Neighbour[] } {
  knownList ??= [...knownNames().values()];
  knownSound ??= new SoundIndex(knownList.map((k) => k.name));
  const spelling = nearestBySpelling(text, knownList, limit, 2).map((k) => ({ name: k.name, distance: k.distance, births: k.births, sex: k.sex }));
  const q = text.toLowerCase();
  const sound = knownSound
    .find(text)
    .filter((n) => n.toLowerCase() !== q)
    .map((n) => knownNames().get(n.toLowerCase())!)
    .sort((a, b) => b.births - a.births)
    .slice(0, limit)
    .map((k) => ({ name: k.name, distance: distance(q, k.name.toLowerCase()), births: k.births, sex: k.sex }));
  return { spelling, sound };
}

const brandIndexes = new Map<readonly string[], { list: Array<{ name: string }>; sound: SoundIndex; lower: Set<string> }>();
function brandIndex(brands: readonly string[]) {
  let ix = brandIndexes.get(brands);
  if (!ix) {
    ix = { list: brands.map((name) => ({ name })), sound: new SoundIndex(brands), lower: new Set(brands.map((b) => b.toLowerCase())) };
    brandIndexes.set(brands, ix);
  }
  return ix;
}

/** True when `text` equals a brand ignoring case. */
export function isBrand(text: string, brands: readonly string[] = startupNames()): boolean {
  return brandIndex(brands).lower.has(text.trim().toLowerCase());
}

/**
 * The brands nearest to `text`: by edit distance (ignoring case), plus those that sound the same.
 * The first is the nearest; `warning` names it when it is within two edits or sounds the same.
 */
export function nearestBrands(text: string, brands: readonly string[] = startupNames(), limit = 5): { nearest: BrandMatch[]; warning: string | null } {
  const ix = brandIndex(brands);
  const q = text.toLowerCase();
  let best: BrandMatch[] = [];
  for (const b of ix.list) {
    const d = distance(q, b.name.toLowerCase());
    best.push({ name: b.name, distance: d, soundsAlike: false });
  }
  best.sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  best = best.slice(0, limit);
  const alike = ix.sound.find(text).filter((n) => !best.some((b) => b.name === n));
  const sound = alike.map((n) => ({ name: n, distance: distance(q, n.toLowerCase()), soundsAlike: true }));
  for (const b of best) b.soundsAlike = soundsAlike(text, b.name);
  const nearest = [...best, ...sound]
    .sort((a, b) => a.distance - b.distance || Number(b.soundsAlike) - Number(a.soundsAlike) || a.name.localeCompare(b.name))
    .slice(0, limit);
  const close = nearest.find((b) => b.distance <= 2 || b.soundsAlike);
  const warning = close
    ? `close to ${close.name}${close.distance === 0 ? ' (the same name)' : close.distance <= 2 ? ` (${close.distance} edit${close.distance === 1 ? '' : 's'} away)` : ' (sounds the same)'}`
    : null;
  return { nearest, warning };
}
