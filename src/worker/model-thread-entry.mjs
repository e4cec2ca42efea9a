// Worker-thread entry for the sources: a tsx loader registered in the parent thread does not reach
// worker threads in Node 20. The Electron build bundles model-thread.ts as model-thread.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./model-thread.ts');
