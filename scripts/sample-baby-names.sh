#!/bin/sh
# The six `charmer sample` runs behind docs/NAMES.md's baby-name figures, then their figures:
#   scripts/sample-baby-names.sh CHECKPOINT OUTDIR [TEMPERATURE for the category runs, default 1] [GUIDANCE for them, default charmer's]
CK=$1; O=$2; T=${3:-1}; G=${4:+--guidance $4}
mkdir -p "$O"
c() { node bin/charmer.js sample "$CK" --count 1000 --temperature "$T" --seed 1 --json $G "$@"; }
c --category F > "$O/F.jsonl"
c --category M > "$O/M.jsonl"
c --category 1920s > "$O/1920s.jsonl"
c --category 2010s > "$O/2010s.jsonl"
node bin/charmer.js sample "$CK" --count 1000 --temperature 1 --seed 1 --json > "$O/t1.jsonl"
node bin/charmer.js sample "$CK" --count 1000 --temperature 1 --seed 1 --json --new-only > "$O/new-only.jsonl"
npx tsx scripts/measure-names.ts baby "$O/F.jsonl" "$O/M.jsonl" "$O/1920s.jsonl" "$O/2010s.jsonl" "$O/t1.jsonl" "$O/new-only.jsonl"
