/**
 * The Inspect view's state: which model and text, the inspection (characters, losses, guesses and
 * the cell ranking, computed by the services), the cell shown (fetched one at a time and cached),
 * the shading mode, and the run's sample evolution. Big arrays are $state.raw: nothing per
 * character is reactive (the text itself is drawn imperatively by CellText).
 */
import type { Api, DefaultText, EvolutionEntry, InspectionResult } from '../../api/index.ts';
import { InspectJob } from './inspect-job.svelte.ts';

export type ShadeMode = 'cell' | 'surprise';

export interface CellRef {
  layer: number;
  kind: 'h' | 'c';
  cell: number;
}

/** Blue (negative) to green (positive), the post's colours; intensity by magnitude. */
export function activationColor(v: number): string {
  const a = Math.min(1, Math.abs(v));
  return v < 0 ? `rgba(66, 135, 245, ${(a * 0.85).toFixed(3)})` : `rgba(60, 200, 90, ${(a * 0.85).toFixed(3)})`;
}

/** Surprise: red by loss (nats), full at 5 nats (about 1 in 150). */
export function surpriseColor(loss: number): string {
  const a = Math.max(0, Math.min(1, loss / 5));
  return `rgba(240, 80, 60, ${(a * 0.9).toFixed(3)})`;
}

/** A guess's probability as a shade. */
export function guessColor(p: number): string {
  return `rgba(60, 200, 90, ${Math.max(0.06, Math.min(1, p) * 0.9).toFixed(3)})`;
}

/** How a character shows in the view and the exports (newlines and tabs made visible). */
export function showChar(ch: string): string {
  if (ch === '\n') return '↵';
  if (ch === '\t') return '⇥';
  if (ch === ' ') return '\u00a0';
  return ch;
}

export class InspectState {
  runId = $state<number | null>(null);
  checkpoint = $state<'best' | 'latest'>('best');
  text = $state('');
  textSource = $state<string | null>(null);
  /** The text is the default one (so re-choosing a model refreshes it). */
  textIsDefault = $state(true);
  result = $state.raw<InspectionResult | null>(null);
  mode = $state<ShadeMode>('cell');
  selected = $state<CellRef>({ layer: 0, kind: 'h', cell: 0 });
  /** The shown cell's activation per character. */
  values = $state.raw<number[] | null>(null);
  evolution = $state.raw<EvolutionEntry[]>([]);
  /** Character under the pointer (or last clicked). */
  hover = $state<number | null>(null);
  error = $state<string | null>(null);

  #api: Api;
  #job: InspectJob;
  #cache = new Map<string, number[]>();
  #cellToken = 0;

  constructor(api: Api) {
    this.#api = api;
    this.#job = new InspectJob(api, 'inspect');
  }

  /** Choose a model: loads its default text (unless one was pasted) and its sample evolution. */
  async chooseRun(runId: number): Promise<void> {
    this.runId = runId;
    this.result = null;
    this.values = null;
    this.error = null;
    const [def, evo] = await Promise.all([
      this.textIsDefault ? this.#api.inspect.defaultText({ runId }).catch((e: unknown) => (this.#fail(e), null as DefaultText | null)) : null,
      this.#api.inspect.evolution({ runId }).catch(() => [] as EvolutionEntry[]),
    ]);
    if (this.runId !== runId) return;
    if (def) {
      this.text = def.text;
      this.textSource = def.source;
    }
    this.evolution = evo;
  }

  setText(text: string): void {
    this.text = text;
    this.textIsDefault = false;
    this.textSource = null;
  }

  async useDefaultText(): Promise<void> {
    this.textIsDefault = true;
    if (this.runId !== null) await this.chooseRun(this.runId);
  }

