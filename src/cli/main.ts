/**
 * `charmer COMMAND [options]`. A CharmerError becomes one line on stderr and exit code 2; anything
 * else is a bug and keeps its stack (set CHARMER_DEBUG=1 to see stacks for CharmerErrors too).
 */
import { isCharmerError } from '../common/errors.ts';
import { commands } from './commands/index.ts';
import { provideEngine } from '../services/engine.ts';

// The same engine module the commands import, so that the bundled command line holds one copy of it.
provideEngine(() => import('../engine/index.ts'));

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const width = Math.max(...commands.map((c) => c.name.length));
    process.stdout.write(
      'Usage: charmer COMMAND [options]   (charmer COMMAND --help for its options)\n\nCommands:\n' +
        commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n') +
        '\n',
    );
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`charmer: unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}.\n`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (isCharmerError(e)) {
      process.stderr.write(`charmer: ${e.message}\n`);
      if (process.env.CHARMER_DEBUG) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`charmer: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 70;
    }
  },
);
