import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CharmerError, corpusFromString, corpusItems, guessMode, loadCorpus, splitCorpus, MAX_VOCAB } from '../../src/engine/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'charmer-corpus-'));
const file = (name: string, data: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<CharmerError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CharmerError);
  expect((e as CharmerError).code).toBe(code);
  expect((e as CharmerError).message).toMatch(pattern);
  return e as CharmerError;
}

const UNICODE = 'Zoë and 李白 wrote 👩‍👩‍👧 poems.\r\nCafe\u0301 — “quoted” 🎉\n';

describe('corpus', () => {
  it('reads code points: emoji, accents, CJK and combining marks round-trip exactly, CRLF kept', async () => {
    const c = corpusFromString(UNICODE);
    expect(c.vocab.decode(c.text!)).toBe(UNICODE);
    expect(c.length).toBe([...UNICODE].length);
    expect(c.vocab.chars).toContain('🎉');
    expect(c.vocab.chars).toContain('\u0301');
    expect(c.vocab.chars).toContain('\r');
    const fromFile = await loadCorpus(file('u.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(UNICODE)])));
    expect(fromFile.vocab.decode(fromFile.text!)).toBe(UNICODE); // BOM dropped
    expect(fromFile.vocab.chars).toEqual([...fromFile.vocab.chars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  });

  it('decodes a character split across two read chunks, with progress events', async () => {
    const pad = 'a'.repeat((4 << 20) - 2);
    const text = `${pad}😀b`;
    const events: number[] = [];
    const c = await loadCorpus(file('big.txt', text), { onProgress: (p) => events.push(p.bytesRead) });
    expect(c.length).toBe(pad.length + 2);
    expect(c.vocab.decode(c.text!.subarray(pad.length))).toBe('😀b');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toBe(Buffer.byteLength(text));
    expect(c.text!.BYTES_PER_ELEMENT).toBe(2);
  });

  it('lines mode: one item per non-blank line, CR stripped, newline is the marker', () => {
    const c = corpusFromString('Anna\r\nBob\n\n  \nCléo\n', { mode: 'lines' });
    expect(c.lines).toBe(3);
    expect(corpusItems(c).map((it) => c.vocab.decode(it))).toEqual(['Anna', 'Bob', 'Cléo']);
    expect(c.vocab.chars[0]).toBe('\n');
    expect(c.vocab.chars).not.toContain('\r');
  });

  it('the built-in names corpus has about 8,400 unique names', async () => {
    const c = await loadCorpus('names', { mode: 'lines' });
    expect(c.lines).toBeGreaterThan(8000);
    expect(c.lines).toBeLessThan(9000);
    const names = corpusItems(c).map((it) => c.vocab.decode(it));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('Abigail');
  });

  it('splits deterministically: the tail in text mode, a seeded subset in lines mode', () => {
    const t = corpusFromString('abcdefghij'.repeat(10));
    const { train, val } = splitCorpus(t, 0.1);
    expect(train.mode === 'text' && train.data.length).toBe(90);
    expect(val.mode === 'text' && t.vocab.decode(val.data)).toBe('abcdefghij');
    const l = corpusFromString(Array.from({ length: 100 }, (_, i) => `item${i}`).join('\n'), { mode: 'lines' });
    const a = splitCorpus(l, 0.1, 7);
    const b = splitCorpus(l, 0.1, 7);
    const c = splitCorpus(l, 0.1, 8);
    const names = (s: typeof a.val) => (s.mode === 'lines' ? s.items.map((it) => l.vocab.decode(it)) : []);
    expect(names(a.val)).toHaveLength(10);
    expect(names(a.val)).toEqual(names(b.val));
    expect(names(a.val)).not.toEqual(names(c.val));
    expect(names(a.train).some((n) => names(a.val).includes(n))).toBe(false);
  });

  it('guesses lines mode for lists and text mode for prose', () => {
    expect(guessMode(Array.from({ length: 50 }, (_, i) => `Name${i}`).join('\n'))).toBe('lines');
    expect(guessMode('It was a dark and stormy night; the rain fell in torrents. '.repeat(40))).toBe('text');
  });

  describe('bad input gets one clear error', () => {
    it('missing file', () => rejects(loadCorpus(join(dir, 'nope.txt')), 'FILE_NOT_FOUND', /no file at .*nope\.txt/));
    it('a directory', () => {
      mkdirSync(join(dir, 'folder'), { recursive: true });
      return rejects(loadCorpus(join(dir, 'folder')), 'IS_DIRECTORY', /is a folder/);
    });
    it('an empty file', () => rejects(loadCorpus(file('empty.txt', '')), 'EMPTY_CORPUS', /is empty/));
    it('a binary file (NUL bytes), naming the offset', async () => {
      const e = await rejects(loadCorpus(file('bin.dat', Buffer.from([72, 105, 0, 1, 2]))), 'BINARY_FILE', /not a text file.*byte offset 2/);
      expect(e.details.byteOffset).toBe(2);
    });
    it('invalid UTF-8, naming the byte offset', () =>
      rejects(loadCorpus(file('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x21]))), 'INVALID_UTF8', /byte offset 3/));
    it('a truncated character at the end', () =>
      rejects(loadCorpus(file('cut.txt', Buffer.from([0x61, 0xf0, 0x9f]))), 'INVALID_UTF8', /ends in the middle of a character/));
    it('a vocabulary over the limit', () => {
      const many = Array.from({ length: MAX_VOCAB + 5 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
      return rejects(loadCorpus(file('cjk.txt', many)), 'VOCAB_TOO_LARGE', /more than 10,000 distinct characters/);
    });
    it('a lines-mode item that is really prose', () => {
      expect(() => corpusFromString(`short\n${'x'.repeat(600)}\n`, { mode: 'lines' })).toThrow(/Line 2 .* 600 characters.*text mode/);
    });
  });
});
