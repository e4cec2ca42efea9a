/**
 * Starting a training process, independent of how: the default launcher forks Node with tsx's loader
 * (command line, browser mode, tests); the Electron main process passes a launcher built on
 * `utilityProcess.fork` (same messages, `postMessage` / 'message' / 'exit'), e.g.
 *
 *   const electronLauncher: TrainerLauncher = ({ entry, env }) => {
 *     const child = utilityProcess.fork(entry, [], { env, serviceName: 'Charmer training' });
 *     return {
 *       pid: child.pid,
 *       send: (m) => child.postMessage(m),
 *       onMessage: (cb) => child.on('message', cb),
 *       onExit: (cb) => child.on('exit', (code) => cb(code, null)),
 *       kill: () => child.kill(),
 *     };
 *   };
 *
 * In a utility process the worker talks through `process.parentPort` instead of `process.send`
 * (train-process.ts handles both).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LaunchOptions, TrainerHandle, TrainerLauncher, WorkerMessage } from '../common/train-protocol.ts';

export type { LaunchOptions, TrainerHandle, TrainerLauncher };

/** Path of the worker entry next to this file. */
export const TRAIN_PROCESS_ENTRY = fileURLToPath(new URL('../worker/train-process.ts', import.meta.url));

/** Default launcher: child_process.fork with tsx, so the TypeScript sources run directly. */
export const nodeLauncher: TrainerLauncher = ({ entry, env }) => {
  const child = fork(entry, [], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    tail = (tail + d).slice(-4000);
  });
  return {
    pid: child.pid,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    onMessage: (cb) => child.on('message', (m) => cb(m as WorkerMessage)),
    onExit: (cb) => child.on('exit', (code, signal) => cb(code, signal)),
    kill: () => child.kill('SIGKILL'),
    stderrTail: () => tail,
  };
};

/** Starts a training process with the given launcher (default: nodeLauncher). */
export function spawnTrainer(launcher: TrainerLauncher = nodeLauncher, env: NodeJS.ProcessEnv = process.env): TrainerHandle {
  return launcher({ entry: TRAIN_PROCESS_ENTRY, env: { ...env } });
}
