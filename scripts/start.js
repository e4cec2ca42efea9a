#!/usr/bin/env node
/**
 * `npm start`: builds the app when the sources are newer than the build, then opens the desktop app.
 * Where Electron's binary is missing and cannot be downloaded (offline machines, CI), it says so in
 * one line and starts browser mode instead (`charmer serve`), which prints the URL to open.
 *
 *   npm start                   desktop app (or browser mode as a fallback)
 *   npm start -- --browser      browser mode straight away; other options go to `charmer serve`
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const browserOnly = args.includes('--browser') || process.env.CHARMER_BROWSER_MODE === '1';
const serveArgs = args.filter((a) => a !== '--browser');

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

/** The Electron executable when it is installed, else null (never downloads). */
function electronBinary() {
  const pkg = join(root, 'node_modules/electron');
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) return join(process.env.ELECTRON_OVERRIDE_DIST_PATH, process.platform === 'win32' ? 'electron.exe' : 'electron');
  const pathFile = join(pkg, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const full = join(pkg, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(full) ? full : null;
}

function downloadElectron() {
  const install = join(root, 'node_modules/electron/install.js');
  if (!existsSync(install)) return null;
  process.stderr.write('Downloading Electron’s binary (first start)…\n');
  spawnSync(process.execPath, [install], { cwd: root, stdio: 'ignore', timeout: 300_000 });
  return electronBinary();
}

function run(cmd, argv) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit' });
    const forward = (sig) => () => child.kill(sig);
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGTERM', forward('SIGTERM'));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const electronViteCli = join(root, 'node_modules/electron-vite/bin/electron-vite.js');

async function main() {
  const binary = browserOnly ? null : (electronBinary() ?? downloadElectron());
  if (binary) {
    const sources = Math.max(newest(join(root, 'src')), mtime(join(root, 'electron.vite.config.ts')));
    const built = Math.min(mtime(join(root, 'out/main/index.js')), mtime(join(root, 'out/preload/index.cjs')), mtime(join(root, 'out/renderer/index.html')));
    if (built < sources) {
      process.stderr.write('Building the app (electron-vite build)…\n');
      const code = await run(process.execPath, [existsSync(electronViteCli) ? electronViteCli : join(root, 'node_modules/.bin/electron-vite'), 'build']);
      if (code !== 0) return code;
    }
    // Electron needs better-sqlite3 built for its own ABI (a second copy; node_modules keeps Node's
    // for the CLI and tests). Built once, on the first start where Electron runs.
    if (!existsSync(join(root, 'build/electron-sqlite/better_sqlite3.node'))) {
      process.stderr.write('Building the SQLite module for Electron (once)…\n');
      const code = await run(process.execPath, [join(root, 'scripts/rebuild-electron-sqlite.js')]);
      if (code !== 0) {
        process.stderr.write('Could not build SQLite for Electron (it needs Electron’s headers from the internet); starting browser mode instead.\n');
        return run(process.execPath, [join(root, 'bin/charmer.js'), 'serve', ...serveArgs]);
      }
    }
    return run(binary, [root]);
  }
  if (!browserOnly) {
    process.stdout.write(
      'Electron’s binary is not installed and could not be downloaded here, so Charmer starts in browser mode instead (open the URL below).\n',
    );
  }
  const rendererSources = Math.max(newest(join(root, 'src/renderer')), newest(join(root, 'src/api')));
  const stale = mtime(join(root, 'out/renderer/index.html')) < rendererSources;
  return run(process.execPath, [join(root, 'bin/charmer.js'), 'serve', ...(stale ? ['--rebuild'] : []), ...serveArgs]);
}

main().then((code) => process.exit(code));
