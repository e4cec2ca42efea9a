/**
 * Opening better-sqlite3 under Node and under Electron. The package's own build in node_modules
 * targets Node's ABI (tests, command line, browser mode). Electron has another ABI, so
 * `scripts/rebuild-electron-sqlite.js` builds a second copy with @electron/rebuild into
 * build/electron-sqlite/better_sqlite3.node, and under Electron we pass that file through
 * better-sqlite3's `nativeBinding` option. Search order under Electron: CHARMER_SQLITE_BINDING,
 * <resources>/native/better_sqlite3.node (packaged app), build/electron-sqlite/ in the checkout.
 * See docs/STORE.md.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CharmerError } from '../common/errors.ts';

export type DB = Database.Database;

function packageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'node_modules'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** The native binding to use under Electron, or null under Node. */
export function electronBindingPath(env: NodeJS.ProcessEnv = process.env): string | null {
  if (!process.versions.electron) return null;
  const candidates: string[] = [];
  if (env.CHARMER_SQLITE_BINDING) candidates.push(env.CHARMER_SQLITE_BINDING);
  const resources = (process as unknown as { resourcesPath?: string }).resourcesPath;
  if (resources) candidates.push(path.join(resources, 'native', 'better_sqlite3.node'));
  const root = packageRoot();
  if (root) candidates.push(path.join(root, 'build', 'electron-sqlite', 'better_sqlite3.node'));
  return candidates.find((c) => fs.existsSync(c)) ?? null;
}

export function openDatabase(file: string, opts: Database.Options = {}): DB {
  const binding = electronBindingPath();
  try {
    return new Database(file, binding ? { ...opts, nativeBinding: binding } : opts);
  } catch (e) {
    const msg = (e as Error).message ?? '';
    if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF|not a valid Win32/i.test(msg)) {
      throw new CharmerError(
        'NATIVE_MODULE',
        process.versions.electron
          ? `The SQLite module was built for Node, not for Electron ${process.versions.electron}. Run "node scripts/rebuild-electron-sqlite.js" (it needs Electron's headers), or set CHARMER_SQLITE_BINDING to a better_sqlite3.node built for this Electron. (${msg.split('\n')[0]})`
          : `The SQLite module (better-sqlite3) was built for another runtime. Run "npm rebuild better-sqlite3". (${msg.split('\n')[0]})`,
      );
    }
    throw e;
  }
}
