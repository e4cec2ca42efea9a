/**
 * Training presets (nanoGPT's config/*.py): each a few overrides of DEFAULT_CONFIG with a note
 * saying what it is for. Time estimates are measured by `charmer bench` on the machine at hand;
 * `estimate` here only scales a measured chars/s to the preset's budget.
 */
import type { TrainConfig } from '../options.ts';
import { namesFast } from './names-fast.ts';
import { writingMedium } from './writing-medium.ts';
import { writing15min } from './writing-15min.ts';
import { largeGpu } from './large-gpu.ts';
import { namesLarge } from './names-large.ts';

export interface Preset {
  id: string;
  label: string;
  description: string;
  config: Partial<TrainConfig>;
}

export const PRESETS: readonly Preset[] = [namesFast, namesLarge, writingMedium, writing15min, largeGpu];

export function findPreset(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
