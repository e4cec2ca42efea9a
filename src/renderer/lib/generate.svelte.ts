/**
 * The Generate view's state: the chosen model and sampling settings, lines (N unique items with
 * constraints and novelty tags) or streamed text. Settings changes re-sample after a short pause
 * (debounced); each request cancels the previous one on the model thread, and a stale answer is
 * never shown.
 */
import type { Api, LinesAnswer, ModelChoice, NameCard, SampleRow } from '../../api/index.ts';
import { isApiError } from '../../api/errors.ts';
import type { Novelty } from '../../common/enums.ts';
import { DEFAULT_GUIDANCE } from '../../common/samples.ts';

export interface GeneratedItem {
  /** Position in the order the model produced them. */
  index: number;
  text: string;
  logprob: number;
  novelty: Novelty;
  /** Lists with categories: the values it was written for. */
  category?: Record<string, string>;
  /** Gallery id once kept. */
  keptId: number | null;
}

/** The sampling settings a kept item records (its Gallery row's columns). */
type MadeWith = Pick<SampleRow, 'temperature' | 'topK' | 'guidance' | 'prime'>;

/** The card open beside the list. */
export interface OpenCard {
  item: GeneratedItem;
  card: NameCard | null;
  error: string | null;
}

export const modelKey = (m: Pick<ModelChoice, 'runId' | 'kind'>) => `${m.runId}:${m.kind}`;

export function modelLabel(m: ModelChoice): string {
  const loss = m.valLoss !== null ? ` · loss ${m.valLoss.toFixed(2)}` : '';
  return `${m.runName} · ${m.kind} · it ${m.iteration}${loss}`;
}

export const NOVELTY_LABEL: Record<Novelty, string> = { new: 'new', train: 'in training set', val: 'in validation set' };

export function randomSeed(): number {
  return Math.floor(Math.random() * 1_000_000);
}

export class GenerateState {
  models = $state.raw<ModelChoice[]>([]);
  key = $state<string | null>(null);
  temperature = $state(0.8);
  topK = $state(0);
  seed = $state(randomSeed());
  // lines
  count = $state(50);
  prefix = $state('');
  contains = $state('');
  suffix = $state('');
  minLength = $state<number | null>(null);
  maxLength = $state<number | null>(null);
  newOnly = $state(true);
  /** Category values asked for, as "column=value" (none in a column: the model draws it). */
  categories = $state.raw<string[]>([]);
  /** With a category asked: how hard the names are pushed towards it (classifier-free guidance; 0 = the model as learned). */
  guidance = $state(DEFAULT_GUIDANCE);
  openCard = $state.raw<OpenCard | null>(null);
  /** Cards fetched so far, by item text and category (keeping a name keeps its card). */
  #cards = new Map<string, NameCard>();
  sort = $state<'likelihood' | 'order'>('likelihood');
  items = $state.raw<GeneratedItem[]>([]);
  /** Items dismissed from the current list (by index). */
  dismissed = $state.raw<Set<number>>(new Set());
  // text
  prime = $state('');
  length = $state(400);
  output = $state('');
  streaming = $state(false);
  /** Characters of the prime the model never saw (UNKNOWN_CHARACTERS), shown inline. */
  unknownChars = $state.raw<string[]>([]);
  // both
  busy = $state(false);
  error = $state<string | null>(null);
  lastMs = $state<number | null>(null);
  answeredWith = $state.raw<LinesAnswer['model'] | null>(null);
  /** The settings the items or text shown were made with: what Keep records, whatever the controls say since. */
  #madeWith: MadeWith | null = null;

  readonly model = $derived(this.models.find((m) => modelKey(m) === this.key) ?? null);
  readonly visibleItems = $derived.by(() => {
    const list = this.items.filter((i) => !this.dismissed.has(i.index));
    return this.sort === 'likelihood' ? [...list].sort((a, b) => b.logprob - a.logprob) : list;
  });

  #api: Api;
  #seq = 0;
  #current: string | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #off: (() => void) | null = null;
  #id = Math.random().toString(36).slice(2, 8);
  readonly debounceMs: number;

