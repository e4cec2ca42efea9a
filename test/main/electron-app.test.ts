/**
 * The real desktop app through Playwright's _electron, where an Electron binary exists. Here (no
 * network to download it) it is skipped with a message saying so; the main process is covered by
 * main.test.ts with `electron` mocked, and the UI by the browser-mode end-to-end test.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function electronBinary(): string | null {
  const pathFile = join(root, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const full = join(root, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(full) ? full : null;
}

const binary = electronBinary();
const display = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const why = !binary
  ? 'no Electron binary in node_modules/electron (it is downloaded on first use, which is impossible offline)'
  : !display
    ? 'no display (run under xvfb-run)'
    : '';
if (why) console.warn(`[electron] Playwright _electron test skipped: ${why}.`);

describe.skipIf(Boolean(why))('desktop app (Playwright _electron)', () => {
  it('opens the window with the Library, isolated from Node, and quits cleanly', async () => {
    const build = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
    expect(build.status).toBe(0);
    const { _electron } = await import('playwright-core');
    const dataDir = mkdtempSync(join(tmpdir(), 'charmer-electron-'));
    const app = await _electron.launch({ executablePath: binary!, args: [root], env: { ...process.env, CHARMER_DATA_DIR: dataDir } });
    try {
      const win = await app.firstWindow();
      await win.getByRole('button', { name: /^names/ }).waitFor({ timeout: 60_000 });
      expect(await win.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      expect(await win.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
      expect(await win.evaluate(() => Object.keys((globalThis as { charmerBridge?: object }).charmerBridge ?? {}).sort())).toEqual([
        'on',
        'ops',
        'pathForFile',
      ]);
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        const w = BrowserWindow.getAllWindows()[0]!;
        return (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences();
      });
      expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
      await win.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Train' }).click();
      await win.getByRole('button', { name: 'Start training' }).waitFor();
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
