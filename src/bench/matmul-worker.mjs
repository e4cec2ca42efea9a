// Worker entry for src/bench/matmul.ts (TypeScript through tsx, as in src/engine/parallel/worker-entry.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./matmul.ts');
