/**
 * Training processes in Electron: utilityProcess.fork on the built worker (out/main/train-process.js),
 * speaking the same messages as the Node launcher (src/services/spawn.ts).
 */
import type { UtilityProcess } from 'electron';
import type { TrainerLauncher } from '../services/spawn.ts';

type Fork = (modulePath: string, args: string[], options: { env: NodeJS.ProcessEnv; serviceName: string; stdio: 'pipe' }) => UtilityProcess;

export function utilityLauncher(fork: Fork, builtEntry: string): TrainerLauncher {
  return ({ env }) => {
    const child = fork(builtEntry, [], { env, serviceName: 'Charmer training', stdio: 'pipe' });
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      tail = (tail + d).slice(-4000);
    });
    child.stdout?.resume();
    return {
      get pid() {
        return child.pid;
      },
      send: (m) => child.postMessage(m),
      onMessage: (cb) => {
        child.on('message', cb);
      },
      onExit: (cb) => {
        child.on('exit', (code) => cb(code, null));
      },
      kill: () => {
        child.kill();
      },
      stderrTail: () => tail,
    };
  };
}
