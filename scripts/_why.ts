import { readFileSync } from 'node:fs';
import { lookupName } from '../src/engine/namedata.ts';
const f = process.argv[2]!; const want = process.argv[3] as 'F' | 'M';
const lines = readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const known = lines.filter((l: any) => l.known);
const wrong = known.filter((l: any) => l.known.sex !== want);
let inCorpus = 0, unisex = 0, rare = 0;
const ex: string[] = [];
for (const l of wrong) {
  const k = lookupName(l.text)!;
  const own = k[want]?.births ?? 0; const tot = k.births;
  if (own * 3 >= tot) inCorpus++;
  if (own / tot >= 0.1) unisex++;
  if (tot < 1000) rare++;
  ex.push(`${l.text}(${tot},${(own / tot).toFixed(2)})`);
}
console.log(`${f}: known ${known.length}, wrong sex ${wrong.length}; listed under ${want} in training (>=1/3 of births) ${inCorpus}, >=10% ${want} ${unisex}, <1000 births in all ${rare}`);
console.log(ex.slice(0, 25).join(' '));
