/**
 * The Training view's state: the run list, the run open on the dashboard with its live curves and
 * samples (fed by run events, applied at most once per animation frame so a fast trainer cannot
 * make the page sluggish), and runs overlaid for comparison.
 */
import type { Api, RunDetail, RunEvent, RunSummary } from '../../api/index.ts';

export interface Curve {
  x: number[];
  y: number[];
}

export interface ChartSeries {
  label: string;
  color: string;
  curve: Curve;
  dash?: boolean;
  width?: number;
}

export interface TimelineSample {
  iteration: number;
  text: string;
  valLoss: number | null;
  temperature: number | null;
}

export interface Live {
  iteration: number;
  totalIters: number;
  epoch: number;
  trainLoss: number | null;
  charsPerS: number | null;
  elapsedS: number | null;
  etaS: number | null;
  lr: number | null;
  bestValLoss: number | null;
}

export interface CompareCurve {
  id: number;
  name: string;
  val: Curve;
  train: Curve;
}

/** Whether a run has (or should have) a live training process. */
export { isActiveStatus as isActive } from '../../common/enums.ts';

const frame: (cb: () => void) => void = typeof requestAnimationFrame === 'function' ? (cb) => requestAnimationFrame(() => cb()) : (cb) => setTimeout(cb, 16);

export class RunsState {
  list = $state.raw<RunSummary[]>([]);
  openId = $state<number | null>(null);
  open = $state.raw<RunSummary | null>(null);
  train = $state.raw<Curve>({ x: [], y: [] });
  val = $state.raw<Curve>({ x: [], y: [] });
  samples = $state.raw<TimelineSample[]>([]);
  live = $state.raw<Live | null>(null);
  baseline = $state<number | null>(null);
  checkpoints = $state.raw<RunDetail['checkpoints']>([]);
  compare = $state.raw<CompareCurve[]>([]);
  /**
   * The latest iteration and best validation loss of every run that is sending events, for the run
   * list: its rows come from the library, which is read only when a run starts or ends.
   */
  progress = $state.raw<Record<number, { iteration: number; bestValLoss: number | null }>>({});

  #api: Api;
  #progressBuf: Record<number, { iteration: number; bestValLoss: number | null }> | null = null;
  #buf: { train: Curve; val: Curve; samples: TimelineSample[]; live: Live | null } | null = null;
  #scheduled = false;
  #listTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(api: Api) {
    this.#api = api;
    api.on.runEvent((e) => this.#onEvent(e));
  }

  async refresh(): Promise<void> {
    this.list = await this.#api.runs.list({});
    if (this.openId !== null) {
      const s = this.list.find((r) => r.id === this.openId);
      if (s) this.open = s;
    }
  }

  async openRun(id: number): Promise<void> {
    this.openId = id;
    const d = await this.#api.runs.get({ id });
    if (this.openId !== id) return;
    this.#load(d);
  }

  close(): void {
    this.openId = null;
    this.open = null;
    this.#load(null);
  }

