import type { Command } from '../command.ts';
import { benchCommand } from './bench.ts';
import { baselineCommand } from './baseline.ts';
import { infoCommand } from './info.ts';
import { sampleCommand } from './sample.ts';
import { trainCommand } from './train.ts';
import { galleryCommand } from './gallery.ts';
import { resumeCommand } from './resume.ts';
import { runsCommand } from './runs.ts';
import { serve } from './serve.ts';
import { corporaCommand } from './corpora.ts';
import { modelsCommand } from './models.ts';

/** Every subcommand, in the order --help lists them. */
export const commands: Command[] = [
  trainCommand,
  sampleCommand,
  corporaCommand,
  infoCommand,
  baselineCommand,
  resumeCommand,
  runsCommand,
  modelsCommand,
  galleryCommand,
  serve,
  benchCommand,
];
