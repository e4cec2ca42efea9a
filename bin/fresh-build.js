// Whether the command-line build (scripts/build-cli.mjs) may run instead of the sources: it exists and
// is newer than every source it was built from. A source renamed or removed since counts as stale.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The build's entry file when it is fresh, else null. */
export function freshBuild(root, dir = join(root, 'out', 'cli')) {
  const entry = join(dir, 'charmer.js');
  if (!existsSync(entry)) return null;
  try {
    const builtAt = statSync(entry).mtimeMs;
    const inputs = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
    return inputs.length > 0 && inputs.every((p) => statSync(join(root, p)).mtimeMs <= builtAt) ? entry : null;
  } catch {
    return null;
  }
}
