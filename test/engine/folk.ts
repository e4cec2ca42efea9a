/** A two-category list for tests: elves written with a, e, i, l, n; dwarves with b, g, o, r, u. */
import { Rng } from '../../src/engine/rng.ts';

export const ELF = 'aeiln';
export const DWARF = 'bgoru';

export function twoKindCsv(perKind = 150, seed = 7): string {
  const rng = new Rng(seed);
  const word = (letters: string) => {
    const n = 3 + Math.floor(rng.next() * 4);
    let s = '';
    for (let i = 0; i < n; i++) s += letters[Math.floor(rng.next() * letters.length)];
    return s[0]!.toUpperCase() + s.slice(1);
  };
  const rows = ['name,kind,size'];
  for (let i = 0; i < perKind; i++) rows.push(`${word(ELF)},elf,${i % 2 ? 'tall' : 'short'}`, `${word(DWARF)},dwarf,${i % 2 ? 'tall' : 'short'}`);
  return rows.join('\n') + '\n';
}

/**
 * Two kinds that share one alphabet and differ only in how often they use each half of it: each
 * letter of an elf name is an elf letter with probability `lean`, else a dwarf letter (and the
 * other way round for dwarves). Even a perfect model writes elves with only that share of elf
 * letters, so what guidance adds shows.
 */
export function leaningKindCsv(perKind = 200, lean = 0.7, seed = 11): string {
  const rng = new Rng(seed);
  const word = (own: string, other: string) => {
    const n = 4 + Math.floor(rng.next() * 3);
    let s = '';
    for (let i = 0; i < n; i++) {
      const set = rng.next() < lean ? own : other;
      s += set[Math.floor(rng.next() * set.length)];
    }
    return s[0]!.toUpperCase() + s.slice(1);
  };
  const rows = ['name,kind,size'];
  for (let i = 0; i < perKind; i++) rows.push(`${word(ELF, DWARF)},elf,${i % 2 ? 'tall' : 'short'}`, `${word(DWARF, ELF)},dwarf,${i % 2 ? 'tall' : 'short'}`);
  return rows.join('\n') + '\n';
}
