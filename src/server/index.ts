/**
 * Browser mode: the renderer and the API over HTTP + WebSocket, on 127.0.0.1 only, behind a random
 * access token (like Jupyter). Every request has its Host header and token checked; a request
 * without them gets 401/403 and a one-line reason, never data.
 *
 *   GET  /?token=T          index.html (sets an HttpOnly, SameSite=Strict cookie with the token)
 *   GET  /assets/...        the built renderer (out/renderer)
 *   GET  /api/ws            WebSocket: {t:'call',id,op,input} -> {t:'reply',id,envelope}; {t:'event',name,payload}
 *   POST /api/upload?name=&mode=&importId=   the body is a corpus file; answers the import's envelope
 */
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { WebSocket } from 'ws';
import type { Services } from '../services/types.ts';
import { contract, events as eventDefs, type Events } from '../api/contract.ts';
import { createDispatch } from '../api/dispatch.ts';
import { createHandlers, type ShellHooks } from '../api/node/handlers.ts';
import { forwardRunEvents } from '../api/node/forward.ts';
import type { EmitOf } from '../api/define.ts';
import { newToken } from './security.ts';
import { createHttpHandler } from './http.ts';
import { attachWebSocket } from './websocket.ts';

export { MAX_MESSAGE_BYTES } from './websocket.ts';
import { browserPathPolicy } from './paths.ts';

export interface ServeOptions {
  services: Services;
  /** Folder with the built renderer (index.html + assets). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  version?: string;
  guessMode?: ShellHooks['guessMode'];
  /** The one folder whose files library.inspectFile/importFile may open (`--allow-dir`); none without it. */
  allowDir?: string;
  /** Told when a connection misbehaves (a bad frame, a reset): one sentence, for the server's log. */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const token = opts.token ?? newToken();
  const rendererDir = resolve(opts.rendererDir);
  const sockets = new Set<WebSocket>();
  let port = 0;

  const emit: EmitOf<Events> = (name, payload) => {
    const msg = JSON.stringify({ t: 'event', name, payload });
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(msg);
  };
  void eventDefs;
  const log = opts.log ?? (() => {});
  const hooks: ShellHooks = { shell: 'browser', version: opts.version ?? '0.0.0', ...(opts.guessMode ? { guessMode: opts.guessMode } : {}) };
  const handlers = createHandlers(opts.services, { ...hooks, resolvePath: await browserPathPolicy(opts.allowDir) }, emit);
  const dispatch = createDispatch(contract, handlers);
  // Uploads are files this server wrote itself (under the library's uploads/), so they are the one
  // path importFile opens without the client-path policy; clients cannot name them.
  const uploadHandlers = createHandlers(opts.services, hooks, emit);
  const importUpload = (input: Record<string, unknown>) => createDispatch(contract, uploadHandlers)('library.importFile', input);
  const stopForwarding = forwardRunEvents(opts.services, emit);

  const { handleRequest, failResponse } = createHttpHandler({ rendererDir, token, port: () => port, dataDir: opts.services.info.dataDir, importUpload });

  const server = createServer((req, res) => {
    // Nothing a client sends may end the process: whatever slips past the checks above is answered.
    try {
      handleRequest(req, res);
    } catch (e) {
      log(`A request to ${String(req.url).slice(0, 200)} failed: ${(e as Error)?.message ?? e}`);
      failResponse(res, 'Internal error.');
    }
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = attachWebSocket(server, { token, port: () => port, dispatch, sockets, log });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;

  return {
    url,
    port,
    token,
    server,
    close: async () => {
      stopForwarding();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
