// What a training run tells the world is a plain declaration the worker protocol and the renderer
// share (src/common/events.ts); the engine's own modules keep importing it from here.
export type * from '../common/events.ts';
