/**
 * The contract over Electron IPC: one ipcMain.handle per operation (every input validated by the
 * shared dispatcher), events sent to every window. No business logic here.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { channelsOf, opChannel, eventChannel, type ContractShape } from '../api/define.ts';
import type { Dispatch } from '../api/dispatch.ts';
import { ApiError, fail } from '../api/errors.ts';

export function registerIpc(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  contract: ContractShape,
  dispatch: Dispatch,
  isTrusted: (event: IpcMainInvokeEvent) => boolean,
): () => void {
  const channels = channelsOf(contract);
  for (const channel of channels) {
    ipcMain.handle(opChannel(channel), async (event, input: unknown) => {
      if (!isTrusted(event)) return fail(new ApiError('UNAVAILABLE', 'Refused: the request did not come from the Charmer window.'));
      return dispatch(channel, input);
    });
  }
  return () => {
    for (const channel of channels) ipcMain.removeHandler(opChannel(channel));
  };
}

export function broadcaster(getAll: () => Array<{ isDestroyed(): boolean; webContents: { send(channel: string, payload: unknown): void } }>) {
  return (name: string, payload: unknown) => {
    for (const w of getAll()) if (!w.isDestroyed()) w.webContents.send(eventChannel(name), payload);
  };
}
