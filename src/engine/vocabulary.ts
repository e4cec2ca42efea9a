/**
 * The characters a model knows, sorted by code point so the same text always gives the same
 * vocabulary. A "character" is a Unicode code point: emoji, accented letters and CJK are one each.
 * In lines mode '\n' is part of the vocabulary and marks the start and end of every item.
 */
import { CharmerError } from './errors.ts';

/** Above this, a "character" model is really a word model or the file is not text. */
export const MAX_VOCAB = 10_000;

export class Vocabulary {
  readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  constructor(chars: Iterable<string>) {
    const sorted = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (sorted.length > MAX_VOCAB) {
      throw new CharmerError(
        'VOCAB_TOO_LARGE',
        `The text has ${sorted.length.toLocaleString('en-US')} distinct characters; Charmer handles at most ${MAX_VOCAB.toLocaleString('en-US')}. ` +
          'Is it really text in one language? Split it, or remove unusual symbols.',
      );
    }
    this.chars = sorted;
    this.index = new Map(sorted.map((c, i) => [c, i]));
  }

  get size(): number {
    return this.chars.length;
  }

  indexOf(ch: string): number {
    return this.index.get(ch) ?? -1;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /** Characters of `s` not in the vocabulary, each once, in order of appearance. */
  unknown(s: string): string[] {
    const out = new Set<string>();
    for (const ch of s) if (!this.index.has(ch)) out.add(ch);
    return [...out];
  }

  /** Indices of `s`; unknown characters are dropped when skipUnknown, else an error names them. */
  encode(s: string, skipUnknown = false): Uint16Array {
    const ids: number[] = [];
    for (const ch of s) {
      const i = this.index.get(ch);
      if (i !== undefined) ids.push(i);
      else if (!skipUnknown) throw unknownCharactersError(this.unknown(s));
    }
    return Uint16Array.from(ids);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]!] ?? '';
    return s;
  }

  toJSON(): string[] {
    return [...this.chars];
  }

  /** A vocabulary that keeps every index of this one and appends new characters at the end (fine-tuning). */
  extendedWith(chars: Iterable<string>): { vocab: Vocabulary; added: string[] } {
    const added = [...new Set(chars)].filter((c) => !this.index.has(c)).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const v = Object.create(Vocabulary.prototype) as Vocabulary;
    const all = [...this.chars, ...added];
    Object.assign(v, { chars: all, index: new Map(all.map((c, i) => [c, i])) });
    return { vocab: v, added };
  }

  /** Rebuild exactly (order preserved) from a saved list. */
  static fromList(chars: string[]): Vocabulary {
    const v = Object.create(Vocabulary.prototype) as Vocabulary;
    Object.assign(v, { chars: [...chars], index: new Map(chars.map((c, i) => [c, i])) });
    return v;
  }
}

export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (cp < 32 || cp === 127) return hex;
  return `"${ch}" (${hex})`;
}

export function unknownCharactersError(chars: string[]): CharmerError {
  const list = chars.slice(0, 10).map(describeChar).join(', ');
  const more = chars.length > 10 ? ` and ${chars.length - 10} more` : '';
  return new CharmerError(
    'UNKNOWN_CHARACTERS',
    `The model has never seen ${chars.length === 1 ? 'this character' : 'these characters'}: ${list}${more}. ` +
      'Remove them from the prime text, or skip them (--skip-unknown).',
    { chars },
  );
}
