/**
 * Electron's security checklist, in one place so a test can check it:
 * contextIsolation + sandbox on, Node integration off everywhere, a strict CSP on every response,
 * no navigation away from the app, no new windows (http(s) links go to the system browser), no
 * webviews, no permissions, and IPC answered only for the app's own frame.
 */
import type { App, IpcMainInvokeEvent, Session, WebContents, WebPreferences } from 'electron';
import { CSP } from '../api/csp.ts';

export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
  };
}

/** http and https only: anything else (file:, javascript:, custom schemes) is refused. */
export function isSafeExternalUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Is this URL one of the app's own pages (the built index.html, or the dev server in `npm run dev`)? */
export function isAppUrl(url: string, appOrigin: AppOrigin): boolean {
  try {
    const u = new URL(url);
    if (appOrigin.devServer) {
      const dev = new URL(appOrigin.devServer);
      return u.origin === dev.origin;
    }
    return u.protocol === 'file:' && decodeURIComponent(u.pathname).replace(/\\/g, '/').endsWith(appOrigin.indexPath.replace(/\\/g, '/'));
  } catch {
    return false;
  }
}

export interface AppOrigin {
  /** Absolute path of the built renderer's index.html. */
  indexPath: string;
  /** ELECTRON_RENDERER_URL in development. */
  devServer?: string | undefined;
}

/** CSP on every response, and every permission (camera, notifications, ...) denied. */
export function hardenSession(session: Session): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [CSP],
        'X-Content-Type-Options': ['nosniff'],
      },
    });
  });
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

export function hardenContents(contents: WebContents, appOrigin: AppOrigin, openExternal: (url: string) => unknown): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) void openExternal(url);
    return { action: 'deny' };
  });
}

/** Every web contents the app ever creates gets the same treatment. */
export function hardenApp(app: App, appOrigin: AppOrigin, openExternal: (url: string) => unknown): void {
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, appOrigin, openExternal));
}

/** IPC is answered only for the main frame of one of the app's own pages. */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'senderFrame'>, appOrigin: AppOrigin): boolean {
  const frame = event.senderFrame;
  if (!frame) return false;
  if (frame.parent) return false;
  return isAppUrl(frame.url, appOrigin);
}
