import type { Command } from '../command.ts';
import { galleryCommand } from './gallery.ts';
import { resumeCommand } from './resume.ts';
import { runsCommand } from './runs.ts';
import { serve } from './serve.ts';

/** Every subcommand, in the order --help lists them. */
export const commands: Command[] = [resumeCommand, runsCommand, galleryCommand, serve];
