import { describe, expect, it, vi } from 'vitest';

vi.mock('electron', () => ({ contextBridge: { exposeInMainWorld: vi.fn() }, ipcRenderer: {}, webUtils: {} }));

import { buildBridge } from '../../src/preload/index.ts';
import { OPERATION_NAMES, EVENT_NAMES } from '../../src/api/names.ts';

describe('preload bridge', () => {
  it('exposes one method per operation and one subscription per event, never ipcRenderer', async () => {
    const ipc = { invoke: vi.fn(async () => ({ error: null, result: 1 })), on: vi.fn(), removeListener: vi.fn() };
    const bridge = buildBridge(ipc as never, () => '/tmp/x.txt');
    for (const [ns, names] of Object.entries(OPERATION_NAMES)) expect(Object.keys(bridge.ops[ns]!).sort()).toEqual([...names].sort());
    expect(Object.keys(bridge.on).sort()).toEqual([...EVENT_NAMES].sort());
    expect(Object.keys(bridge).sort()).toEqual(['on', 'ops', 'pathForFile']);
    expect(JSON.stringify(Object.keys(bridge))).not.toMatch(/ipc|invoke|send/i);
    await bridge.ops.runs!.stop!({ id: 3 });
    expect(ipc.invoke).toHaveBeenCalledWith('charmer:op:runs.stop', { id: 3 });
    const off = bridge.on.runEvent!(() => {});
    expect(ipc.on).toHaveBeenCalledWith('charmer:event:runEvent', expect.any(Function));
    off();
    expect(ipc.removeListener).toHaveBeenCalled();
    expect(bridge.pathForFile({} as File)).toBe('/tmp/x.txt');
  });
});
