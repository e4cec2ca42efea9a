/**
 * Issue 15, items 5 and 6: in browser mode a client names no file outside the folder given with
 * `charmer serve --allow-dir` (none without it), `../` and symbolic links included; anything that is
 * not a regular file (a named pipe) is refused before it is opened, and the server keeps answering.
 * The Electron shell keeps path operations (its paths come from its own dialogs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { serve, type Served } from '../e2e/helpers.ts';
import { httpText, rawExchange, wsCall } from './raw.ts';
import { createHandlers } from '../../src/api/node/handlers.ts';
import { fakeServices } from './fake-services.ts';

let dir: string;
let plain: Served;
let allowed: Served;
const tokenOf = (s: Served) => new URL(s.url).searchParams.get('token')!;
const call = (s: Served, op: string, input: unknown) => wsCall(s.port, tokenOf(s), op, input);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'charmer-paths-'));
  mkdirSync(join(dir, 'allowed'));
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'allowed', 'poems.txt'), 'roses are red\nviolets are blue\n'.repeat(20));
  writeFileSync(join(dir, 'outside', 'secret.txt'), 'the secret of the outside folder\n'.repeat(20));
  symlinkSync(join(dir, 'outside', 'secret.txt'), join(dir, 'allowed', 'link.txt'));
  symlinkSync(join(dir, 'outside'), join(dir, 'allowed', 'linked-folder'));
  execFileSync('mkfifo', [join(dir, 'allowed', 'pipe.txt')]);
  [plain, allowed] = await Promise.all([serve(join(dir, 'data1')), serve(join(dir, 'data2'), ['--allow-dir', join(dir, 'allowed')])]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), allowed?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('paths in browser mode', () => {
  it('without --allow-dir, inspectFile and importFile refuse every path, with what to do instead', async () => {
    for (const path of ['/etc/passwd', '../../etc/passwd', join(dir, 'allowed', 'poems.txt')]) {
      const inspected = await call(plain, 'library.inspectFile', { path });
      expect(inspected.error?.code).toBe('PATH_NOT_ALLOWED');
      expect(inspected.error?.message).toMatch(/file picker.*--allow-dir/);
      const imported = await call(plain, 'library.importFile', { path });
      expect(imported.error?.code).toBe('PATH_NOT_ALLOWED');
    }
    const list = await call(plain, 'library.list', {});
    expect((list.result as Array<{ name: string }>).map((c) => c.name)).toEqual(['names']);
  });

  it('with --allow-dir, files inside the folder open; ../, absolute paths and symbolic links out of it do not', async () => {
    const ok = await call(allowed, 'library.inspectFile', { path: join(dir, 'allowed', 'poems.txt') });
    expect(ok.error).toBeNull();
    expect(ok.result).toMatchObject({ name: 'poems', guessedMode: 'lines' });
    const relativeOk = await call(allowed, 'library.importFile', { path: 'poems.txt' });
    expect(relativeOk.error).toBeNull();
    expect(relativeOk.result).toMatchObject({ corpus: { name: 'poems' } });
    const escapes = [
      '/etc/passwd',
      '../outside/secret.txt',
      join(dir, 'allowed', '..', 'outside', 'secret.txt'),
      relative(process.cwd(), join(dir, 'outside', 'secret.txt')),
      'link.txt',
      join(dir, 'allowed', 'linked-folder', 'secret.txt'),
    ];
    for (const path of escapes) {
      for (const op of ['library.inspectFile', 'library.importFile']) {
        const r = await call(allowed, op, { path });
        expect(r.error?.code, `${op} ${path}`).toBe('PATH_NOT_ALLOWED');
        expect(JSON.stringify(r)).not.toContain('the secret');
      }
    }
    const list = await call(allowed, 'library.list', {});
    expect((list.result as Array<{ name: string }>).map((c) => c.name).sort()).toEqual(['names', 'poems']);
  });

  it('a named pipe is refused before it is opened: no I/O thread waits on it, the server keeps answering', async () => {
    const pipe = join(dir, 'allowed', 'pipe.txt');
    // More calls than Node has I/O threads (4): before, these hung until something wrote to the pipe.
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call(allowed, i % 2 ? 'library.importFile' : 'library.inspectFile', { path: pipe })));
    for (const a of answers) {
      expect(a.error?.code).toBe('NOT_A_FILE');
      expect(a.error?.message).toMatch(/not a regular file/);
    }
    const page = await rawExchange(allowed.port, httpText('GET', `/?token=${tokenOf(allowed)}`, { Host: `127.0.0.1:${allowed.port}` }));
    expect(page).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('paths in the Electron shell', () => {
  it('keeps inspectFile for any path its dialogs return (no policy), and still refuses a pipe', async () => {
    const fake = fakeServices(join(dir, 'data3'));
    const handlers = createHandlers(fake.services, { shell: 'electron', version: '0' }, () => {});
    const info = await handlers.library.inspectFile({ path: join(dir, 'outside', 'secret.txt') });
    expect(info.head).toContain('the secret');
    await expect(handlers.library.inspectFile({ path: join(dir, 'allowed', 'pipe.txt') })).rejects.toMatchObject({ code: 'NOT_A_FILE' });
  });
});
