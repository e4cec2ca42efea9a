/** One subcommand of `charmer`. Each lives in ./commands/NAME.ts and is listed in ./commands/index.ts. */
export interface Command {
  name: string;
  summary: string;
  /** Returns the process exit code. Throw CharmerError for a person's mistake: main prints its message. */
  run(argv: string[]): Promise<number>;
}
