/** A process's (or thread's) TF.js tensors, resident memory and open files, for the soak test. */
import { readdirSync } from 'node:fs';
import type { ProcessStats } from '../common/train-protocol.ts';

/** Open file handles of this process (Linux: /proc/self/fd); null where that cannot be read. */
export function openFiles(pid: number | 'self' = 'self'): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

export async function processStats(): Promise<ProcessStats> {
  // The engine is loaded already where tensors exist; importing it here loads nothing new.
  const tf = await import('@tensorflow/tfjs-core');
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes, rss: process.memoryUsage().rss, openFiles: openFiles() };
}
