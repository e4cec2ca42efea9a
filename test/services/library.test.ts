import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { servicesPerTest } from './helpers.ts';

const { services, cleanup } = servicesPerTest();

describe('library', () => {
  it('has the built-in names corpus on first start', async () => {
    const { s } = await services();
    const list = await s.library.listCorpora();
    expect(list).toHaveLength(1);
    const names = list[0]!;
    expect(names).toMatchObject({ name: 'names', mode: 'lines', builtin: true });
    expect(names.lines).toBeGreaterThan(8000);
    const detail = await s.library.getCorpus(names.id);
    expect(detail.preview.split('\n')[0]).toMatch(/^[A-Z][a-z]+$/);
    expect(detail.charFrequency[0]!.char).toBe('\n');
    expect(fs.existsSync(detail.path)).toBe(true);
  });

  it('imports a file as a content-addressed copy and recognises the same content again', async () => {
    const { s, d } = await services();
    const src = path.join(d, '..', `${path.basename(d)}-poem.txt`);
    fs.writeFileSync(src, 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n');
    cleanup.push(() => fs.rmSync(src, { force: true }));
    const progress: number[] = [];
    const a = await s.library.importCorpus({ path: src }, { onProgress: (p) => progress.push(p.bytesRead) });
    expect(a.existed).toBe(false);
    expect(a.corpus).toMatchObject({ name: path.basename(src, '.txt'), mode: 'text', lines: 2, sourcePath: src });
    expect(a.corpus.chars).toBe([...fs.readFileSync(src, 'utf8')].length);
    expect(progress.at(-1)).toBe(fs.statSync(src).size);
    const copy = path.join(d, 'corpora', `${a.corpus.hash}.txt`);
    expect(fs.readFileSync(copy).equals(fs.readFileSync(src))).toBe(true);
    // the original moves or changes: the copy stays
    fs.appendFileSync(src, 'edited\n');
    expect((await s.library.getCorpus(a.corpus.id)).preview).not.toMatch(/edited/);
    fs.writeFileSync(src, fs.readFileSync(copy));
    const b = await s.library.importCorpus({ path: src, name: 'again' });
    expect(b).toMatchObject({ existed: true, corpus: { id: a.corpus.id } });
    expect(fs.readdirSync(path.join(d, 'corpora')).filter((f) => !f.startsWith('.'))).toHaveLength(2);
    const detail = await s.library.getCorpus(a.corpus.id);
    expect(detail.charFrequency.find((f) => f.char === '’')?.count).toBe(1);
  });

  it('guesses lines mode for lists and refuses what is not text', async () => {
    const { s, d } = await services();
    const list = Array.from({ length: 50 }, (_, i) => `Name${String.fromCharCode(97 + (i % 26))}`).join('\n');
    expect((await s.library.importCorpus({ text: list, name: 'list' })).corpus.mode).toBe('lines');
    const bad = path.join(d, 'bad.txt');
    fs.writeFileSync(bad, Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    await expect(s.library.importCorpus({ path: bad })).rejects.toMatchObject({ code: 'INVALID_UTF8' });
    fs.writeFileSync(bad, Buffer.from('ab\0cd'));
    await expect(s.library.importCorpus({ path: bad })).rejects.toMatchObject({ code: 'BINARY_FILE' });
    fs.writeFileSync(bad, '');
    await expect(s.library.importCorpus({ path: bad })).rejects.toMatchObject({ code: 'EMPTY_CORPUS' });
    await expect(s.library.importCorpus({ path: path.join(d, 'nope.txt') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(fs.readdirSync(path.join(d, 'corpora')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('deleting a corpus that runs use needs force, and then removes the runs and their folders', async () => {
    const { s, d } = await services();
    const { corpus } = await s.library.importCorpus({ text: 'some text to learn\n', name: 't' });
    await expect(s.library.getCorpus(999)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // a run recorded by another shell (no process here)
    const { openStore } = await import('../../src/store/index.ts');
    const store = openStore(d);
    const run = store.createRun({ corpusId: corpus.id, name: 'r', config: {}, status: 'completed' });
    store.close();
    fs.mkdirSync(path.join(d, 'runs', String(run.id), 'best'), { recursive: true });
    await expect(s.library.deleteCorpus(corpus.id)).rejects.toMatchObject({ code: 'CORPUS_IN_USE', details: { runs: [run.id] } });
    expect((await s.library.listCorpora()).find((c) => c.id === corpus.id)?.runCount).toBe(1);
    await s.library.deleteCorpus(corpus.id, { force: true });
    expect(await s.runs.listRuns()).toEqual([]);
    expect(fs.existsSync(path.join(d, 'runs', String(run.id)))).toBe(false);
    expect(fs.existsSync(path.join(d, 'corpora', `${corpus.hash}.txt`))).toBe(false);
  });
});

describe('drafts', () => {
  it('saves, updates, lists and deletes', async () => {
    const { s } = await services();
    const a = await s.drafts.saveDraft({ title: 'Chapter 1', text: 'It was a dark' });
    const b = await s.drafts.saveDraft({ id: a.id, title: 'Chapter 1', text: 'It was a dark and stormy night' });
    expect(b.id).toBe(a.id);
    expect((await s.drafts.getDraft(a.id)).text).toBe('It was a dark and stormy night');
    expect((await s.drafts.listDrafts()).map((x) => x.title)).toEqual(['Chapter 1']);
    await s.drafts.deleteDraft(a.id);
    await expect(s.drafts.getDraft(a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
