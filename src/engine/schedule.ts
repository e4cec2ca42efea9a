/**
 * The learning rate at a step: linear warm-up, then either a cosine over the run's budget
 * (nanoGPT's get_lr) or char-rnn's per-epoch step decay. The budget is whichever of the limits
 * ends the run first: the iteration count, or with maxTime the elapsed seconds, so a timed run
 * reaches the bottom of the cosine when its time is up however fast the machine is.
 * A pure function of (iteration, elapsed): a resumed run continues the same curve.
 */
import type { TrainConfig } from './config.ts';

export type ScheduleConfig = Pick<
  TrainConfig,
  'learningRate' | 'lrSchedule' | 'warmupIters' | 'minLrFraction' | 'learningRateDecay' | 'decayAfter' | 'maxTime'
>;

export interface SchedulePoint {
  /** Steps taken before this one. */
  iteration: number;
  /** Seconds of training so far (across resumes). */
  elapsedS: number;
  /** The iteration budget (maxIters, or maxEpochs' worth). */
  totalIters: number;
  itersPerEpoch: number;
}

export function learningRateAt(c: ScheduleConfig, p: SchedulePoint): number {
  const lr = c.learningRate;
  // nanoGPT: lr * (it + 1) / (warmup + 1), so the first step is small but not zero.
  if (p.iteration < c.warmupIters) return (lr * (p.iteration + 1)) / (c.warmupIters + 1);
  if (c.lrSchedule === 'step') {
    const epochIndex = Math.floor(p.iteration / p.itersPerEpoch);
    return lr * c.learningRateDecay ** Math.max(0, epochIndex - c.decayAfter + 1);
  }
  const span = Math.max(1, p.totalIters - c.warmupIters);
  let progress = (p.iteration - c.warmupIters) / span;
  if (c.maxTime > 0) progress = Math.max(progress, p.elapsedS / c.maxTime);
  progress = Math.min(1, Math.max(0, progress));
  const min = lr * c.minLrFraction;
  return min + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - min);
}
