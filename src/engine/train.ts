/**
 * The training loop, as an async generator of TrainEvents: the caller decides what to do with them
 * (progress bar, JSON lines, database rows, a chart), and pausing is simply not asking for the
 * next event. Stopping: abort the signal; the loop finishes its step, writes `latest`, and ends.
 *
 * A run is prepared (./train-prepare.ts: options, split, model, restored state; everything that
 * can be refused is refused there) and then run (./train-loop.ts); one step's arithmetic and the
 * validation loss are ./train-step.ts.
 */
import type { TrainEvent } from './events.ts';
import { runTraining } from './train-loop.ts';
import { prepareRun, type TrainOptions } from './train-prepare.ts';

export { checkCorpusFits, checkTraining, resolveConfig, weightDecayMask, type TrainOptions } from './train-prepare.ts';
export { checkItemsFitContext, windowLength } from './transformer/training.ts';
export { evaluate, maskedLoss, shardGradients } from './train-step.ts';

export async function* train(opts: TrainOptions): AsyncGenerator<TrainEvent, void> {
  yield* runTraining(await prepareRun(opts), opts.signal);
}
