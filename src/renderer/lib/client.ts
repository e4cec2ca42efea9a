/**
 * The renderer's typed API, derived from the contract: in Electron it calls the preload's bridge
 * (window.charmerBridge, one method per operation); in browser mode it speaks the same operations
 * over a WebSocket to `charmer serve`. Either way errors come back as ApiError with the backend's
 * code and message.
 */
import { OPERATION_NAMES, EVENT_NAMES } from '../../api/names.ts';
import { ApiError, unwrap, type Envelope } from '../../api/errors.ts';
import type { Api, ImportResult } from '../../api/index.ts';
import type { CorpusMode } from '../../common/enums.ts';

type RawInvoker = (input?: unknown) => Promise<Envelope<unknown>>;
type Listener = (payload: unknown) => void;

interface Bridge {
  ops: Record<string, Record<string, RawInvoker>>;
  on: Record<string, (cb: Listener) => () => void>;
  pathForFile(file: File): string;
}

export interface Platform {
  api: Api;
  shell: 'electron' | 'browser';
  /** Electron: the path of a dropped file. Browser: ''. */
  pathForFile(file: File): string;
  /** Browser mode: send a File to the server, which imports it (the import's envelope). */
  uploadFile(
    file: File,
    opts: { name?: string; mode?: CorpusMode; importId?: string; onProgress?: (sent: number, total: number) => void },
  ): Promise<ImportResult>;
  /** Browser mode: the WebSocket is connected (always true in Electron). */
  connected(): boolean;
  onConnection(cb: (up: boolean) => void): () => void;
}

function buildApi(call: (channel: string, input: unknown) => Promise<unknown>, subscribe: (name: string, cb: Listener) => () => void): Api {
  const api: Record<string, unknown> = {};
  for (const [ns, names] of Object.entries(OPERATION_NAMES)) {
    const group: Record<string, (input?: unknown) => Promise<unknown>> = {};
    for (const name of names) group[name] = (input?: unknown) => call(`${ns}.${name}`, input ?? {});
    api[ns] = group;
  }
  const on: Record<string, (cb: Listener) => () => void> = {};
  for (const name of EVENT_NAMES) on[name] = (cb) => subscribe(name, cb);
  api.on = on;
  return api as unknown as Api;
}

export function electronPlatform(bridge: Bridge): Platform {
  const api = buildApi(
    async (channel, input) => {
      const [ns, name] = channel.split('.') as [string, string];
      const fn = bridge.ops[ns]?.[name];
      if (!fn) throw new ApiError('UNKNOWN_OPERATION', `Unknown operation ${channel}.`);
      return unwrap(await fn(input));
    },
    (name, cb) => bridge.on[name]!(cb),
  );
  return {
    api,
    shell: 'electron',
    pathForFile: (f) => bridge.pathForFile(f),
    uploadFile: () => Promise.reject(new ApiError('UNAVAILABLE', 'Files are imported by path in the desktop app.')),
    connected: () => true,
    onConnection: () => () => {},
  };
}

/** Browser mode: one WebSocket, calls queued while it (re)connects. */
export function browserPlatform(loc: Pick<Location, 'host' | 'protocol' | 'search'> = location, WS: typeof WebSocket = WebSocket): Platform {
  const token = new URLSearchParams(loc.search).get('token');
  const wsUrl = `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  let ws: WebSocket | null = null;
  let open = false;
  let nextId = 1;
  let retry = 250;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; msg: string }>();
  const queue: string[] = [];
  const listeners = new Map<string, Set<Listener>>();
  const connListeners = new Set<(up: boolean) => void>();

  const connect = () => {
    ws = new WS(wsUrl);
    ws.onopen = () => {
      open = true;
      retry = 250;
      for (const cb of connListeners) cb(true);
      while (queue.length) ws!.send(queue.shift()!);
    };
    ws.onmessage = (ev) => {
      let msg: { t: string; id?: number; envelope?: Envelope<unknown>; name?: string; payload?: unknown };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.t === 'reply' && typeof msg.id === 'number') {
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        try {
          p.resolve(unwrap(msg.envelope as Envelope<unknown>));
        } catch (e) {
          p.reject(e);
        }
      } else if (msg.t === 'event' && msg.name) {
        for (const cb of listeners.get(msg.name) ?? []) cb(msg.payload);
      }
    };
    ws.onclose = () => {
      const was = open;
      open = false;
      // Calls sent on the dead socket may or may not have run: fail them rather than run them twice.
      for (const [id, p] of pending) {
        if (queue.includes(p.msg)) continue;
        pending.delete(id);
        p.reject(new ApiError('DISCONNECTED', 'Lost the connection to `charmer serve` before it answered; check the run list before trying again.'));
      }
      if (was) for (const cb of connListeners) cb(false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    };
  };
  connect();

  const api = buildApi(
    (channel, input) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        const msg = JSON.stringify({ t: 'call', id, op: channel, input });
        pending.set(id, { resolve, reject, msg });
        if (open && ws) ws.send(msg);
        else queue.push(msg);
      }),
    (name, cb) => {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(cb);
      return () => set!.delete(cb);
    },
  );

  return {
    api,
    shell: 'browser',
    pathForFile: () => '',
    connected: () => open,
    onConnection: (cb) => {
      connListeners.add(cb);
      return () => connListeners.delete(cb);
    },
    uploadFile: (file, opts) =>
      new Promise((resolve, reject) => {
        const q = new URLSearchParams();
        if (token) q.set('token', token);
        q.set('name', opts.name ?? file.name);
        if (opts.mode) q.set('mode', opts.mode);
        if (opts.importId) q.set('importId', opts.importId);
        const xhr = new XMLHttpRequest();
        xhr.open('POST', `/api/upload?${q}`);
        xhr.setRequestHeader('Content-Type', 'application/octet-stream');
        xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded, e.total || file.size);
        xhr.onerror = () => reject(new ApiError('DISCONNECTED', 'The upload failed: is `charmer serve` still running?'));
        xhr.onload = () => {
          try {
            if (xhr.status !== 200) throw new ApiError('IO_ERROR', xhr.responseText.trim() || `Upload failed (HTTP ${xhr.status}).`);
            resolve(unwrap(JSON.parse(xhr.responseText) as Envelope<ImportResult>));
          } catch (e) {
            reject(e);
          }
        };
        xhr.send(file);
      }),
  };
}

let current: Platform | null = null;

export function platform(): Platform {
  if (!current) {
    const bridge = (globalThis as { charmerBridge?: Bridge }).charmerBridge;
    current = bridge ? electronPlatform(bridge) : browserPlatform();
  }
  return current;
}

/** Tests install a fake. */
export function setPlatform(p: Platform | null): void {
  current = p;
}
