import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary data directory, removed by cleanup(). */
export function tempDir(prefix = 'charmer-store-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fake but well-formed checkpoint directory (model.json with Charmer metadata + weights.bin). */
export function writeFakeCheckpoint(dir: string, iteration: number, valLoss: number | null = 2.5): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(16));
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: [] }], userDefinedMetadata: { charmer: { format: 'charmer-1', iteration, valLoss } } }),
  );
}