  #load(d: RunDetail | null): void {
    const train: Curve = { x: [], y: [] };
    const val: Curve = { x: [], y: [] };
    for (const m of d?.metrics ?? []) {
      if (m.trainLoss !== null) {
        train.x.push(m.iteration);
        train.y.push(m.trainLoss);
      }
      if (m.valLoss !== null) {
        val.x.push(m.iteration);
        val.y.push(m.valLoss);
      }
    }
    this.open = d;
    this.train = train;
    this.val = val;
    this.samples = (d?.trainingSamples ?? []).map((s) => ({ iteration: s.iteration ?? 0, text: s.text, valLoss: null, temperature: s.temperature }));
    this.baseline = d?.baselineValLoss ?? null;
    this.checkpoints = d?.checkpoints ?? [];
    const last = d?.metrics.at(-1);
    this.live = d
      ? {
          iteration: d.iterations,
          totalIters: d.totalIters ?? 0,
          epoch: last?.epoch ?? 0,
          trainLoss: train.y.at(-1) ?? null,
          charsPerS: last?.charsPerS ?? null,
          elapsedS: last?.elapsedS ?? null,
          etaS: null,
          lr: last?.lr ?? null,
          bestValLoss: d.bestValLoss,
        }
      : null;
    this.#buf = null;
  }

  async start(corpusId: number, config: Record<string, unknown>, name?: string, initFrom?: { runId: number }): Promise<RunSummary> {
    const r = await this.#api.runs.start({ corpusId, config, ...(name ? { name } : {}), ...(initFrom ? { initFrom } : {}) });
    await this.refresh();
    await this.openRun(r.id);
    return r;
  }

  pause = (id: number) => this.#api.runs.pause({ id }).then(() => this.refresh());
  continue = (id: number) => this.#api.runs.continue({ id }).then(() => this.refresh());
  stop = (id: number) => this.#api.runs.stop({ id }).then(() => this.refresh());
  async resume(id: number): Promise<void> {
    await this.#api.runs.resume({ id });
    await this.refresh();
    await this.openRun(id);
  }
  async copy(id: number): Promise<void> {
    const r = await this.#api.runs.copy({ id });
    await this.refresh();
    await this.openRun(r.id);
  }
  async remove(id: number): Promise<void> {
    await this.#api.runs.remove({ id });
    if (this.openId === id) this.close();
    this.compare = this.compare.filter((c) => c.id !== id);
    await this.refresh();
  }

  async toggleCompare(id: number): Promise<void> {
    if (this.compare.some((c) => c.id === id)) {
      this.compare = this.compare.filter((c) => c.id !== id);
      return;
    }
    const d = await this.#api.runs.get({ id });
    const val: Curve = { x: [], y: [] };
    const train: Curve = { x: [], y: [] };
    for (const m of d.metrics) {
      if (m.valLoss !== null) {
        val.x.push(m.iteration);
        val.y.push(m.valLoss);
      }
      if (m.trainLoss !== null) {
        train.x.push(m.iteration);
        train.y.push(m.trainLoss);
      }
    }
    this.compare = [...this.compare, { id, name: d.name, val, train }];
  }

  #onEvent(e: RunEvent): void {
    if (e.kind === 'status') {
      this.#scheduleList();
      return;
    }
    if (e.event.type === 'progress' || e.event.type === 'eval' || e.event.type === 'start') {
      const p = (this.#progressBuf ??= { ...this.progress });
      const was = p[e.runId];
      const ev = e.event;
      p[e.runId] =
        ev.type === 'eval'
          ? { iteration: Math.max(was?.iteration ?? 0, ev.iteration), bestValLoss: ev.bestValLoss }
          : { iteration: ev.type === 'start' ? ev.startIteration : ev.iteration, bestValLoss: ev.type === 'start' ? null : (was?.bestValLoss ?? null) };
      this.#scheduleFlush();
    }
    if (e.runId !== this.openId) {
      if (e.event.type === 'start' || e.event.type === 'done' || e.event.type === 'error') this.#scheduleList();
      return;
    }
    const ev = e.event;
    const b = (this.#buf ??= {
      train: { x: [...this.train.x], y: [...this.train.y] },
      val: { x: [...this.val.x], y: [...this.val.y] },
      samples: [...this.samples],
      live: this.live,
    });
    switch (ev.type) {
      case 'start':
        this.baseline = ev.baselineValLoss;
        b.live = { ...(b.live ?? emptyLive()), iteration: ev.startIteration, totalIters: ev.totalIters };
        this.open = this.open ? { ...this.open, backend: ev.backend.backend, device: ev.backend.device, params: ev.params, status: 'running' } : this.open;
        this.#scheduleList();
        break;
      case 'progress':
        appendPoint(b.train, ev.iteration, ev.trainLoss);
        b.live = {
          ...(b.live ?? emptyLive()),
          iteration: ev.iteration,
          totalIters: ev.totalIters,
          epoch: ev.epoch,
          trainLoss: ev.trainLoss,
          charsPerS: ev.charsPerS,
          elapsedS: ev.elapsedS,
          etaS: ev.etaS,
          lr: ev.lr,
        };
        break;
      case 'eval':
        appendPoint(b.val, ev.iteration, ev.valLoss);
        b.live = { ...(b.live ?? emptyLive()), bestValLoss: ev.bestValLoss };
        break;
      case 'sample':
        b.samples.push({ iteration: ev.iteration, text: ev.text, valLoss: ev.valLoss, temperature: ev.temperature });
        break;
      case 'checkpoint':
      case 'done':
      case 'error':
        this.#scheduleList();
        if (ev.type !== 'checkpoint')
          void this.#api.runs.get({ id: e.runId }).then((d) => {
            if (this.openId === d.id) {
              this.open = d;
              this.checkpoints = d.checkpoints;
            }
          });
        break;
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    frame(() => {
      this.#scheduled = false;
      if (this.#progressBuf) {
        this.progress = this.#progressBuf;
        this.#progressBuf = null;
      }
      const b = this.#buf;
      if (!b) return;
      this.#buf = null;
      this.train = b.train;
      this.val = b.val;
      this.samples = b.samples;
      this.live = b.live;
    });
  }

  #scheduleList(): void {
    if (this.#listTimer) return;
    this.#listTimer = setTimeout(() => {
      this.#listTimer = null;
      void this.refresh().catch(() => {});
    }, 150);
  }
}

function appendPoint(c: Curve, x: number, y: number): void {
  if (!Number.isFinite(y)) return;
  const last = c.x.length - 1;
  if (last >= 0 && c.x[last]! >= x) {
    // A resumed run restarts at its checkpoint's iteration: drop the points it will redo.
    while (c.x.length && c.x[c.x.length - 1]! >= x) {
      c.x.pop();
      c.y.pop();
    }
  }
  c.x.push(x);
  c.y.push(y);
}

function emptyLive(): Live {
  return { iteration: 0, totalIters: 0, epoch: 0, trainLoss: null, charsPerS: null, elapsedS: null, etaS: null, lr: null, bestValLoss: null };
}
