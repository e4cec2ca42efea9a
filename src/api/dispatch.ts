/**
 * The receiving side of the contract, shared by Electron main and the browser-mode server: look up
 * the operation, validate the input with its zod schema, call the handler, answer with an envelope.
 * Nothing reaches a handler unvalidated; nothing but an envelope goes back.
 */
import { ApiError, fail, ok, type Envelope } from './errors.ts';
import { opAt, type ContractShape, type HandlersOf } from './define.ts';

export type Dispatch = (channel: string, input: unknown) => Promise<Envelope<unknown>>;

export function createDispatch<C extends ContractShape>(contract: C, handlers: HandlersOf<C>): Dispatch {
  return async (channel, input) => {
    const def = opAt(contract, channel);
    if (!def) return fail(new ApiError('UNKNOWN_OPERATION', `Unknown operation "${String(channel).slice(0, 100)}".`));
    const parsed = def.input.safeParse(input === undefined ? {} : input);
    if (!parsed.success) return fail(parsed.error);
    const dot = channel.indexOf('.');
    const ns = channel.slice(0, dot) as keyof C;
    const name = channel.slice(dot + 1);
    const fn = (handlers[ns] as Record<string, ((i: unknown) => unknown) | undefined>)[name];
    if (!fn) return fail(new ApiError('UNAVAILABLE', `"${channel}" is not available here.`));
    try {
      const result = await fn(parsed.data);
      return ok(result === undefined ? null : result);
    } catch (e) {
      return fail(e);
    }
  };
}
