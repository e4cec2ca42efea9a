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
import type { CharmerMetadata, ModelSpec } from './model.ts';
import { CharModel } from './model.ts';
import type { OptimizerState } from './optimizer.ts';
import type { RngState } from './rng.ts';
import { Vocabulary } from './vocabulary.ts';

export interface TrainerState {
  iteration: number;
  rng: RngState;
  elapsedS: number;
  bestValLoss: number | null;
  firstLoss: number | null;
  optimizer: { name: OptimizerState['name']; step: number; slotShapes: number[][] };
  /** Hidden state carried between text-mode batches (flattened per layer and state part). */
  carryShapes: number[][];
}

export interface CheckpointData {
  model: CharModel;
  trainer?: { state: TrainerState; optimizer: OptimizerState; carry: Float32Array[] };
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
  await model.net.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const a = saved!;
  const weightData = a.weightData instanceof ArrayBuffer ? a.weightData : tf.io.concatenateArrayBuffers(a.weightData as ArrayBuffer[]);
  const json = JSON.stringify({
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    userDefinedMetadata: a.userDefinedMetadata,
  });
  return { json, weights: new Uint8Array(weightData) };
}

/** Write a checkpoint directory atomically. */
export async function saveCheckpoint(dir: string, data: CheckpointData): Promise<void> {
  const parent = dirname(dir);
  await fsp.mkdir(parent, { recursive: true });
  const { json, weights } = await modelArtifacts(data.model);
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp);
  try {
    fsyncWrite(join(tmp, 'weights.bin'), weights);
    if (data.trainer) {
      fsyncWrite(join(tmp, 'optimizer.bin'), concat([...data.trainer.optimizer.slots, ...data.trainer.carry]));
      fsyncWrite(join(tmp, 'trainer.json'), JSON.stringify(data.trainer.state));
    }
    if (data.items) fsyncWrite(join(tmp, 'items.json'), JSON.stringify(data.items));
    // model.json last: a directory with model.json is complete.
    fsyncWrite(join(tmp, 'model.json'), json);
    fsyncDir(tmp);
    const old = join(parent, `.${basename(dir)}.old`);
    await fsp.rm(old, { recursive: true, force: true });
    const hadOld = await fsp.rename(dir, old).then(() => true, () => false);
    await fsp.rename(tmp, dir);
    fsyncDir(parent);
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOSPC' ? 'the disk is full' : err.code === 'EACCES' || err.code === 'EROFS' || err.code === 'EPERM' ? 'the folder is read-only' : err.message;
    throw new CharmerError('IO_ERROR', `Could not write the checkpoint in ${parent}: ${why}. The previous checkpoint is kept.`);
  }
}

/** The directory to read: `dir`, or its `.old` twin if a crash fell between the two renames. */
export async function resolveCheckpointDir(dir: string): Promise<string> {
  if (await exists(join(dir, 'model.json'))) return dir;
  const old = join(dirname(dir), `.${basename(dir)}.old`);
  if (await exists(join(old, 'model.json'))) return old;
  if (await exists(dir)) {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new CharmerError('BAD_CHECKPOINT', `${dir} is a file; a checkpoint is a folder holding model.json.`);
    throw new CharmerError('BAD_CHECKPOINT', `${dir} is not a Charmer checkpoint (no model.json in it). Point at a run's best/ or latest/ folder.`);
  }
  throw new CharmerError('BAD_CHECKPOINT', `There is no checkpoint at ${dir}. Point at a run's best/ or latest/ folder.`);
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(() => true, () => false);
}

async function readModelJson(dir: string): Promise<{ path: string; json: Record<string, unknown>; meta: CharmerMetadata }> {
  const path = await resolveCheckpointDir(dir);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await fsp.readFile(join(path, 'model.json'), 'utf8'));
  } catch {
    throw new CharmerError('BAD_CHECKPOINT', `${join(path, 'model.json')} is damaged (not valid JSON). Use another checkpoint (best/ or latest/).`);
  }
  const meta = (json.userDefinedMetadata as { charmer?: CharmerMetadata } | undefined)?.charmer;
  if (!meta || meta.format !== 'charmer-1' || !Array.isArray(meta.vocab)) {
    throw new CharmerError('BAD_CHECKPOINT', `${path} holds a TF.js model but not a Charmer one (no vocabulary in its metadata).`);
  }
  return { path, json, meta };
}

export function specFromMeta(meta: CharmerMetadata): ModelSpec {
  const c = meta.config;
  return { cell: c.model, vocabSize: meta.vocab.length, embeddingSize: c.embeddingSize || c.rnnSize, hidden: c.rnnSize, layers: c.numLayers, dropout: c.dropout };
}

export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const { path, meta } = await readModelJson(dir);
  const spec = specFromMeta(meta);
  const st = await fsp.stat(join(path, 'weights.bin')).catch(() => null);
  if (!st) throw new CharmerError('BAD_CHECKPOINT', `${path} is missing weights.bin (deleted by hand?). Use another checkpoint.`);
  return { path, meta, spec, params: st.size / 4, sizeBytes: st.size, hasTrainerState: await exists(join(path, 'trainer.json')) };
}

/** Load a checkpoint; with `withTrainer`, also the optimizer/RNG state for resuming. */
export async function loadCheckpoint(dir: string, withTrainer = false): Promise<CheckpointData> {
  const { path, json, meta } = await readModelJson(dir);
  const manifest = json.weightsManifest as Array<{ weights: tf.io.WeightsManifestEntry[] }>;
  let weightData: Buffer;
  try {
    weightData = await fsp.readFile(join(path, 'weights.bin'));
  } catch {
    throw new CharmerError('BAD_CHECKPOINT', `${path} is missing weights.bin (deleted by hand?). Use another checkpoint.`);
  }
  const specs = manifest.flatMap((g) => g.weights);
  const expected = specs.reduce((s, w) => s + w.shape.reduce((p, d) => p * d, 1) * 4, 0);
  if (weightData.length !== expected) {
    throw new CharmerError('BAD_CHECKPOINT', `${join(path, 'weights.bin')} has ${weightData.length} bytes but the model needs ${expected}: the file is damaged.`);
  }
  const net = await tfl.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology as object,
      weightSpecs: specs,
      weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.length) as ArrayBuffer,
    }),
  });
  const model = new CharModel(specFromMeta(meta), net, Vocabulary.fromList(meta.vocab), meta);
  const out: CheckpointData = { model };
  if (await exists(join(path, 'items.json'))) out.items = JSON.parse(await fsp.readFile(join(path, 'items.json'), 'utf8'));
  if (withTrainer) {
    const state = JSON.parse(await fsp.readFile(join(path, 'trainer.json'), 'utf8').catch(() => {
      throw new CharmerError('BAD_CHECKPOINT', `${path} has no trainer state, so training cannot resume from it exactly. Use --init-from to fine-tune from it.`);
    })) as TrainerState;
    const bin = await fsp.readFile(join(path, 'optimizer.bin'));
    const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
    let off = 0;
    const take = (shape: number[]) => {
      const n = shape.reduce((p, d) => p * d, 1);
      const a = floats.slice(off, off + n);
      off += n;
      return a;
    };
    const slots = state.optimizer.slotShapes.map(take);
    const carry = state.carryShapes.map(take);
    out.trainer = { state, optimizer: { name: state.optimizer.name, step: state.optimizer.step, slots }, carry };
  }
  return out;
}
