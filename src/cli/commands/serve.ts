/**
 * `charmer serve`: browser mode. The renderer and the API over HTTP + WebSocket on 127.0.0.1, behind
 * a random access token; prints the URL (with the token) on a line of its own. For headless GPU
 * boxes (tunnel the port over ssh) and for the end-to-end tests.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { CharmerError } from '../../common/errors.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const RENDERER_DIR = join(root, 'out/renderer');

const specs: OptionSpecs = {
  port: { type: 'int', default: 0, help: 'port on 127.0.0.1 (0 picks a free one)' },
  'data-dir': { type: 'string', default: '', help: 'library folder (default: CHARMER_DATA_DIR or the platform location)' },
  'allow-dir': { type: 'string', default: '', help: 'a folder whose files the page may import by path (default: none; the page uploads files)' },
  build: { type: 'boolean', default: true, help: 'build the renderer first when out/renderer is missing (--no-build: fail instead)' },
  rebuild: { type: 'boolean', default: false, help: 'rebuild the renderer even when it is built' },
  help: { type: 'boolean', default: false, help: 'show this help', short: 'h' },
};

/** Builds out/renderer with vite (a dev dependency); says which command does it when vite is absent. */
export async function buildRenderer(log: (s: string) => void = (s) => process.stderr.write(s)): Promise<void> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new CharmerError(
      'IO_ERROR',
      'The renderer is not built and vite is not installed: run `npm install` and `npm run build`, then `charmer serve` again.',
    );
  }
  log('Building the renderer (once; `npm run build` does the same)…\n');
  // Built beside the target and swapped in, so a server already running never serves half a build.
  const tmp = `${RENDERER_DIR}.tmp-${process.pid}-${Date.now()}`;
  try {
    await vite.build({ configFile: join(root, 'src/renderer/vite.config.ts'), logLevel: 'warn', build: { outDir: tmp, emptyOutDir: true } });
    const old = `${RENDERER_DIR}.old-${process.pid}-${Date.now()}`;
    if (existsSync(RENDERER_DIR)) await rename(RENDERER_DIR, old);
    await rename(tmp, RENDERER_DIR);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export const serve: Command = {
  name: 'serve',
  summary: 'browser mode: the app in a browser, on 127.0.0.1 with an access token',
  async run(argv) {
    const { values } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(
        formatHelp(
          'charmer serve [--port N] [--data-dir DIR] [--allow-dir DIR]',
          specs,
          'Serves the Charmer app to a browser on this machine. Open the printed URL; it holds the access token.',
        ),
      );
      return 0;
    }
    const port = values.port as number;
    if (port < 0 || port > 65535) throw new CharmerError('BAD_OPTION', `--port must be between 0 and 65535 (got ${port}).`);
    if (values.rebuild || !existsSync(join(RENDERER_DIR, 'index.html'))) {
      if (!values.build && !values.rebuild) throw new CharmerError('IO_ERROR', 'The renderer is not built: run `npm run build` first.');
      await buildRenderer();
    }
    const { createServices } = await import('../../services/index.ts');
    const { startServer } = await import('../../server/index.ts');
    const dataDir = (values['data-dir'] as string) || undefined;
    const allowDir = (values['allow-dir'] as string) || undefined;
    if (allowDir) {
      let isDir = false;
      try {
        isDir = statSync(allowDir).isDirectory();
      } catch {
        /* said below */
      }
      if (!isDir)
        throw new CharmerError(
          'BAD_OPTION',
          `--allow-dir ${allowDir} is not a folder on this machine. Name an existing folder, or leave it out (the page uploads files).`,
        );
    }
    const services = await createServices(dataDir ? { dataDir } : {});
    let server;
    try {
      server = await startServer({
        services,
        rendererDir: RENDERER_DIR,
        port,
        version: readVersion(),
        ...(allowDir ? { allowDir } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
    } catch (e) {
      await services.close();
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new CharmerError('BAD_OPTION', `Port ${port} is in use: choose another with --port, or --port 0 for a free one.`);
      throw e;
    }
    if (allowDir) process.stdout.write(`Files may be imported by path from ${allowDir} (--allow-dir).\n`);
    process.stdout.write(
      `Charmer is running in browser mode (library: ${services.info.dataDir}).\nOpen this URL in a browser; it holds the access token:\n\n${server.url}\n\nPress Ctrl+C to stop (training runs write a checkpoint and stop).\n`,
    );

    // Nothing a client sends should reach these (the server answers or closes every bad request
    // itself); if something still does, one sentence goes to the log and the server keeps serving
    // the others rather than ending everyone's session and orphaning nothing.
    const unexpected = (what: string) => (e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(
        `charmer serve: an unexpected ${what} (${message.split('\n')[0]!.slice(0, 300)}) was caught; the server keeps running. Please report it with the steps that led to it.\n`,
      );
    };
    process.on('uncaughtException', unexpected('error'));
    process.on('unhandledRejection', unexpected('failure in a background task'));

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        process.stderr.write('Stopping: training runs finish their step and write a checkpoint…\n');
        void server!
          .close()
          .then(() => services.close())
          .finally(() => resolve());
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
