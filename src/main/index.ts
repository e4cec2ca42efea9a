/**
 * The Electron main process: lifecycle, the window, the security checklist and the IPC wiring of
 * the contract. No business logic: every operation goes to the services through src/api.
 */
import { app, BrowserWindow, dialog, ipcMain, session, shell, utilityProcess } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServices } from '../services/index.ts';
import type { Services } from '../services/types.ts';
import { contract, type Events } from '../api/contract.ts';
import { createDispatch } from '../api/dispatch.ts';
import { createHandlers } from '../api/node/handlers.ts';
import { forwardRunEvents } from '../api/node/forward.ts';
import type { EmitOf } from '../api/define.ts';
import { broadcaster, registerIpc } from './ipc.ts';
import { hardenApp, hardenSession, isSafeExternalUrl, isTrustedSender, secureWebPreferences, type AppOrigin } from './security.ts';
import { utilityLauncher } from './launcher.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const preloadPath = join(here, '../preload/index.cjs');
const indexPath = join(here, '../renderer/index.html');
const workerPath = join(here, 'train-process.js');
/** The built engine: the worker imports it lazily by path, which must be a built file in the app. */
const enginePath = join(here, 'engine.js');
const appOrigin: AppOrigin = { indexPath, devServer: process.env.ELECTRON_RENDERER_URL };

const openExternal = (url: string) => (isSafeExternalUrl(url) ? shell.openExternal(url) : Promise.resolve());

let services: Services | null = null;
let mainWindow: BrowserWindow | null = null;

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Charmer',
    backgroundColor: '#14161a',
    webPreferences: secureWebPreferences(preloadPath),
  });
  win.once('ready-to-show', () => win.show());
  if (appOrigin.devServer) void win.loadURL(appOrigin.devServer);
  else void win.loadFile(indexPath);
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  return win;
}

async function openCorpusDialog(): Promise<string | null> {
  const options = {
    title: 'Import a corpus',
    properties: ['openFile'] as Array<'openFile'>,
    filters: [
      { name: 'Text', extensions: ['txt', 'text', 'md', 'csv', 'tsv', 'json', 'js', 'ts', 'py', 'c', 'h', 'tex', 'html'] },
      { name: 'All files', extensions: ['*'] },
    ],
  };
  const r = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]!;
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.enableSandbox();
  hardenApp(app, appOrigin, openExternal);
  await app.whenReady();
  hardenSession(session.defaultSession);

  const dataDir = process.env.CHARMER_DATA_DIR || undefined;
  let opened: Services;
  try {
    opened = await createServices({
      ...(dataDir ? { dataDir } : {}),
      launcher: utilityLauncher((p, a, o) => utilityProcess.fork(p, a, { ...o, env: { ...o.env, CHARMER_ENGINE_MODULE: enginePath } }), workerPath),
    });
  } catch (e) {
    dialog.showErrorBox('Charmer cannot open its library', (e as Error).message);
    app.exit(1);
    return;
  }
  services = opened;
  const emit = broadcaster(() => BrowserWindow.getAllWindows()) as EmitOf<Events>;
  const handlers = createHandlers(opened, { shell: 'electron', version: app.getVersion(), openCorpusDialog, openExternal }, emit);
  registerIpc(ipcMain, contract, createDispatch(contract, handlers), (event) => isTrustedSender(event, appOrigin));
  forwardRunEvents(opened, emit);

  mainWindow = createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
  });
}

// Closing the last window quits (on macOS too: training stops cleanly rather than running unseen).
app.on('window-all-closed', () => app.quit());

// Quitting stops every training process politely (each finishes its step and writes `latest`)
// before the app exits; a process that does not answer within the services' grace is killed.
let closing = false;
let closed = false;
app.on('before-quit', (event) => {
  if (closed || !services) return;
  event.preventDefault();
  if (closing) return;
  closing = true;
  const force = setTimeout(() => {
    closed = true;
    app.exit(0);
  }, 30_000);
  services
    .close()
    .catch(() => {})
    .finally(() => {
      clearTimeout(force);
      closed = true;
      app.quit();
    });
});

void start();
