/**
 * The machinery of the contract: an operation is a zod schema for its input plus the type of its
 * result; an event is the type of its payload. Everything else (main-process handlers, preload
 * invokers, WebSocket server, renderer client) is derived from one map of these.
 */
import type { z } from 'zod';
import { EVENT_PREFIX, OP_PREFIX } from './names.ts';

export interface OpDef<I extends z.ZodType = z.ZodType, O = unknown> {
  readonly input: I;
  /** Phantom: the result type. Never set at runtime. */
  readonly __result?: O;
}

/** `op<Result>()(inputSchema)`: the result type is given, the input type comes from the schema. */
export function op<O>() {
  return <I extends z.ZodType>(input: I): OpDef<I, O> => ({ input });
}

export interface EventDef<P = unknown> {
  readonly __payload?: P;
}

export function event<P>(): EventDef<P> {
  return {};
}

/** Namespaces of operations: { library: { list: op..., ... }, runs: {...} }. */
export type ContractShape = Record<string, Record<string, OpDef>>;

export type InputOf<D> = D extends OpDef<infer I, unknown> ? z.input<I> : never;
export type ParsedInputOf<D> = D extends OpDef<infer I, unknown> ? z.output<I> : never;
export type ResultOf<D> = D extends OpDef<z.ZodType, infer O> ? O : never;
export type PayloadOf<E> = E extends EventDef<infer P> ? P : never;

/** What the renderer calls: api.library.list(input) -> Promise<result>. */
export type ClientOf<C extends ContractShape> = {
  [NS in keyof C]: {
    // `{} extends Input` is true exactly when every input field is optional: then the argument may be left out.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    [K in keyof C[NS]]: {} extends InputOf<C[NS][K]>
      ? (input?: InputOf<C[NS][K]>) => Promise<ResultOf<C[NS][K]>>
      : (input: InputOf<C[NS][K]>) => Promise<ResultOf<C[NS][K]>>;
  };
};

/** What a shell implements: handlers receive the validated input. */
export type HandlersOf<C extends ContractShape> = {
  [NS in keyof C]: {
    [K in keyof C[NS]]: (input: ParsedInputOf<C[NS][K]>) => Promise<ResultOf<C[NS][K]>> | ResultOf<C[NS][K]>;
  };
};

export type Listener<P> = (payload: P) => void;
export type Unsubscribe = () => void;

/** Event subscriptions: api.on.runEvent(cb) -> unsubscribe. */
export type SubscriptionsOf<E extends Record<string, EventDef>> = {
  [K in keyof E]: (listener: Listener<PayloadOf<E[K]>>) => Unsubscribe;
};

/** Emitting side (main, server): emit('runEvent', payload). */
export type EmitOf<E extends Record<string, EventDef>> = <K extends keyof E & string>(name: K, payload: PayloadOf<E[K]>) => void;

/** Channel names: 'library.list'. */
export function channelsOf(contract: ContractShape): string[] {
  const out: string[] = [];
  for (const [ns, ops] of Object.entries(contract)) for (const name of Object.keys(ops)) out.push(`${ns}.${name}`);
  return out;
}

export function opAt(contract: ContractShape, channel: string): OpDef | undefined {
  const dot = channel.indexOf('.');
  if (dot < 0) return undefined;
  const ns = channel.slice(0, dot);
  const name = channel.slice(dot + 1);
  if (!Object.hasOwn(contract, ns)) return undefined;
  const ops = contract[ns]!;
  return Object.hasOwn(ops, name) ? ops[name] : undefined;
}

/** IPC channel of an event (main -> renderer). */
export const eventChannel = (name: string): string => `${EVENT_PREFIX}${name}`;
/** IPC channel of an operation (renderer -> main). */
export const opChannel = (channel: string): string => `${OP_PREFIX}${channel}`;
