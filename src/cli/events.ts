/**
 * How the command line shows training events: a progress bar on a terminal (a line per report
 * otherwise), or one JSON object per event with snake_case keys (--json).
 */
import type { TrainEvent } from '../common/events.ts';
import { describeModel } from '../common/options.ts';

export function snakeKeys(o: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v && typeof v === 'object' && !Array.isArray(v) ? snakeKeys(v) : v]),
  );
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class EventPrinter {
  private lastVal: number | null = null;
  private barShown = false;
  private lastLine = 0;
  private backend = '';
  /** The run's --max-time (0: none): the bar follows whichever limit ends first, as the UI's does. */
  private maxTime = 0;

  constructor(
    private readonly opts: { json: boolean; quiet?: boolean; extra?: Record<string, unknown> },
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {}

  handle(ev: TrainEvent): void {
    if (this.opts.json) {
      const flat = ev.type === 'start' ? { ...ev, backend: ev.backend.backend, device: ev.backend.device, threads: ev.backend.threads } : ev;
      this.out.write(
        JSON.stringify({ ...snakeKeys(flat), ...this.opts.extra, ...(ev.type !== 'start' && this.backend ? { backend: this.backend } : {}) }) + '\n',
      );
      if (ev.type === 'start') this.backend = ev.backend.backend;
      return;
    }
    if (this.opts.quiet && ev.type !== 'done' && ev.type !== 'error') return;
    switch (ev.type) {
      case 'start':
        this.maxTime = ev.config.maxTime;
        this.line(
          `Training a ${describeModel(ev.config)} (${ev.params.toLocaleString('en-US')} parameters) on ${ev.trainChars.toLocaleString('en-US')} characters ` +
            `(${ev.vocabSize} distinct, ${ev.config.mode} mode), ${ev.backend.device}.` +
            (ev.baselineValLoss !== null ? ` Count n-gram baseline (order ${ev.baselineOrder ?? '?'}): ${ev.baselineValLoss.toFixed(3)} nats/char.` : '') +
            (ev.startIteration ? ` Resuming at iteration ${ev.startIteration}.` : ''),
        );
        break;
      case 'progress': {
        const byIters = ev.totalIters ? ev.iteration / ev.totalIters : 0;
        const byTime = this.maxTime > 0 ? ev.elapsedS / this.maxTime : 0;
        const frac = Math.min(1, Math.max(byIters, byTime));
        const width = 24;
        const filled = Math.round(frac * width);
        const where = byTime > byIters ? `${duration(ev.elapsedS)}/${duration(this.maxTime)} (iteration ${ev.iteration})` : `${ev.iteration}/${ev.totalIters}`;
        const text =
          `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${where} epoch ${ev.epoch.toFixed(2)} ` +
          `loss ${ev.trainLoss.toFixed(3)}${this.lastVal !== null ? ` val ${this.lastVal.toFixed(3)}` : ''} ${Math.round(ev.charsPerS).toLocaleString('en-US')} chars/s ETA ${duration(ev.etaS)}`;
        if (this.err.isTTY) {
          this.err.write(`\r\x1b[2K${text}`);
          this.barShown = true;
        } else if (ev.iteration - this.lastLine >= 50 || ev.iteration === ev.totalIters) {
          this.lastLine = ev.iteration;
          this.line(text);
        }
        break;
      }
      case 'eval':
        this.lastVal = ev.valLoss;
        this.line(`iteration ${ev.iteration}: validation loss ${ev.valLoss.toFixed(4)} nats/char (best ${ev.bestValLoss.toFixed(4)})`);
        break;
      case 'sample':
        this.line(`--- sample at iteration ${ev.iteration} (temperature ${ev.temperature}) ---\n${ev.text}\n---`);
        break;
      case 'checkpoint':
        break;
      case 'done':
        this.line(
          `${ev.reason === 'stopped' ? 'Stopped' : 'Finished'} at iteration ${ev.iteration} after ${duration(ev.elapsedS)} (${ev.reason}); best validation loss ${ev.bestValLoss?.toFixed(4) ?? '-'} nats/char.`,
        );
        break;
      case 'error':
        this.line(`charmer: ${ev.message}`);
        break;
    }
  }

  private line(s: string): void {
    if (this.barShown) {
      this.err.write('\r\x1b[2K');
      this.barShown = false;
    }
    this.err.write(s + '\n');
  }
}
