/** bin/fresh-build.js: the command-line build's entry when it is newer than every source it came from, else null. */
export function freshBuild(root: string, dir?: string): string | null;
