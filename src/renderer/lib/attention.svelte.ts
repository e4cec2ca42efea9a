/**
 * Inspect for a Transformer: the heads ranked by what they track over the text (computed by the
 * services), the chosen position and head, and every head's attention from that position (fetched
 * one position at a time and cached). Nothing per character is reactive: the text is drawn by
 * CellText from the colours.
 */
import type { Api, AttentionInspection, PositionAttentionResult } from '../../api/index.ts';
import { InspectJob } from './inspect-job.svelte.ts';

export type HeadPatternName = AttentionInspection['ranked'][number]['pattern'];

/** Attention weight as a shade of amber: the row's strongest key full, the rest in proportion. */
export function attentionColor(w: number, max: number): string {
  const a = max > 0 ? Math.max(0, Math.min(1, w / max)) : 0;
  return a < 0.005 ? 'transparent' : `rgba(255, 170, 40, ${(a * 0.9).toFixed(3)})`;
}

/** "L2 H1" (1-based, as people count). */
export function headLabel(layer: number, head: number): string {
  return `L${layer + 1} H${head + 1}`;
}

export class AttentionState {
  result = $state.raw<AttentionInspection | null>(null);
  /** The character attention is drawn from. */
  position = $state(0);
  layer = $state(0);
  head = $state(0);
  /** Show every head at once. */
  grid = $state(false);
  /** Every head's attention from `position`. */
  at = $state.raw<PositionAttentionResult | null>(null);
  error = $state<string | null>(null);

  #api: Api;
  #job: InspectJob;
  #cache = new Map<number, PositionAttentionResult>();
  #token = 0;

  constructor(api: Api) {
    this.#api = api;
    this.#job = new InspectJob(api, 'attention');
  }

  clear(): void {
    this.result = null;
    this.at = null;
    this.error = null;
  }

  async run(req: { runId: number; checkpoint: 'best' | 'latest'; text: string }): Promise<void> {
    this.error = null;
    await this.#job.run(
      [...req.text].length,
      (inspectId) => this.#api.inspect.attention({ runId: req.runId, checkpoint: req.checkpoint, inspectId, ...(req.text ? { text: req.text } : {}) }),
      async (r) => {
        this.#cache.clear();
        this.result = r;
        this.at = null;
        const best = r.ranked[0];
        this.layer = best?.layer ?? 0;
        this.head = best?.head ?? 0;
        // A position with a full block behind it where the text allows, so the first view has context.
        await this.choose(Math.max(0, Math.min(r.chars.length - 1, r.blockSize - 1)));
      },
      (e) => this.#fail(e),
    );
  }

  get busy(): boolean {
    return this.#job.busy;
  }

  get progress(): { done: number; total: number } | null {
    return this.#job.progress;
  }

  cancel(): void {
    this.#job.cancel();
  }

  /** Draw attention from character `position`. */
  async choose(position: number): Promise<void> {
    const r = this.result;
    if (!r || r.chars.length === 0) return;
    const p = Math.max(0, Math.min(r.chars.length - 1, Math.floor(position) || 0));
    this.position = p;
    const cached = this.#cache.get(p);
    if (cached) {
      this.at = cached;
      return;
    }
    const token = ++this.#token;
    try {
      const a = await this.#api.inspect.attentionAt({ id: r.id, position: p });
      this.#cache.set(p, a);
      if (token === this.#token && this.result === r) this.at = a;
    } catch (e) {
      this.#fail(e);
    }
  }

  chooseHead(layer: number, head: number): void {
    this.layer = layer;
    this.head = head;
  }

  /** One head's weights over the whole text (0 outside the window it sees). */
  weightsOf(layer: number, head: number): number[] {
    const r = this.result;
    const a = this.at;
    const out = new Array<number>(r?.chars.length ?? 0).fill(0);
    const row = a?.weights[layer]?.[head];
    if (!a || !row) return out;
    row.forEach((w, k) => (out[a.from + k] = w));
    return out;
  }

  /** Colours of the text for the chosen head. */
  colors(): string[] {
    const w = this.weightsOf(this.layer, this.head);
    const max = w.reduce((m, x) => Math.max(m, x), 0);
    return w.map((x) => attentionColor(x, max));
  }

  caption(): string {
    const r = this.result;
    if (!r) return '';
    const best = r.ranked.find((s) => s.layer === this.layer && s.head === this.head);
    const tracks = best ? ` (tracks ${r.patterns[best.pattern]}, ${best.score.toFixed(2)})` : '';
    return `${headLabel(this.layer, this.head)}${tracks}, from character ${this.position}`;
  }

  #fail(e: unknown): void {
    this.error = e instanceof Error ? e.message : String(e);
  }
}
