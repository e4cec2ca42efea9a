// Worker-thread entry: the engine is TypeScript run through tsx (as bin/charmer.js does), and a
// loader registered in the parent thread does not reach worker threads in Node 20.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
