#!/usr/bin/env node
/**
 * Builds the command line into out/cli/ so that `charmer` starts without compiling TypeScript on every
 * run (tsx's loader thread and Node's parsing of CommonJS packages for ESM imports were most of a short
 * command's time: docs/PERFORMANCE.md, "Command-line start-up"). Runs on `npm install` (prepare) and
 * `npm run build:cli` (`--outdir DIR` builds elsewhere, as the tests do). bin/charmer.js uses the build only while it is newer than every source it was
 * built from, so an edited checkout never runs stale code: it falls back to the sources through tsx.
 *
 * What the build keeps as it was in the sources:
 * - packages stay in node_modules (native better-sqlite3, TF.js's wasm files, one TF.js per process);
 *   the CommonJS ones listed in CJS_PACKAGES, where imported statically, are loaded with require(),
 *   which skips the lexer Node runs over a CommonJS file imported from ESM;
 * - `import.meta.url` in each source becomes that source's own URL, so paths next to a module
 *   (resources, worker entries, the training process's entry) resolve as they do from src/.
 * A failed build is not fatal for `npm install`: the command line then runs from the sources.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? resolve(process.argv[at + 1]) : join(root, 'out', 'cli');
const CJS_PACKAGES = /^(@tensorflow\/tfjs-(core|layers|backend-cpu|backend-wasm)|seedrandom|better-sqlite3|zod|ws)(\/.*)?$/;

const sourceUrls = {
  name: 'source-urls',
  setup(build) {
    build.onResolve({ filter: CJS_PACKAGES, namespace: 'cjs-package' }, (a) => ({ path: a.path, external: true }));
    // Static imports only: a chunk made from a dynamically imported CommonJS module would offer
    // nothing but a default export, so `await import(pkg)` stays a real import.
    build.onResolve({ filter: CJS_PACKAGES }, (a) => (a.kind === 'import-statement' ? { path: a.path, namespace: 'cjs-package' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'cjs-package' }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(a.path)});`,
      loader: 'js',
    }));
    build.onLoad({ filter: /\.ts$/ }, (a) => ({
      contents: readFileSync(a.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(a.path).href)),
      loader: 'ts',
    }));
  },
};

try {
  const { build } = await import('esbuild');
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { charmer: join(root, 'src/cli/main.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outdir,
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
    banner: { js: "import { createRequire as __charmerRequire } from 'node:module'; const require = __charmerRequire(import.meta.url);" },
    plugins: [sourceUrls],
  });
  // The sources the build came from, for bin/charmer.js's freshness check.
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes(':') && !p.includes('node_modules'))
    .map((p) => relative(root, join(root, p)));
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'inputs.json'), JSON.stringify({ root, inputs }));
  console.log(`charmer: command line built into ${relative(process.cwd(), outdir) || '.'} from ${inputs.length} sources`);
} catch (e) {
  rmSync(outdir, { recursive: true, force: true });
  console.warn(`charmer: the command line was not built (${e?.message ?? e}); it will run from the sources, only slower to start.`);
}
