/**
 * One inspection at a time, as the Inspect view runs them for a cell (inspect.svelte.ts) or for
 * attention (attention.svelte.ts): a fresh id per run so that its progress events and its answer are
 * told apart from an older run's, busy and progress while it lasts, and cancelling the current one.
 */
import type { Api } from '../../api/index.ts';

let nextId = 1;

export class InspectJob {
  busy = $state(false);
  progress = $state<{ done: number; total: number } | null>(null);

  #api: Api;
  #prefix: string;
  #current = '';

  constructor(api: Api, prefix: string) {
    this.#api = api;
    this.#prefix = prefix;
  }

  /**
   * Runs `call` with a new inspect id over a text of `total` characters, then `use` on its answer while
   * still busy. A run that a newer one replaced ends quietly: its answer is dropped and its error too.
   */
  async run<T>(total: number, call: (inspectId: string) => Promise<T>, use: (result: T) => Promise<void>, fail: (e: unknown) => void): Promise<void> {
    const inspectId = `${this.#prefix}-${nextId++}`;
    this.#current = inspectId;
    this.busy = true;
    this.progress = { done: 0, total };
    const off = this.#api.on.inspectProgress((p) => {
      if (p.inspectId === inspectId) this.progress = { done: p.done, total: p.total };
    });
    try {
      const r = await call(inspectId);
      if (this.#current === inspectId) await use(r);
    } catch (e) {
      if (this.#current === inspectId) fail(e);
    } finally {
      off();
      if (this.#current === inspectId) {
        this.busy = false;
        this.progress = null;
      }
    }
  }

  cancel(): void {
    if (this.busy) void this.#api.inspect.cancel({ inspectId: this.#current }).catch(() => {});
  }
}