  async run(): Promise<void> {
    const runId = this.runId;
    if (runId === null) return;
    this.error = null;
    await this.#job.run(
      [...this.text].length,
      (inspectId) => this.#api.inspect.run({ runId, checkpoint: this.checkpoint, inspectId, ...(this.text ? { text: this.text } : {}) }),
      async (r) => {
        this.#cache.clear();
        this.result = r;
        this.hover = null;
        const best = r.interesting[0];
        await this.show(best ? { layer: best.layer, kind: best.kind, cell: best.cell } : { layer: 0, kind: 'h', cell: 0 });
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

  /** Show a cell (shading mode becomes 'cell'). */
  async show(ref: CellRef): Promise<void> {
    const r = this.result;
    if (!r) return;
    const cell = Math.max(0, Math.min(r.hidden - 1, Math.floor(ref.cell) || 0));
    const sel = { layer: ref.layer, kind: ref.kind, cell };
    this.selected = sel;
    this.mode = 'cell';
    const key = `${sel.layer}/${sel.kind}/${sel.cell}`;
    const cached = this.#cache.get(key);
    if (cached) {
      this.values = cached;
      return;
    }
    const token = ++this.#cellToken;
    try {
      const v = await this.#api.inspect.cell({ id: r.id, ...sel });
      this.#cache.set(key, v);
      if (token === this.#cellToken && this.result === r) this.values = v;
    } catch (e) {
      this.#fail(e);
    }
  }

  /** The colour of every character in the current mode (for the exports). */
  colors(): string[] {
    const r = this.result;
    if (!r) return [];
    if (this.mode === 'surprise') return r.loss.map(surpriseColor);
    const v = this.values;
    return r.chars.map((_, i) => (v ? activationColor(v[i] ?? 0) : 'transparent'));
  }

  /** "layer 1 h, cell 37" for the current selection. */
  caption(): string {
    const r = this.result;
    if (!r) return '';
    if (this.mode === 'surprise') return `surprise (loss per character, mean ${r.meanLoss?.toFixed(3) ?? '–'} nats)`;
    const l = r.layers.find((x) => x.layer === this.selected.layer && x.kind === this.selected.kind);
    return `${l?.label ?? ''}, cell ${this.selected.cell}`;
  }

  #fail(e: unknown): void {
    this.error = e instanceof Error ? e.message : String(e);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A standalone HTML page of the shaded text (colours inlined; each character's guesses in its title). */
export function exportHtml(
  title: string,
  caption: string,
  chars: readonly string[],
  colors: readonly string[],
  guesses?: ReadonlyArray<ReadonlyArray<{ char: string; p: number }>>,
): string {
  const body = chars
    .map((ch, i) => {
      const tip = guesses?.[i]?.map((g) => `${showChar(g.char)} ${(g.p * 100).toFixed(1)}%`).join('  ');
      const span = `<span style="background:${colors[i] ?? 'transparent'}"${tip ? ` title="${escapeHtml(tip)}"` : ''}>${escapeHtml(ch === '\n' ? '↵' : ch)}</span>`;
      return ch === '\n' ? `${span}<br>` : span;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="background:#14161a;color:#e6e8eb;font-family:system-ui,sans-serif;margin:24px">
<h1 style="font-size:16px">${escapeHtml(title)}</h1>
<p style="color:#9aa0a6">${escapeHtml(caption)}</p>
<div style="font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:14px;line-height:1.6;white-space:pre-wrap;word-break:break-all">${body}</div>
</body></html>
`;
}

/**
 * Draws the shaded text onto a canvas (wrapping at `columns`), with a caption line on top.
 * Returns the canvas (2D context required; null where there is none, as in jsdom).
 */
export function drawCanvas(doc: Document, caption: string, chars: readonly string[], colors: readonly string[], columns = 100): HTMLCanvasElement | null {
  const cw = 9;
  const lh = 20;
  const pad = 16;
  // Lay out first: positions of every character. Short lines (lists of names) flow on, their
  // newlines shown as ↵, so the image stays readable (and within a canvas's size limits).
  const lines = chars.reduce((n, ch) => n + (ch === '\n' ? 1 : 0), 1);
  const flow = chars.length / lines < 40;
  const pos: Array<[number, number]> = [];
  let col = 0;
  let row = 0;
  for (const ch of chars) {
    if (col >= columns) {
      col = 0;
      row++;
    }
    pos.push([col, row]);
    if (ch === '\n' && !flow) {
      col = 0;
      row++;
    } else col++;
  }
  // Browsers refuse canvases much taller than 32,000 pixels: what does not fit is left out.
  const rows = Math.min(row + 1, Math.floor((32_000 - pad * 2 - lh * 1.5) / lh));
  const canvas = doc.createElement('canvas');
  canvas.width = pad * 2 + columns * cw;
  canvas.height = pad * 2 + lh * 1.5 + rows * lh;
  let g: CanvasRenderingContext2D | null = null;
  try {
    g = canvas.getContext('2d');
  } catch {
    g = null;
  }
  if (!g) return null;
  g.fillStyle = '#14161a';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#9aa0a6';
  g.font = '13px system-ui, sans-serif';
  g.textBaseline = 'middle';
  g.fillText(caption, pad, pad + lh / 2);
  g.font = '14px "DejaVu Sans Mono", ui-monospace, monospace';
  const top = pad + lh * 1.5;
  chars.forEach((ch, i) => {
    const [c, r] = pos[i]!;
    if (r >= rows) return;
    const x = pad + c * cw;
    const y = top + r * lh;
    g.fillStyle = colors[i] ?? 'transparent';
    g.fillRect(x, y, cw, lh);
    g.fillStyle = ch === '\n' ? '#9aa0a6' : '#e6e8eb';
    g.fillText(showChar(ch), x + 1, y + lh / 2);
  });
  return canvas;
}

/** Save a file from the page (a download). */
export function download(doc: Document, name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = doc.createElement('a');
  a.href = url;
  a.download = name;
  doc.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
