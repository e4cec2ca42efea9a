/**
 * The layers of src/ keep their directions (.dependency-cruiser.cjs, docs/ARCHITECTURE.md): the
 * check passes on the tree as it is, and it catches a renderer file that imports the engine.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function depcruise(...targets: string[]) {
  const r = spawnSync(process.execPath, [DEPCRUISE, ...targets, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('import directions between the layers', () => {
  it('src/ as it stands breaks none of them', () => {
    const r = depcruise('src');
    expect(r.output).not.toMatch(/error /);
    expect(r.status).toBe(0);
  });

  it('a renderer file that imports the engine, the store or the Node part of the api is caught', () => {
    const probe = join(ROOT, 'src', 'renderer', 'lib', `layer-probe-${process.pid}.ts`);
    writeFileSync(
      probe,
      [
        "import { Rng } from '../../engine/rng.ts';",
        "import type { Store } from '../../store/store.ts';",
        "import { createHandlers } from '../../api/node/handlers.ts';",
        'export const probe: unknown[] = [Rng, createHandlers, null as Store | null];',
        '',
      ].join('\n'),
    );
    try {
      const r = depcruise(probe);
      expect(r.status).not.toBe(0);
      const rel = `src/renderer/lib/layer-probe-${process.pid}.ts`;
      expect(r.output).toContain(`renderer-imports-api-common: ${rel} → src/engine/rng.ts`);
      expect(r.output).toContain(`renderer-imports-api-common: ${rel} → src/store/store.ts`);
      expect(r.output).toContain(`renderer-never-loads-api-node: ${rel} → src/api/node/handlers.ts`);
    } finally {
      rmSync(probe, { force: true });
    }
  });
});
