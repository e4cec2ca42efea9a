/**
 * The command line's build (scripts/build-cli.mjs): it answers exactly as the sources do, finds the
 * resources and starters next to the sources, and bin/charmer.js runs it only while it is fresh.
 * The build goes to a folder of its own under out/ (inside the checkout, where its packages resolve),
 * so that other tests' `charmer` runs never see out/cli half written.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshBuild } from '../../bin/fresh-build.js';

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'charmer-cli-build-'));
const out = mkdtempSync(join(ROOT, 'out', 'cli-test-'));

function run(entry: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    // The suite hides the starters (CHARMER_STARTERS=none); these runs want the shipped ones.
    env: { ...process.env, CHARMER_DATA_DIR: join(dir, 'library'), CHARMER_STARTERS: join(ROOT, 'resources', 'starters'), ...env },
    timeout: 120_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('the command-line build', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('builds, and samples the starters and lists the models exactly as the sources do', () => {
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build-cli.mjs'), '--outdir', out], { encoding: 'utf8', timeout: 120_000 });
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/command line built into .* from \d+ sources/);

    const built = join(out, 'charmer.js');
    const sources = join(ROOT, 'bin/charmer.js');
    const fromSources = { CHARMER_FROM_SOURCES: '1' };
    const names = ['sample', 'baby-names', '--count', '25', '--seed', '7', '--category', 'F', '--json'];
    const a = run(built, names);
    expect(a.trim().split('\n')).toHaveLength(25);
    expect(a).toBe(run(sources, names, fromSources));
    const text = ['sample', 'shakespeare', '--length', '80', '--seed', '3', '--prime', 'ROMEO:'];
    expect(run(built, text)).toBe(run(sources, text, fromSources));
    const models = run(built, ['models', '--json']);
    expect(models).toMatch(/"id":"shakespeare"/);
    expect(models).toBe(run(sources, ['models', '--json'], fromSources));
  }, 300_000);

  it('is used only while no source it came from is newer, renamed or removed, and only where it was built', () => {
    const root = join(dir, 'checkout');
    const build = join(root, 'out', 'cli');
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(build, { recursive: true });
    writeFileSync(join(root, 'src', 'a.ts'), 'export {};\n');
    writeFileSync(join(build, 'charmer.js'), '');
    writeFileSync(join(build, 'inputs.json'), JSON.stringify({ root, inputs: ['src/a.ts'] }));
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 60_000);

    utimesSync(join(root, 'src', 'a.ts'), past, past);
    expect(freshBuild(root)).toBe(join(build, 'charmer.js'));
    utimesSync(join(root, 'src', 'a.ts'), future, future);
    expect(freshBuild(root)).toBeNull();
    writeFileSync(join(build, 'inputs.json'), JSON.stringify({ root, inputs: ['src/a.ts', 'src/gone.ts'] }));
    utimesSync(join(root, 'src', 'a.ts'), past, past);
    expect(freshBuild(root)).toBeNull();
    // Built in another folder (the checkout moved since): its source URLs point there.
    writeFileSync(join(build, 'inputs.json'), JSON.stringify({ root: join(dir, 'elsewhere'), inputs: ['src/a.ts'] }));
    expect(freshBuild(root)).toBeNull();
  });
});
