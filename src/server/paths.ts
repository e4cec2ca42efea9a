/**
 * Browser mode's rule for paths a client names (library.inspectFile, library.importFile): the UI
 * uploads files instead, so a path is refused unless the person who started the server named a
 * folder for it (`charmer serve --allow-dir DIR`); then only files inside that folder, after every
 * symbolic link is resolved (realpath), so neither `../` nor a link can step outside it.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ApiError } from '../api/errors.ts';
import { sourceError } from '../services/corpus-import.ts';

export type PathPolicy = (path: string) => Promise<string>;

export async function browserPathPolicy(allowDir: string | undefined): Promise<PathPolicy> {
  if (!allowDir) {
    return async () => {
      throw new ApiError(
        'PATH_NOT_ALLOWED',
        'Browser mode does not open files by path: choose the file with the page’s file picker (it is uploaded), or start the server with `charmer serve --allow-dir FOLDER` to import from that folder.',
      );
    };
  }
  const root = await realpath(resolve(allowDir));
  const named = resolve(allowDir);
  const within = (folder: string, p: string) => {
    const rel = relative(folder, p);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  };
  const inside = (p: string) => within(root, p);
  const refuse = (path: string) =>
    new ApiError(
      'PATH_NOT_ALLOWED',
      `${path} is outside the folder this server may read (${root}, from --allow-dir). Move the file there, or upload it from the page.`,
    );
  return async (path) => {
    // Relative paths are relative to the allowed folder, not to the server's working directory.
    const wanted = isAbsolute(path) ? resolve(path) : resolve(root, path);
    // Checked before touching the disk, so a refusal says nothing about what exists out there.
    if (!inside(wanted) && !within(named, wanted)) throw refuse(path);
    let real: string;
    try {
      real = await realpath(wanted);
    } catch (e) {
      throw sourceError(e, path);
    }
    if (!inside(real)) throw refuse(path);
    return real;
  };
}
