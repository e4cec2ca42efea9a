// The error type is a plain declaration every layer shares (src/common/errors.ts); the engine's own
// modules keep importing it from here.
export * from '../common/errors.ts';
