// Whether the command-line build (scripts/build-cli.mjs) may run instead of the sources: it exists and
// is newer than every source it was built from, in this same folder. A source renamed or removed since
// counts as stale.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The build's entry file when it is fresh, else null. */
export function freshBuild(root, dir = join(root, 'out', 'cli')) {
  const entry = join(dir, 'charmer.js');
  if (!existsSync(entry)) return null;
  try {
    const builtAt = statSync(entry).mtimeMs;
    const built = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
    // The build holds its sources' absolute URLs (scripts/build-cli.mjs): a moved checkout must rebuild.
    if (resolve(built.root) !== resolve(root) || built.inputs.length === 0) return null;
    return built.inputs.every((p) => statSync(join(root, p)).mtimeMs <= builtAt) ? entry : null;
  } catch {
    return null;
  }
}