  constructor(api: Api, opts: { debounceMs?: number } = {}) {
    this.#api = api;
    this.debounceMs = opts.debounceMs ?? 120;
    this.#off = api.on.generateText(({ requestId, chunk }) => {
      if (requestId === this.#current && this.streaming) this.output += chunk;
    });
  }

  destroy(): void {
    this.#off?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.cancel();
  }

  async refreshModels(): Promise<void> {
    this.models = await this.#api.generate.models();
    if (!this.models.some((m) => modelKey(m) === this.key)) this.key = this.models[0] ? modelKey(this.models[0]) : null;
    this.categories = [];
  }

  /** Re-sample after a short pause (slider moves, typing in a constraint). */
  schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.generate();
    }, this.debounceMs);
  }

  newSeed(): void {
    this.seed = randomSeed();
  }

  /** Stops the request in flight (text keeps what was written). */
  cancel(): void {
    const id = this.#current;
    if (id) void this.#api.generate.cancel({ requestId: id }).catch(() => {});
  }

  stop(): void {
    this.cancel();
  }

  async generate(opts: { skipUnknown?: boolean } = {}): Promise<void> {
    const m = this.model;
    if (!m) {
      this.error = 'There is no trained model yet: train one in the Train view first.';
      return;
    }
    this.cancel();
    const seq = ++this.#seq;
    const requestId = `${this.#id}-${seq}`;
    this.#current = requestId;
    this.busy = true;
    this.error = null;
    const t0 = performance.now();
    const fresh = () => seq === this.#seq;
    const base = { runId: m.runId, kind: m.kind, requestId, temperature: this.temperature, topK: this.topK, seed: this.seed };
    const guided = m.mode === 'lines' && this.categories.length > 0;
    const made: MadeWith = {
      temperature: this.temperature,
      topK: this.topK || null,
      guidance: guided ? this.guidance : null,
      prime: m.mode === 'text' ? this.prime || null : null,
    };
    try {
      if (m.mode === 'lines') {
        const r = await this.#api.generate.lines({
          ...base,
          count: this.count,
          newOnly: this.newOnly,
          ...(this.prefix ? { prefix: this.prefix } : {}),
          ...(this.contains ? { contains: this.contains } : {}),
          ...(this.suffix ? { suffix: this.suffix } : {}),
          ...(this.minLength ? { minLength: this.minLength } : {}),
          ...(this.maxLength ? { maxLength: this.maxLength } : {}),
          ...(guided ? { categories: this.categories, guidance: this.guidance } : {}),
        });
        if (!fresh()) return;
        this.#madeWith = made;
        this.items = r.items.map((it, index) => ({ ...it, index, keptId: null }));
        this.dismissed = new Set();
        this.answeredWith = r.model;
      } else {
        this.output = '';
        this.#madeWith = made;
        this.unknownChars = [];
        this.streaming = true;
        const r = await this.#api.generate.text({
          ...base,
          length: this.length,
          ...(this.prime ? { prime: this.prime } : {}),
          ...(opts.skipUnknown ? { skipUnknown: true } : {}),
        });
        if (!fresh()) return;
        // The events may lag the answer: the answer is the whole text.
        this.output = r.text;
        this.answeredWith = r.model;
      }
      this.lastMs = Math.round(performance.now() - t0);
    } catch (e) {
      if (!fresh()) return;
      if (isApiError(e) && e.code === 'UNKNOWN_CHARACTERS') {
        this.unknownChars = (e.details.chars as string[] | undefined) ?? [];
        this.error = e.message;
      } else this.error = e instanceof Error ? e.message : String(e);
    } finally {
      if (fresh()) {
        this.busy = false;
        this.streaming = false;
        this.#current = null;
      }
    }
  }

  /** Toggle a category value ("sex=F"); the list re-samples. */
  toggleCategory(column: string, value: string): void {
    const key = `${column}=${value}`;
    this.categories = this.categories.includes(key) ? this.categories.filter((c) => c !== key) : [...this.categories, key];
  }

  async cardFor(item: GeneratedItem): Promise<NameCard> {
    const m = this.answeredWith ?? this.model;
    const key = `${item.text}\u0000${JSON.stringify(item.category ?? null)}`;
    const hit = this.#cards.get(key);
    if (hit) return hit;
    const card = await this.#api.generate.nameCard({
      ...(m ? { runId: m.runId, kind: m.kind } : {}),
      text: item.text,
      category: item.category ?? null,
      novelty: item.novelty,
    });
    this.#cards.set(key, card);
    return card;
  }

  /** Opens an item's name card beside the list. */
  async showCard(item: GeneratedItem): Promise<void> {
    this.openCard = { item, card: null, error: null };
    try {
      const card = await this.cardFor(item);
      if (this.openCard?.item === item) this.openCard = { item, card, error: null };
    } catch (e) {
      if (this.openCard?.item === item) this.openCard = { item, card: null, error: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Keep an item (or the text output) in the gallery as a favourite; a list item keeps its category and card. */
  async keep(text: string, item?: GeneratedItem): Promise<number | null> {
    const m = this.answeredWith ?? this.model;
    if (!m) return null;
    const card = item && m.mode === 'lines' ? await this.cardFor(item).catch(() => null) : null;
    const made = this.#madeWith ?? { temperature: this.temperature, topK: this.topK || null, guidance: null, prime: null };
    const row = await this.#api.gallery.save({
      ...(item?.category ? { category: item.category } : {}),
      ...(card ? { card } : {}),
      runId: m.runId,
      checkpointId: m.checkpointId,
      source: 'generated',
      iteration: m.iteration,
      temperature: made.temperature,
      topK: made.topK,
      guidance: made.guidance,
      prime: made.prime,
      mode: m.mode,
      text,
      logprob: item ? item.logprob : null,
      novelty: item ? item.novelty : null,
      favorite: true,
    });
    if (item) this.items = this.items.map((x) => (x.index === item.index ? { ...x, keptId: row.id } : x));
    return row.id;
  }

  dismiss(item: GeneratedItem): void {
    this.dismissed = new Set([...this.dismissed, item.index]);
  }
}

/** Splits the prime into runs of known and unknown characters, for the inline explanation. */
export function markUnknown(prime: string, unknown: string[]): Array<{ text: string; unknown: boolean }> {
  const bad = new Set(unknown);
  const out: Array<{ text: string; unknown: boolean }> = [];
  for (const ch of prime) {
    const u = bad.has(ch);
    const last = out[out.length - 1];
    if (last && last.unknown === u) last.text += ch;
    else out.push({ text: ch, unknown: u });
  }
  return out;
}

export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const name = ch === ' ' ? 'space' : ch === '\t' ? 'tab' : ch === '\n' ? 'newline' : ch;
  return `${name} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
