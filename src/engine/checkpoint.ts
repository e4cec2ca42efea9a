/**
 * Checkpoints: a directory holding an ordinary TF.js LayersModel (model.json + weights.bin, with
 * Charmer's metadata inside model.json), plus trainer.json / optimizer.bin (optimizer, RNG and data
 * position, for exact resume) and, in lines mode, items.json (the corpus items, for novelty tags).
 *
 * Written atomically: every file goes to a temporary sibling directory and is fsynced, then the
 * directory is renamed into place. A crash leaves either the old checkpoint or the new one (the
 * old one may be found under its `.old` name, which readers fall back to), never a half-written one.
 */
import { closeSync, fsyncSync, openSync, promises as fsp, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CharmerError } from './errors.ts';
import { CHECKPOINT_FILES as FILES, CHECKPOINT_FORMAT, oldTwinName, tempSiblingName } from '../common/checkpoint-format.ts';
import type { CharmerMetadata, ModelSpec } from './model.ts';
import { CharModel, specFromConfig } from './model.ts';
import type { OptimizerState } from './optimizer.ts';
import type { RngState } from './rng.ts';
import { Vocabulary } from './vocabulary.ts';
import { CORPUS_MODES, MODEL_TYPES, OPTIMIZERS } from '../common/enums.ts';

export interface TrainerState {
  iteration: number;
  rng: RngState;
  elapsedS: number;
  bestValLoss: number | null;
  firstLoss: number | null;
  optimizer: { name: OptimizerState['name']; step: number; slotShapes: number[][] };
  /** Hidden state carried between text-mode batches (flattened per layer and state part). */
  carryShapes: number[][];
  /**
   * With --ema-decay: the average's update count and the trained weights' shapes. The model's
   * weights are then the average (what was evaluated); the trained ones follow the carry in optimizer.bin.
   */
  average?: { updates: number; trainedShapes: number[][] };
}

export interface CheckpointData {
  model: CharModel;
  trainer?: { state: TrainerState; optimizer: OptimizerState; carry: Float32Array[]; trained?: Float32Array[] };
  items?: { train: string[]; val: string[] };
}

export interface CheckpointInfo {
  path: string;
  meta: CharmerMetadata;
  spec: ModelSpec;
  params: number;
  sizeBytes: number;
  hasTrainerState: boolean;
}

function fsyncWrite(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open directories; rename is already durable enough there.
  }
}

function concat(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((s, a) => s + a.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    off += a.byteLength;
  }
  return out;
}

/** Serialise the model to LayersModel artifacts with the metadata inside. */
async function modelArtifacts(model: CharModel): Promise<{ json: string; weights: Uint8Array }> {
  model.net.setUserDefinedMetadata({ charmer: model.meta } as never);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.net.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved!;
  const weightData = a.weightData instanceof ArrayBuffer ? a.weightData : tf.io.concatenateArrayBuffers(a.weightData as ArrayBuffer[]);
  const json = JSON.stringify({
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [FILES.weights], weights: a.weightSpecs }],
    userDefinedMetadata: a.userDefinedMetadata,
  });
  return { json, weights: new Uint8Array(weightData) };
}

/** Write a checkpoint directory atomically. */
export async function saveCheckpoint(dir: string, data: CheckpointData): Promise<void> {
  const parent = dirname(dir);
  await fsp.mkdir(parent, { recursive: true });
  const { json, weights } = await modelArtifacts(data.model);
  const tmp = join(parent, tempSiblingName(basename(dir), process.pid, Date.now()));
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp);
  try {
    fsyncWrite(join(tmp, FILES.weights), weights);
    if (data.trainer) {
      fsyncWrite(join(tmp, FILES.optimizer), concat([...data.trainer.optimizer.slots, ...data.trainer.carry, ...(data.trainer.trained ?? [])]));
      fsyncWrite(join(tmp, FILES.trainerState), JSON.stringify(data.trainer.state));
    }
    if (data.items) fsyncWrite(join(tmp, FILES.items), JSON.stringify(data.items));
    // model.json last: a directory with model.json is complete.
    fsyncWrite(join(tmp, FILES.model), json);
    fsyncDir(tmp);
    const old = join(parent, oldTwinName(basename(dir)));
    await fsp.rm(old, { recursive: true, force: true });
    const hadOld = await fsp.rename(dir, old).then(
      () => true,
      () => false,
    );
    await fsp.rename(tmp, dir);
    fsyncDir(parent);
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOSPC'
        ? 'the disk is full'
        : err.code === 'EACCES' || err.code === 'EROFS' || err.code === 'EPERM'
          ? 'the folder is read-only'
          : err.message;
    throw new CharmerError('IO_ERROR', `Could not write the checkpoint in ${parent}: ${why}. The previous checkpoint is kept.`);
  }
}

