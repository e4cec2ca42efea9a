/**
 * Browser mode's WebSocket side (/api/ws): calls in, replies and events out. An upgrade is accepted
 * only with a valid Host header and token (./security.ts); a malformed frame closes its connection,
 * never the server.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Dispatch } from '../api/dispatch.ts';
import { fail } from '../api/errors.ts';
import { checkRequest, requestTarget } from './security.ts';

/**
 * The largest WebSocket message a client has reason to send: a draft or a "learn my style" text of
 * 10 million characters (the contract's limit), 3 bytes each in UTF-8, plus the envelope. Files and
 * pasted text go over HTTP (/api/upload). Parsing a message costs about 4x its size, so this bounds
 * what one frame can make the server hold.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export interface WebSocketContext {
  token: string;
  port: () => number;
  dispatch: Dispatch;
  /** Open connections, which events go to. */
  sockets: Set<WebSocket>;
  log: (line: string) => void;
}

/** Answers upgrades to /api/ws on this server; returns the WebSocket server (to close). */
export function attachWebSocket(server: Server, ctx: WebSocketContext): WebSocketServer {
  const { token, port, dispatch, sockets, log } = ctx;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  wss.on('error', (e) => log(`WebSocket server: ${e.message}`));
  const refuseUpgrade = (socket: Duplex, status: number, reason: string) => {
    const text = status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Forbidden';
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
    socket.destroy();
  };
  const reply = (ws: WebSocket, id: number | string, envelope: unknown) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify({ t: 'reply', id, envelope });
    } catch (e) {
      text = JSON.stringify({ t: 'reply', id, envelope: fail(new Error(`the reply could not be encoded (${(e as Error).message})`)) });
    }
    ws.send(text);
  };
  const accept = (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    // A malformed frame (bad UTF-8, too large, unmasked, reserved opcode or bits, bad close code,
    // stray continuation) arrives here; ws closes that connection itself. Without a listener the
    // 'error' event would end the process.
    ws.on('error', (e) => {
      log(`A WebSocket connection was closed: ${e.message}`);
      ws.terminate();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { t?: unknown; id?: unknown; op?: unknown; input?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (
        msg === null ||
        typeof msg !== 'object' ||
        msg.t !== 'call' ||
        typeof msg.op !== 'string' ||
        (typeof msg.id !== 'number' && typeof msg.id !== 'string')
      )
        return;
      const id = msg.id;
      dispatch(msg.op, msg.input)
        .catch((e: unknown) => fail(e))
        .then((envelope) => reply(ws, id, envelope))
        .catch((e: unknown) => log(`A reply could not be sent: ${(e as Error)?.message ?? e}`));
    });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = requestTarget(req.url);
      if (!url) return refuseUpgrade(socket, 400, 'Bad request: the request target is not a path.');
      const verdict =
        url.pathname === '/api/ws' ? checkRequest(req, port(), token, { websocket: true }) : ({ ok: false, status: 403, reason: 'Forbidden.' } as const);
      if (!verdict.ok) return refuseUpgrade(socket, verdict.status, verdict.reason);
      wss.handleUpgrade(req, socket, head, accept);
    } catch (e) {
      log(`A WebSocket upgrade failed: ${(e as Error)?.message ?? e}`);
      socket.destroy();
    }
  });

  return wss;
}
