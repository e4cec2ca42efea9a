/**
 * The checkpoint format on disk, declared once: the engine writes and reads it
 * (src/engine/checkpoint.ts), the store reconciles its rows with it after a crash without loading a
 * model (src/store/recovery.ts), the services copy and inspect it. A checkpoint is a folder holding an
 * ordinary TF.js LayersModel (model.json + weights.bin, Charmer's metadata inside model.json under
 * userDefinedMetadata.charmer), plus the trainer's state for an exact resume and, in lines mode, the
 * corpus items.
 */

/** The files of a checkpoint folder. model.json is written last: a folder holding it is complete. */
export const CHECKPOINT_FILES = {
  model: 'model.json',
  weights: 'weights.bin',
  trainerState: 'trainer.json',
  optimizer: 'optimizer.bin',
  items: 'items.json',
} as const;

/** The files only an exact resume needs; fine-tuning from a checkpoint needs the rest. */
export const RESUME_ONLY_FILES: readonly string[] = [CHECKPOINT_FILES.trainerState, CHECKPOINT_FILES.optimizer];

/** The metadata version written into model.json; readers refuse anything else. */
export const CHECKPOINT_FORMAT = 'charmer-1';

/** The two checkpoints of a run, each a folder of that name in the run's folder. */
export const CHECKPOINT_KINDS = ['best', 'latest'] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

/**
 * A checkpoint is written into a temporary sibling, the previous one renamed to its `.old` twin, then
 * the new one renamed into place. Killed between the two renames, only the `.old` twin is complete.
 */
export const oldTwinName = (name: string): string => `.${name}.old`;
export const tempSiblingName = (name: string, pid: number, time: number): string => `.${name}.tmp-${pid}-${time}`;
/** Leftover temporary siblings of a run's checkpoints (a crash mid-write), to remove. */
export const TEMP_SIBLING = /^\.(best|latest)\.tmp-/;

/** Charmer's part of model.json (userDefinedMetadata.charmer; older files put it at the top level). */
export function charmerMetadataOf(modelJson: Record<string, unknown>): Record<string, unknown> | undefined {
  const meta = (modelJson.userDefinedMetadata as Record<string, unknown> | undefined)?.charmer ?? modelJson.charmer;
  return meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : undefined;
}

/** The weight files model.json's manifest lists. */
export function weightFilesOf(modelJson: Record<string, unknown>): string[] {
  return (modelJson.weightsManifest as Array<{ paths?: string[] }> | undefined)?.flatMap((g) => g.paths ?? []) ?? [];
}
