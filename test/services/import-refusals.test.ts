/**
 * Issue 15, items 6 and 10: what a corpus import says about its source (a pipe, a file it may not
 * read) and that a 50 MB paste lets the event loop turn while it is measured.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { servicesPerTest } from './helpers.ts';
import { tempDir } from '../store/helpers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = process.getuid?.() === 0;

const { services, cleanup } = servicesPerTest();

describe('importing from a source that is not a readable regular file', () => {
  it('a named pipe: NOT_A_FILE at once, nothing imported', async () => {
    const { s, d } = await services();
    const fifo = path.join(d, 'pipe.txt');
    execFileSync('mkfifo', [fifo]);
    await expect(s.library.importCorpus({ path: fifo })).rejects.toMatchObject({
      code: 'NOT_A_FILE',
      message: expect.stringMatching(/not a regular file.*Choose a text file/),
    });
    expect((await s.library.listCorpora()).map((c) => c.name)).toEqual(['names']);
    expect(fs.readdirSync(path.join(d, 'corpora')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a file the user may not read: a sentence about that file, not DATA_DIR_READ_ONLY', async () => {
    const d = tempDir();
    cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
    const lib = path.join(d, 'library');
    const src = path.join(d, 'private.txt');
    fs.writeFileSync(src, 'not for you\n'.repeat(10));
    fs.chmodSync(src, 0o000);
    fs.mkdirSync(lib, { mode: 0o777 });
    fs.chmodSync(lib, 0o777);
    fs.chmodSync(d, 0o755);
    const script = `import { createServices } from ${JSON.stringify(path.join(REPO, 'src/services/index.ts'))};
      const s = await createServices({ dataDir: ${JSON.stringify(lib)} });
      try { await s.library.importCorpus({ path: ${JSON.stringify(src)} }); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      finally { await s.close(); }`;
    // Root ignores permission bits: the import runs as "nobody", for whom the file really is unreadable.
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      encoding: 'utf8',
      ...(ROOT ? { uid: 65534, gid: 65534 } : {}),
      env: { ...process.env, HOME: d, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.json') },
    });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
    expect(out.code, r.stderr).toBe('IO_ERROR');
    expect(out.message).toMatch(/may not read .*private\.txt.*permission denied/);
  });
});

describe('importing a large paste', () => {
  it('gives the event loop turns while it measures 50 MB, and the corpus is exact', async () => {
    const { s } = await services();
    const line = 'The quick brown fox jumps over the lazy dog. 😀 ñ\n';
    const copies = Math.floor(50_000_000 / line.length);
    const text = line.repeat(copies);
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const r = await s.library.importCorpus({ text, name: 'big paste' });
    done = true;
    // Before, the whole text was counted in one synchronous stretch: no other callback ran meanwhile.
    expect(turns).toBeGreaterThan(10);
    expect(r.corpus.chars).toBe(copies * [...line].length);
    expect(r.corpus.lines).toBe(copies);
    expect(r.corpus.bytes).toBe(Buffer.byteLength(text));
    const copy = fs.readFileSync((await s.library.getCorpus(r.corpus.id)).path);
    expect(copy.equals(Buffer.from(text))).toBe(true);
  });
});
