import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LATEST_VERSION, migrate, migrations, openStore } from '../../src/store/index.ts';
import { tempDirPerTest } from './helpers.ts';

const dir = tempDirPerTest();

/** Rows that fit the schema as it was at `version`, so an upgrade must carry them over. */
function seed(db: Database.Database, version: number): void {
  if (version >= 1) {
    db.prepare(`INSERT INTO corpora (id, name, mode, bytes, chars, vocab_size, lines, hash, created) VALUES (1, 'c', 'text', 3, 3, 2, 1, 'abc', 1)`).run();
    db.prepare(`INSERT INTO runs (id, corpus_id, name, config, status, created) VALUES (7, 1, 'r', '{"mode":"text"}', 'completed', 2)`).run();
    db.prepare(`INSERT INTO metrics (run_id, iteration, epoch, train_loss) VALUES (7, 10, 0.1, 3.2)`).run();
    db.prepare(`INSERT INTO samples (run_id, mode, text, created) VALUES (7, 'text', 'kept', 3)`).run();
  }
  if (version >= 2) db.prepare(`INSERT INTO drafts (title, text, updated) VALUES ('t', 'draft text', 4)`).run();
}

describe('migrations', () => {
  it('are numbered 1..N without gaps, one file each', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    const files = fs.readdirSync(path.join(__dirname, '../../src/store/migrations')).filter((f) => /^\d{4}-.*\.ts$/.test(f));
    expect(files.map((f) => Number(f.slice(0, 4)))).toEqual(migrations.map((m) => m.version));
  });

  it('create the whole schema in an empty directory, in WAL mode with foreign keys', () => {
    const d = path.join(dir(), 'nested', 'library');
    const store = openStore(d);
    expect(store.schemaVersion).toBe(LATEST_VERSION);
    expect(store.fresh).toBe(true);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (store.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['checkpoints', 'corpora', 'drafts', 'metrics', 'runs', 'samples']));
    expect(fs.existsSync(path.join(d, 'corpora'))).toBe(true);
    expect(fs.existsSync(path.join(d, 'runs'))).toBe(true);
    store.close();
    const again = openStore(d);
    expect(again.fresh).toBe(false);
    again.close();
  });

  for (let from = 1; from < LATEST_VERSION; from++) {
    it(`upgrade a library at schema ${from} to ${LATEST_VERSION}, keeping its rows`, () => {
      const d = dir();
      const db = new Database(path.join(d, 'charmer.db'));
      db.pragma('journal_mode = WAL');
      expect(migrate(db, from)).toBe(from);
      seed(db, from);
      db.close();
      const store = openStore(d);
      expect(store.schemaVersion).toBe(LATEST_VERSION);
      expect(store.getRun(7)?.name).toBe('r');
      expect(store.listMetrics(7)).toHaveLength(1);
      expect(store.listSamples().items.map((s) => s.text)).toEqual(['kept']);
      expect(store.listSamples().items[0]!.guidance).toBeNull(); // kept before guidance was recorded
      const draft = store.saveDraft({ title: 'new', text: 'hello' });
      expect(store.getDraft(draft.id)?.text).toBe('hello');
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(store.db.pragma('foreign_key_check')).toEqual([]);
      store.close();
    });
  }

  it('a failing migration leaves the database at the previous version (each runs in a transaction)', () => {
    const d = dir();
    const db = new Database(path.join(d, 'charmer.db'));
    migrate(db, 1);
    const broken = {
      version: 2,
      name: 'broken',
      up: (x: Database.Database) => {
        x.exec('CREATE TABLE half_done (a)');
        throw new Error('boom');
      },
    };
    expect(() =>
      db
        .transaction(() => {
          broken.up(db);
          db.pragma('user_version = 2');
        })
        .immediate(),
    ).toThrow('boom');
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'`).get()).toEqual({ n: 0 });
    db.close();
  });
});