/** The directory to read: `dir`, or its `.old` twin if a crash fell between the two renames. */
export async function resolveCheckpointDir(dir: string): Promise<string> {
  if (await exists(join(dir, FILES.model))) return dir;
  const old = join(dirname(dir), oldTwinName(basename(dir)));
  if (await exists(join(old, FILES.model))) return old;
  if (await exists(dir)) {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new CharmerError('BAD_CHECKPOINT', `${dir} is a file; a checkpoint is a folder holding model.json.`);
    if ((await exists(join(dir, FILES.weights))) || (await exists(join(dir, FILES.trainerState)))) {
      throw damaged(join(dir, FILES.model), 'is missing (deleted by hand?), so the rest of this checkpoint cannot be read');
    }
    throw new CharmerError('BAD_CHECKPOINT', `${dir} is not a Charmer checkpoint (no model.json in it). Point at a run's best/ or latest/ folder.`);
  }
  throw new CharmerError('BAD_CHECKPOINT', `There is no checkpoint at ${dir}. Point at a run's best/ or latest/ folder.`);
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

/** A damaged or missing file of a checkpoint: the sentence names the file and says what to do. */
function damaged(file: string, what: string, todo = "Use the run's other checkpoint (best/ or latest/), or train again."): CharmerError {
  return new CharmerError('BAD_CHECKPOINT', `${file} ${what}. ${todo}`, { path: file });
}

const isShape = (x: unknown): x is number[] => Array.isArray(x) && x.every((d) => Number.isInteger(d) && d >= 0);

async function readModelJson(dir: string): Promise<{ path: string; json: Record<string, unknown>; meta: CharmerMetadata }> {
  const path = await resolveCheckpointDir(dir);
  const file = join(path, FILES.model);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw damaged(file, `could not be read (${(e as NodeJS.ErrnoException).code})`);
    throw damaged(file, 'is damaged (not valid JSON)');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw damaged(file, 'is damaged (not a model description)');
  const meta = (json.userDefinedMetadata as { charmer?: CharmerMetadata } | undefined)?.charmer;
  if (!meta || meta.format !== CHECKPOINT_FORMAT || !Array.isArray(meta.vocab)) {
    throw new CharmerError('BAD_CHECKPOINT', `${path} holds a TF.js model but not a Charmer one (no vocabulary in its metadata).`);
  }
  const c = meta.config as Partial<CharmerMetadata['config']> | undefined;
  const manifest = json.weightsManifest as Array<{ weights?: unknown }> | undefined;
  if (
    !meta.vocab.every((ch) => typeof ch === 'string') ||
    !c ||
    !(MODEL_TYPES as readonly string[]).includes(c.model as string) ||
    (c.model === 'transformer' && ![c.nLayer, c.nHead, c.nEmbd, c.blockSize].every((n) => Number.isInteger(n) && n! > 0)) ||
    !(CORPUS_MODES as readonly string[]).includes(meta.mode) ||
    !Array.isArray(meta.history) ||
    !Array.isArray(manifest) ||
    !manifest.every((g) => Array.isArray(g.weights) && (g.weights as Array<{ shape?: unknown }>).every((w) => isShape(w.shape)))
  ) {
    throw damaged(file, 'is damaged (its settings, vocabulary or weight list are incomplete)');
  }
  return { path, json, meta };
}

export function specFromMeta(meta: CharmerMetadata): ModelSpec {
  return specFromConfig(meta.config, meta.vocab.length);
}

/** Bytes weights.bin must hold according to model.json's weight list. */
function expectedWeightBytes(json: Record<string, unknown>): number {
  const manifest = json.weightsManifest as Array<{ weights: tf.io.WeightsManifestEntry[] }>;
  return manifest.flatMap((g) => g.weights).reduce((s, w) => s + w.shape.reduce((p, d) => p * d, 1) * 4, 0);
}

/** A checkpoint's metadata alone (model.json), without reading its weights. */
export async function readCheckpointMeta(dir: string): Promise<CharmerMetadata> {
  return (await readModelJson(dir)).meta;
}

export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const { path, json, meta } = await readModelJson(dir);
  const spec = specFromMeta(meta);
  const file = join(path, FILES.weights);
  const st = await fsp.stat(file).catch(() => null);
  if (!st) throw damaged(file, 'is missing (deleted by hand?)');
  const expected = expectedWeightBytes(json);
  if (st.size !== expected) throw damaged(file, `has ${st.size} bytes but model.json lists weights of ${expected}: the file is damaged`);
  const bytes = await fsp.readFile(file);
  if (!finite(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))))
    throw damaged(file, 'is damaged (it holds values that are not numbers)');
  return { path, meta, spec, params: expected / 4, sizeBytes: st.size, hasTrainerState: await exists(join(path, FILES.trainerState)) };
}

function finite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

async function readJsonFile(file: string, what: string, todo?: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw damaged(file, code === 'ENOENT' ? `is missing (${what}; deleted by hand?)` : `could not be read (${code})`, todo);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw damaged(file, `is damaged (${what}, not valid JSON)`, todo);
  }
}

function validItems(x: unknown): x is { train: string[]; val: string[] } {
  const list = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === 'string');
  return !!x && typeof x === 'object' && list((x as { train?: unknown }).train) && list((x as { val?: unknown }).val);
}

