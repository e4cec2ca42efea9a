#!/usr/bin/env node
// Builds a second copy of better-sqlite3's native module for Electron's ABI, into
// build/electron-sqlite/better_sqlite3.node, leaving node_modules/better-sqlite3 (Node's ABI, used by
// the tests, the command line and browser mode) untouched. src/store/sqlite.ts passes the file to
// better-sqlite3's `nativeBinding` option when it runs inside Electron. Needs Electron's headers,
// which @electron/rebuild downloads (so: a machine with internet access, or a populated ~/.electron-gyp).
//
//   node scripts/rebuild-electron-sqlite.js [--electron-version 45.x.y]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = argv.indexOf('--electron-version');
const electronVersion = flag >= 0 ? argv[flag + 1] : require('electron/package.json').version;

const work = path.join(root, 'build', 'electron-sqlite', 'work');
const dest = path.join(root, 'build', 'electron-sqlite', 'better_sqlite3.node');
const src = path.dirname(require.resolve('better-sqlite3/package.json'));

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'node_modules'), { recursive: true });
// A throw-away project holding a copy of the package, so the rebuild never touches node_modules.
fs.cpSync(src, path.join(work, 'node_modules', 'better-sqlite3'), { recursive: true, filter: (p) => !p.includes(`${path.sep}build${path.sep}`) });
for (const dep of ['bindings', 'file-uri-to-path']) {
  try {
    fs.cpSync(path.dirname(require.resolve(`${dep}/package.json`)), path.join(work, 'node_modules', dep), { recursive: true });
  } catch {
    /* optional */
  }
}
fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'electron-sqlite-build', private: true, dependencies: { 'better-sqlite3': '*' } }));

const { rebuild } = require('@electron/rebuild');
console.log(`Building better-sqlite3 for Electron ${electronVersion} in ${work} ...`);
try {
  await rebuild({ buildPath: work, electronVersion, onlyModules: ['better-sqlite3'], force: true, buildFromSource: true });
} catch (e) {
  console.error(`Could not build better-sqlite3 for Electron ${electronVersion}: ${e.message}`);
  console.error("It needs Electron's headers (downloaded from electronjs.org) and a C++ toolchain. See docs/STORE.md.");
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
}
const built = path.join(work, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
fs.copyFileSync(built, dest);
fs.rmSync(work, { recursive: true, force: true });
console.log(`Wrote ${path.relative(root, dest)}. The app loads it when it runs inside Electron (src/store/sqlite.ts).`);
