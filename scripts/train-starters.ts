/**
 * `npm run train:starters [-- --only ID]`: trains every starter model (src/services/starters.ts
 * holds their corpora, seeds and settings) with
 * the charmer CLI and copies each best checkpoint,
 * without its optimizer state, into resources/starters/<id>/. A starter whose corpus is not in
 * this checkout is skipped with a sentence saying so; nothing is trained on a stand-in.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as engine from '../src/engine/index.ts';
import { BUILTIN_NAMES } from '../src/engine/index.ts';
import { STARTER_DEFS, startersDir, type StarterDef } from '../src/services/starters.ts';

const root = startersDir();
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const SHIPPED = ['model.json', 'weights.bin', 'items.json'];

/** The `charmer train` arguments naming the corpus, or why it cannot be trained here. */
function corpusArgs(def: StarterDef): string[] | string {
  const c = def.corpus;
  if ('file' in c) {
    const file = path.join(root, c.file);
    return fs.existsSync(file) ? [file] : `its corpus ${file} is missing`;
  }
  const isBuiltin = (engine as Record<string, unknown>).isBuiltinCorpus as ((s: string) => boolean) | undefined;
  if (c.builtin !== BUILTIN_NAMES && !isBuiltin?.(c.builtin))
    return `the built-in corpus "${c.builtin}" is not in this checkout (it comes with the names issue)`;
  return [c.builtin, ...(c.categories ? ['--categories', c.categories.join(',')] : [])];
}

let failed = 0;
for (const def of STARTER_DEFS) {
  if (only && def.id !== only) continue;
  const src = corpusArgs(def);
  if (typeof src === 'string') {
    console.log(`Skipping ${def.id}: ${src}.`);
    continue;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `starter-${def.id}-`));
  const outs = [out];
  const best = path.join(out, 'best');
  const t0 = Date.now();
  const args = ['bin/charmer.js', 'train', ...src, ...def.args, '--no-store', '--quiet', '--out', out];
  console.log(`Training ${def.id}: node ${args.join(' ')}`);
  const status = spawnSync(process.execPath, args, { stdio: 'inherit' }).status;
  const seconds = (Date.now() - t0) / 1000;
  if (status !== 0 || !fs.existsSync(path.join(best, 'model.json'))) {
    console.error(`Training ${def.id} failed (exit ${status}); resources/starters/${def.id} is unchanged.`);
    for (const out of outs) fs.rmSync(out, { recursive: true, force: true });
    failed++;
    continue;
  }
  const dest = path.join(root, def.id);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  for (const f of SHIPPED) if (fs.existsSync(path.join(best, f))) fs.copyFileSync(path.join(best, f), path.join(dest, f));
  for (const out of outs) fs.rmSync(out, { recursive: true, force: true });
  const meta = JSON.parse(fs.readFileSync(path.join(dest, 'model.json'), 'utf8')).userDefinedMetadata.charmer;
  console.log(`${def.id}: validation loss ${meta.bestValLoss.toFixed(4)} nats/char at iteration ${meta.iteration}, ${seconds.toFixed(0)} s.`);
}
process.exit(failed ? 1 : 0);
