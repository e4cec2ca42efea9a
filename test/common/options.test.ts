/**
 * Every declared training option (src/common/options.ts) reaches each place derived from the
 * declarations: the real command line's --help (in its group, with its help, choices and default),
 * the contract's schema (accepting the default, refusing a value past a limit with the option's
 * own sentence) and the engine's validation. The Advanced form is checked by rendering it
 * (test/renderer/train.test.ts, "shows every declared option").
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG,
  OPTION_GROUPS,
  OPTION_LIST,
  optionProblem,
  type OptionDescriptor,
  type OptionKey,
  type TrainConfig,
} from '../../src/common/options.ts';
import { contract } from '../../src/api/contract.ts';
import { resolveConfig } from '../../src/engine/train.ts';
import { isCharmerError } from '../../src/engine/errors.ts';

const BIN = resolve(__dirname, '../../bin/charmer.js');

/** A value just past one of the option's limits, or a word that is not a choice; undefined when it has none. */
function outside(o: OptionDescriptor): number | string | undefined {
  if (o.choices) return 'no-such-choice';
  if (o.min !== undefined) return o.min - 1;
  if (o.above !== undefined) return o.above;
  if (o.max !== undefined) return o.max + 1;
  if (o.below !== undefined) return o.below;
  if (o.integer) return 1.5;
  return undefined;
}

describe('every declared option', () => {
  it('is in `charmer train --help`, in its group, with its help, choices and default', () => {
    const r = spawnSync(process.execPath, [BIN, 'train', '--help'], {
      encoding: 'utf8',
      env: { ...process.env, CHARMER_DATA_DIR: mkdtempSync(join(tmpdir(), 'charmer-opts-')) },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // The help's sections: "Data:", "Model:", ... each followed by its flags.
    const sections = new Map<string, string>();
    for (const part of r.stdout.split(/\n(?=[A-Z][a-z]+:\n)/)) {
      const [head, ...rest] = part.split('\n');
      sections.set(head!.replace(/:$/, '').toLowerCase(), rest.join('\n'));
    }
    expect(OPTION_GROUPS.every((g) => sections.has(g))).toBe(true);
    for (const o of OPTION_LIST) {
      const line = sections
        .get(o.group)!
        .split('\n')
        .find((l) => l.trimStart().startsWith(`--${o.flag} `));
      expect(line, `--${o.flag} under ${o.group}`).toBeDefined();
      expect(line).toContain(o.help);
      expect(line).toContain(`(default: ${o.default})`);
      if (o.choices) expect(line).toContain(o.choices.join('|'));
    }
  });

  it('is in the contract: runs.start takes its default and refuses a value past its limits, with its sentence', () => {
    const start = contract.runs.start.input;
    for (const o of OPTION_LIST) {
      expect(start.safeParse({ corpusId: 1, config: { [o.key]: o.default } }).success, o.key).toBe(true);
      const bad = outside(o);
      if (bad === undefined) continue;
      const r = start.safeParse({ corpusId: 1, config: { [o.key]: bad } });
      expect(r.success, `${o.key}: ${bad}`).toBe(false);
      expect(r.error!.issues[0]!.message).toBe(optionProblem(o.key as OptionKey, bad));
      expect(r.error!.issues[0]!.message).toMatch(new RegExp(`^${o.flag} `));
    }
    expect(start.safeParse({ corpusId: 1, config: { noSuchOption: 1 } }).success).toBe(false);
  });

  it('is checked by the engine with the same sentence', () => {
    for (const o of OPTION_LIST) {
      const bad = outside(o);
      if (bad === undefined) continue;
      let caught: unknown;
      try {
        resolveConfig({ [o.key]: bad });
      } catch (e) {
        caught = e;
      }
      expect(isCharmerError(caught) && caught.code, o.key).toBe('BAD_OPTION');
      expect((caught as Error).message).toBe(optionProblem(o.key as OptionKey, bad));
    }
  });

  it('takes its default where a configuration was written before it was declared (resuming an older checkpoint)', () => {
    for (const o of OPTION_LIST) {
      const older: Record<string, unknown> = { ...DEFAULT_CONFIG, mode: 'lines' };
      delete older[o.key];
      const c = resolveConfig({}, older as unknown as TrainConfig);
      expect(c[o.key as OptionKey], o.key).toBe(o.key === 'mode' ? DEFAULT_CONFIG.mode : o.default);
      if (o.key !== 'mode') expect(c.mode).toBe('lines');
    }
  });
});
