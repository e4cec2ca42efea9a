/**
 * Where the library lives: --data-dir, else CHARMER_DATA_DIR, else the platform's user-data folder
 * ($XDG_DATA_HOME/charmer or ~/.local/share/charmer on Linux, ~/Library/Application Support/Charmer
 * on macOS, %APPDATA%\Charmer on Windows). The Electron app passes app.getPath('userData').
 */
import os from 'node:os';
import path from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Charmer');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'Charmer');
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share');
  return path.join(xdg, 'charmer');
}

export function resolveDataDir(flag?: string | null, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (flag) return path.resolve(flag);
  if (env.CHARMER_DATA_DIR) return path.resolve(env.CHARMER_DATA_DIR);
  return defaultDataDir(env, platform);
}

/** Layout inside the data directory. */
export const layout = {
  database: (dataDir: string) => path.join(dataDir, 'charmer.db'),
  corpora: (dataDir: string) => path.join(dataDir, 'corpora'),
  corpusFile: (dataDir: string, hash: string) => path.join(dataDir, 'corpora', `${hash}.txt`),
  runs: (dataDir: string) => path.join(dataDir, 'runs'),
  runDir: (dataDir: string, runId: number) => path.join(dataDir, 'runs', String(runId)),
};
