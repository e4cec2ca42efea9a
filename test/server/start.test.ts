/** `npm start` without an Electron binary: one line saying so, then browser mode and its URL. */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const hasElectron = existsSync(join(root, 'node_modules/electron/path.txt'));

describe.skipIf(hasElectron)('npm start without Electron', () => {
  it('says so in one line and starts browser mode, printing the URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'charmer-start-'));
    const child = spawn(process.execPath, [join(root, 'scripts/start.js'), '--port', '0', '--data-dir', dataDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no URL in 120 s:\n${out}`)), 120_000);
        child.stdout.on('data', () => {
          if (/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+$/m.test(out)) {
            clearTimeout(t);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`exited:\n${out}`)));
      });
      const lines = out.split('\n').filter((l) => /Electron/.test(l) && /browser mode/.test(l));
      expect(lines).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
