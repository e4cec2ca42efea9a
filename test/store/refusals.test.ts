/**
 * Each bad condition gets its own clear message and nothing is overwritten: a read-only or unusable
 * data directory, a full disk, a corrupt database file, a database from a newer Charmer.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CharmerError } from '../../src/engine/errors.ts';
import { openStore } from '../../src/store/index.ts';
import { libraryError } from '../../src/store/errors.ts';
import { importCorpus } from '../../src/services/library.ts';
import { tempDir } from './helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    try {
      fs.chmodSync(d, 0o755);
    } catch {
      /* gone */
    }
    fs.rmSync(d, { recursive: true, force: true });
  }
});
function dir() {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function refusal(fn: () => unknown): CharmerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CharmerError);
    return e as CharmerError;
  }
  throw new Error('expected a refusal');
}

const ROOT = process.getuid?.() === 0;
const REPO = path.resolve(__dirname, '../..');

describe('refusals', () => {
  it('a data directory below a file: DATA_DIR_INVALID', () => {
    const file = path.join(dir(), 'a-file');
    fs.writeFileSync(file, 'x');
    const e = refusal(() => openStore(path.join(file, 'library')));
    expect(e.code).toBe('DATA_DIR_INVALID');
    expect(e.message).toMatch(/is a file.*--data-dir/);
  });

  it('a read-only data directory: DATA_DIR_READ_ONLY, and nothing is created', () => {
    const d = dir();
    const lib = path.join(d, 'library');
    fs.mkdirSync(lib);
    fs.chmodSync(lib, 0o555);
    fs.chmodSync(d, 0o755);
    if (!ROOT) {
      const e = refusal(() => openStore(lib));
      expect(e.code).toBe('DATA_DIR_READ_ONLY');
      expect(e.message).toMatch(/read-only.*--data-dir/);
    } else {
      // Root ignores permission bits, so the check runs in a child process as user "nobody", for
      // whom the 0555 folder really is read-only (no chattr, no read-only mount needed).
      const script = `import { openStore } from ${JSON.stringify(path.join(REPO, 'src/store/index.ts'))};
        try { openStore(${JSON.stringify(lib)}); console.log(JSON.stringify({ ok: true })); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: REPO,
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
        env: { ...process.env, HOME: d, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.json') },
      });
      const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
      expect(out.code, r.stderr).toBe('DATA_DIR_READ_ONLY');
      expect(out.message).toMatch(/read-only.*--data-dir/);
    }
    expect(fs.readdirSync(lib)).toEqual([]);
  });

  it('a database file that is not SQLite: DATABASE_CORRUPT, file untouched, no WAL created', () => {
    const d = dir();
    const db = path.join(d, 'charmer.db');
    const junk = Buffer.from('this is not a database, but someone may need these bytes\n'.repeat(100));
    fs.writeFileSync(db, junk);
    const e = refusal(() => openStore(d));
    expect(e.code).toBe('DATABASE_CORRUPT');
    expect(e.message).toMatch(/damaged.*will not change it.*backup/);
    expect(fs.readFileSync(db).equals(junk)).toBe(true);
    expect(fs.existsSync(`${db}-wal`)).toBe(false);
  });

  it('a damaged page inside a real library: DATABASE_CORRUPT, file untouched', () => {
    const d = dir();
    const store = openStore(d);
    const c = store.insertCorpus({ name: 'c', mode: 'text', bytes: 1, chars: 1, vocabSize: 1, lines: 1, hash: 'h', sourcePath: null, charCounts: {} });
    const run = store.createRun({ corpusId: c.id, name: 'r', config: {} });
    store.writeMetrics(
      run.id,
      Array.from({ length: 5000 }, (_, i) => ({ iteration: i, epoch: 0, trainLoss: 1, valLoss: null, lr: 0.1, charsPerS: 1, elapsedS: 1 })),
    );
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    const file = path.join(d, 'charmer.db');
    const bytes = fs.readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    // Scribble over a b-tree page in the middle of the file.
    const page = Math.floor(bytes.length / pageSize / 2);
    bytes.fill(0xa5, page * pageSize, page * pageSize + pageSize);
    fs.writeFileSync(file, bytes);
    const e = refusal(() => openStore(d));
    expect(e.code).toBe('DATABASE_CORRUPT');
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
  });

  it('a database from a newer Charmer: DATABASE_TOO_NEW, file untouched', () => {
    const d = dir();
    openStore(d).close();
    const file = path.join(d, 'charmer.db');
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = fs.readFileSync(file);
    const e = refusal(() => openStore(d));
    expect(e.code).toBe('DATABASE_TOO_NEW');
    expect(e.message).toMatch(/newer version of Charmer \(schema 99; this version knows up to \d+\).*Nothing was changed/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('an SQLite file that is not a Charmer library is refused, not migrated', () => {
    const d = dir();
    const raw = new Database(path.join(d, 'charmer.db'));
    raw.exec('CREATE TABLE someone_elses (x)');
    raw.close();
    expect(refusal(() => openStore(d)).code).toBe('DATABASE_CORRUPT');
  });

  it('a full disk: DISK_FULL, and what was saved stays', async () => {
    const d = dir();
    const store = openStore(d);
    const first = await importCorpus(store, { text: 'first corpus\n', name: 'first' });
    // SQLite reports a full disk as SQLITE_FULL; cap the file at its current size to provoke it.
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.db.pragma(`max_page_count = ${pages}`);
    const big = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n');
    let err: unknown;
    try {
      // Many samples: more than the capped file can hold.
      store.insertSamples(Array.from({ length: 2000 }, () => ({ runId: null, mode: 'text' as const, text: big.slice(0, 2000) })));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CharmerError);
    expect((err as CharmerError).code).toBe('DISK_FULL');
    expect((err as CharmerError).message).toMatch(/is full.*Free some space/);
    expect(store.listSamples().total).toBe(0);
    expect(store.getCorpus(first.corpus.id)?.name).toBe('first');
    store.close();
    // A file write that fails with ENOSPC gets the same message.
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect((libraryError(enospc, 'the corpus copy', d) as CharmerError).code).toBe('DISK_FULL');
  });
});
