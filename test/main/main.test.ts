/**
 * The Electron main process with `electron` mocked: the window's webPreferences, the CSP, navigation
 * and window-open handling, the IPC sender check, that every API operation is registered and
 * validated, and that quitting stops training (services.close) before the app exits.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { contract } from '../../src/api/contract.ts';
import { channelsOf, opChannel } from '../../src/api/define.ts';
import { CSP, CSP_DIRECTIVES } from '../../src/api/csp.ts';
import { fakeServices } from '../server/fake-services.ts';

const h = vi.hoisted(() => {
  const state = {
    windows: [] as Array<{ options: Record<string, unknown>; loaded: string | null; webContents: unknown }>,
    handlers: new Map<string, (event: unknown, input: unknown) => Promise<unknown>>(),
    headersHook: null as null | ((details: unknown, cb: (r: unknown) => void) => void),
    permissionHandler: null as null | ((wc: unknown, p: string, cb: (ok: boolean) => void) => void),
    openExternal: [] as string[],
    readyResolve: null as null | (() => void),
    quitCalls: 0,
    exitCalls: 0,
    sandboxEnabled: false,
    fake: null as unknown,
  };
  return state;
});

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  const app = Object.assign(new EventEmitter(), {
    requestSingleInstanceLock: () => true,
    enableSandbox: () => {
      h.sandboxEnabled = true;
    },
    whenReady: () => new Promise<void>((r) => (h.readyResolve = r)),
    getVersion: () => '9.9.9',
    quit: () => {
      h.quitCalls++;
      const e = {
        defaultPrevented: false,
        preventDefault() {
          this.defaultPrevented = true;
        },
      };
      app.emit('before-quit', e);
    },
    exit: () => {
      h.exitCalls++;
    },
  });
  class BrowserWindow extends EventEmitter {
    static all: BrowserWindow[] = [];
    static getAllWindows = () => BrowserWindow.all;
    webContents = Object.assign(new EventEmitter(), { send: vi.fn(), setWindowOpenHandler: vi.fn() });
    options: Record<string, unknown>;
    loaded: string | null = null;
    constructor(options: Record<string, unknown>) {
      super();
      this.options = options;
      BrowserWindow.all.push(this);
      h.windows.push(this as never);
      app.emit('web-contents-created', {}, this.webContents);
    }
    loadFile(p: string) {
      this.loaded = p;
      return Promise.resolve();
    }
    loadURL(u: string) {
      this.loaded = u;
      return Promise.resolve();
    }
    isDestroyed() {
      return false;
    }
    show() {}
  }
  return {
    app,
    BrowserWindow,
    dialog: { showOpenDialog: vi.fn(async () => ({ canceled: true, filePaths: [] })), showErrorBox: vi.fn() },
    ipcMain: {
      handle: (ch: string, fn: (e: unknown, i: unknown) => Promise<unknown>) => h.handlers.set(ch, fn),
      removeHandler: (ch: string) => h.handlers.delete(ch),
    },
    session: {
      defaultSession: {
        webRequest: { onHeadersReceived: (fn: never) => (h.headersHook = fn) },
        setPermissionRequestHandler: (fn: never) => (h.permissionHandler = fn),
        setPermissionCheckHandler: vi.fn(),
      },
    },
    shell: { openExternal: vi.fn(async (u: string) => void h.openExternal.push(u)) },
    utilityProcess: { fork: vi.fn() },
  };
});

vi.mock('../../src/services/index.ts', () => ({
  createServices: async () => {
    const f = fakeServices('/tmp/charmer-main-test');
    h.fake = f;
    return f.services;
  },
}));

const indexPath = fileURLToPath(new URL('../../src/renderer/index.html', import.meta.url));
let win: (typeof h.windows)[number];
const trustedEvent = () => ({ senderFrame: { url: `file://${win.loaded}`, parent: null } });

beforeAll(async () => {
  await import('../../src/main/index.ts');
  h.readyResolve!();
  await vi.waitFor(() => expect(h.windows.length).toBe(1));
  win = h.windows[0]!;
  await vi.waitFor(() => expect(h.handlers.size).toBeGreaterThan(0));
});

describe('Electron main process', () => {
  it('creates the window with the full security checklist', () => {
    const prefs = win.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    expect(String(prefs.preload)).toMatch(/preload[\\/]index\.cjs$/);
    expect(h.sandboxEnabled).toBe(true);
    expect(String(win.loaded)).toMatch(/renderer[\\/]index\.html$/);
  });

  it('sets a strict CSP on every response, and the same in the page’s meta tag', () => {
    let out: { responseHeaders: Record<string, string[]> } | null = null;
    h.headersHook!({ responseHeaders: { 'content-type': ['text/html'] } }, (r) => (out = r as never));
    expect(out!.responseHeaders['Content-Security-Policy']).toEqual([CSP]);
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).not.toContain('unsafe-inline');
    expect(CSP).not.toContain('unsafe-eval');
    const html = readFileSync(indexPath, 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)![1]!;
    const { 'frame-ancestors': _ignoredInMeta, ...rest } = CSP_DIRECTIVES;
    expect(meta).toBe(
      Object.entries(rest)
        .map(([k, v]) => `${k} ${v}`)
        .join('; '),
    );
  });

  it('denies permissions, navigation away and new windows; opens only http(s) links outside', () => {
    let granted: boolean | null = null;
    h.permissionHandler!({}, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    const wc = win.webContents as EventEmitter & { setWindowOpenHandler: ReturnType<typeof vi.fn> };
    const nav = { preventDefault: vi.fn() };
    wc.emit('will-navigate', nav, 'https://evil.example/');
    expect(nav.preventDefault).toHaveBeenCalled();
    const self = { preventDefault: vi.fn() };
    wc.emit('will-navigate', self, `file://${win.loaded}`);
    expect(self.preventDefault).not.toHaveBeenCalled();
    const webview = { preventDefault: vi.fn() };
    wc.emit('will-attach-webview', webview);
    expect(webview.preventDefault).toHaveBeenCalled();
    const handler = wc.setWindowOpenHandler.mock.calls[0]![0] as (d: { url: string }) => { action: string };
    expect(handler({ url: 'https://github.com/karpathy/char-rnn' })).toEqual({ action: 'deny' });
    expect(handler({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(handler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(h.openExternal).toEqual(['https://github.com/karpathy/char-rnn']);
  });

  it('registers every operation of the contract, and nothing else', () => {
    expect([...h.handlers.keys()].sort()).toEqual(channelsOf(contract).map(opChannel).sort());
  });

  it('validates every operation: junk input never reaches the services', async () => {
    for (const ch of channelsOf(contract)) {
      const env = (await h.handlers.get(opChannel(ch))!(trustedEvent(), { junk: true })) as { error: { code: string } | null };
      expect(env.error?.code, ch).toBe('INVALID_INPUT');
      const env2 = (await h.handlers.get(opChannel(ch))!(trustedEvent(), 12)) as { error: { code: string } | null };
      expect(env2.error?.code, ch).toBe('INVALID_INPUT');
    }
  });

  it('answers valid calls from the app’s frame, refuses other senders', async () => {
    const ok = (await h.handlers.get(opChannel('library.list'))!(trustedEvent(), {})) as { error: null; result: unknown[] };
    expect(ok.error).toBeNull();
    expect(ok.result).toHaveLength(1);
    const foreign = (await h.handlers.get(opChannel('library.list'))!({ senderFrame: { url: 'https://evil.example/', parent: null } }, {})) as {
      error: { code: string };
    };
    expect(foreign.error.code).toBe('UNAVAILABLE');
    const sub = (await h.handlers.get(opChannel('library.list'))!({ senderFrame: { url: `file://${win.loaded}`, parent: {} } }, {})) as {
      error: { code: string };
    };
    expect(sub.error.code).toBe('UNAVAILABLE');
    const noFrame = (await h.handlers.get(opChannel('library.list'))!({ senderFrame: null }, {})) as { error: { code: string } };
    expect(noFrame.error.code).toBe('UNAVAILABLE');
  });

  it('sends run events to the window', () => {
    const f = h.fake as ReturnType<typeof fakeServices>;
    f.emit({ runId: 1, kind: 'status', status: 'failed', error: 'boom' });
    const send = (win.webContents as unknown as { send: ReturnType<typeof vi.fn> }).send;
    expect(send).toHaveBeenCalledWith('charmer:event:runEvent', { runId: 1, kind: 'status', status: 'failed', error: 'boom' });
  });

  it('stops training (closes the services) before quitting', async () => {
    const { app } = (await import('electron')) as unknown as { app: EventEmitter & { quit(): void } };
    const f = h.fake as ReturnType<typeof fakeServices>;
    app.quit();
    await vi.waitFor(() => expect(f.calls.some(([c]) => c === 'close')).toBe(true));
    await vi.waitFor(() => expect(h.quitCalls).toBe(2));
  });
});