function validTrainerState(x: unknown): x is TrainerState {
  const s = x as Partial<TrainerState> | null;
  return (
    !!s &&
    typeof s === 'object' &&
    Number.isInteger(s.iteration) &&
    s.iteration! >= 0 &&
    Array.isArray(s.rng) &&
    s.rng.length === 4 &&
    s.rng.every((w) => Number.isInteger(w)) &&
    typeof s.elapsedS === 'number' &&
    !!s.optimizer &&
    (OPTIMIZERS as readonly string[]).includes(s.optimizer.name) &&
    Number.isInteger(s.optimizer.step) &&
    Array.isArray(s.optimizer.slotShapes) &&
    s.optimizer.slotShapes.every(isShape) &&
    Array.isArray(s.carryShapes) &&
    s.carryShapes.every(isShape) &&
    (s.average === undefined ||
      (Number.isInteger(s.average?.updates) && s.average.updates >= 0 && Array.isArray(s.average.trainedShapes) && s.average.trainedShapes.every(isShape)))
  );
}

/** Load a checkpoint; with `withTrainer`, also the optimizer/RNG state for resuming. */
export async function loadCheckpoint(dir: string, withTrainer = false): Promise<CheckpointData> {
  const { path, json, meta } = await readModelJson(dir);
  const manifest = json.weightsManifest as Array<{ weights: tf.io.WeightsManifestEntry[] }>;
  const weightsFile = join(path, FILES.weights);
  let weightData: Buffer;
  try {
    weightData = await fsp.readFile(weightsFile);
  } catch {
    throw damaged(weightsFile, 'is missing (deleted by hand?)');
  }
  const specs = manifest.flatMap((g) => g.weights);
  const expected = expectedWeightBytes(json);
  if (weightData.length !== expected) {
    throw damaged(weightsFile, `has ${weightData.length} bytes but the model needs ${expected}: the file is damaged`);
  }
  const weights = new Float32Array(weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.length));
  if (!finite(weights)) throw damaged(weightsFile, 'is damaged (it holds values that are not numbers)');
  let net: tfl.LayersModel;
  try {
    net = await tfl.loadLayersModel({
      load: async () => ({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: weights.buffer as ArrayBuffer }),
    });
  } catch (e) {
    throw damaged(join(path, FILES.model), `is damaged (TF.js cannot build the model it describes: ${(e as Error).message.split('\n')[0]})`);
  }
  const model = new CharModel(specFromMeta(meta), net, Vocabulary.fromList(meta.vocab), meta);
  try {
    const out: CheckpointData = { model };
    // Lines models keep their corpus items for the train / val / new tags; text models have none.
    if (meta.mode === 'lines') {
      const itemsFile = join(path, FILES.items);
      const items = await readJsonFile(itemsFile, 'the corpus items that tag samples train, val or new');
      if (!validItems(items)) throw damaged(itemsFile, 'is damaged (not two lists of items)');
      out.items = items;
    }
    if (withTrainer) {
      const resumeTodo = "Resume from the run's other checkpoint, or fine-tune from this one with --init-from (it needs only model.json and weights.bin).";
      const trainerFile = join(path, FILES.trainerState);
      if (!(await exists(trainerFile))) {
        throw new CharmerError(
          'BAD_CHECKPOINT',
          `${path} has no trainer state (trainer.json), so training cannot resume from it exactly. Use --init-from to fine-tune from it.`,
          { path: trainerFile },
        );
      }
      const state = await readJsonFile(trainerFile, 'the trainer state', resumeTodo);
      if (!validTrainerState(state)) throw damaged(trainerFile, 'is damaged (the trainer state is incomplete)', resumeTodo);
      const optFile = join(path, FILES.optimizer);
      const bin = await fsp.readFile(optFile).catch((e: NodeJS.ErrnoException) => {
        throw damaged(optFile, e.code === 'ENOENT' ? 'is missing (the optimizer state; deleted by hand?)' : `could not be read (${e.code})`, resumeTodo);
      });
      const count = (shapes: number[][]) => shapes.reduce((s, shape) => s + shape.reduce((p, d) => p * d, 1), 0);
      const trainedShapes = state.average?.trainedShapes ?? [];
      const need = 4 * (count(state.optimizer.slotShapes) + count(state.carryShapes) + count(trainedShapes));
      if (bin.length !== need) throw damaged(optFile, `has ${bin.length} bytes but trainer.json describes ${need}: the file is damaged`, resumeTodo);
      const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
      if (!finite(floats)) throw damaged(optFile, 'is damaged (it holds values that are not numbers)', resumeTodo);
      let off = 0;
      const take = (shape: number[]) => {
        const n = shape.reduce((p, d) => p * d, 1);
        const a = floats.slice(off, off + n);
        off += n;
        return a;
      };
      const slots = state.optimizer.slotShapes.map(take);
      const carry = state.carryShapes.map(take);
      const trained = state.average ? { trained: trainedShapes.map(take) } : {};
      out.trainer = { state, optimizer: { name: state.optimizer.name, step: state.optimizer.step, slots }, carry, ...trained };
    }
    return out;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
