/**
 * The preload script (sandboxed, context-isolated): exposes `window.charmerBridge`, one method per
 * operation of the contract and one subscription per event, never ipcRenderer itself. Each method
 * resolves to the envelope ({error, result}); the renderer's client rebuilds typed errors from it
 * (an Error thrown across contextBridge would lose its code).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { EVENT_NAMES, EVENT_PREFIX, OPERATION_NAMES, OP_PREFIX } from '../api/names.ts';

type Invoker = (input?: unknown) => Promise<unknown>;

export function buildBridge(ipc: Pick<typeof ipcRenderer, 'invoke' | 'on' | 'removeListener'>, pathForFile: (f: File) => string) {
  const ops: Record<string, Record<string, Invoker>> = {};
  for (const [ns, names] of Object.entries(OPERATION_NAMES)) {
    const group: Record<string, Invoker> = {};
    for (const name of names) {
      const channel = `${OP_PREFIX}${ns}.${name}`;
      group[name] = (input?: unknown) => ipc.invoke(channel, input === undefined ? {} : input);
    }
    ops[ns] = group;
  }
  const on: Record<string, (cb: (payload: unknown) => void) => () => void> = {};
  for (const name of EVENT_NAMES) {
    const channel = `${EVENT_PREFIX}${name}`;
    on[name] = (cb) => {
      if (typeof cb !== 'function') throw new TypeError('listener must be a function');
      const handler = (_e: unknown, payload: unknown) => cb(payload);
      ipc.on(channel, handler);
      return () => {
        ipc.removeListener(channel, handler);
      };
    };
  }
  return {
    ops,
    on,
    pathForFile: (file: File): string => {
      try {
        return pathForFile(file);
      } catch {
        return '';
      }
    },
  };
}

if (process.contextIsolated) {
  contextBridge.exposeInMainWorld(
    'charmerBridge',
    buildBridge(ipcRenderer, (f) => webUtils.getPathForFile(f)),
  );
}
