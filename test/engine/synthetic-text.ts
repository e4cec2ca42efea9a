/**
 * Texts where one attention pattern is the only way to predict: in `previousCharText` each line
 * starts with two random letters, and from then on every letter is a fixed function of the one two
 * back (c[t+1] = f(c[t-1])), so a model must look at the previous character to predict the next.
 */
import { Rng } from '../../src/engine/rng.ts';

export function previousCharText(length: number, seed: number): string {
  const rng = new Rng(seed);
  const letters = 'abcdefgh';
  const f = (c: string) => letters[(letters.indexOf(c) * 3 + 1) % letters.length]!;
  let s = '';
  while (s.length < length) {
    let line = letters[rng.int(letters.length)]! + letters[rng.int(letters.length)]!;
    const n = 20 + rng.int(20);
    while (line.length < n) line += f(line.at(-2)!);
    s += line + '\n';
  }
  return s;
}
