/**
 * What the renderer and the shells import. Browser-safe: zod, types and plain data only (no Node,
 * no Electron; the training options come from src/common, and of the engine only its presets,
 * which are plain data).
 */
import type { ClientOf, SubscriptionsOf } from './define.ts';
import type { Contract, Events } from './contract.ts';

export * from './contract.ts';
export * from './errors.ts';
export * from './training.ts';
export { channelsOf, eventChannel, opChannel, opAt } from './define.ts';
export type { ClientOf, HandlersOf, SubscriptionsOf, Unsubscribe, Listener } from './define.ts';

/** The typed API as the renderer sees it: api.library.list(), api.on.runEvent(cb). */
export type Api = ClientOf<Contract> & { on: SubscriptionsOf<Events> };
