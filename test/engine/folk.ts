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
