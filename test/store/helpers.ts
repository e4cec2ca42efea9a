import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temporary data directory, removed by cleanup(). */
export function tempDir(prefix = 'charmer-store-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Call at a test file's top level: returns `dir()`, a fresh temporary directory removed after each test. */
export function tempDirPerTest(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
}

/** A fake but well-formed checkpoint directory (model.json with Charmer metadata + weights.bin). */
export function writeFakeCheckpoint(dir: string, iteration: number, valLoss: number | null = 2.5): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(16));
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({
      format: 'layers-model',
      weightsManifest: [{ paths: ['weights.bin'], weights: [] }],
      userDefinedMetadata: { charmer: { format: 'charmer-1', iteration, valLoss } },
    }),
  );
}
