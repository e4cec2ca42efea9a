/**
 * Categories for list corpora (one model, generation for any category or mix): each item is
 * written as one reserved token per category column, then the name, as in the classic conditional
 * char-RNN. Tokens are private-use code points (U+E000 on), so they join the vocabulary as ordinary
 * symbols but can never be typed or occur in a name; sampling forces or chooses them, and bans them
 * inside the name, so they never appear in generated text.
 *
 * Tables (CSV or TSV with a header row) give the names and the category columns.
 */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import type { Corpus } from './corpus.ts';
import { corpusFromString } from './corpus.ts';
import { CharmerError } from './errors.ts';

export const TOKEN_BASE = 0xe000;
const TOKEN_END = 0xf8ff;
/** More values than this in a "category" column means it is not one (a name or id column chosen by mistake). */
export const MAX_CATEGORY_VALUES = 200;

export interface CategoryColumn {
  name: string;
  values: string[];
  /** The reserved token of each value, same order. */
  tokens: string[];
}

export interface CategorySpec {
  columns: CategoryColumn[];
}

export function isCategoryToken(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  return cp >= TOKEN_BASE && cp <= TOKEN_END;
}

export function stripCategoryTokens(s: string): string {
  return [...s].filter((c) => !isCategoryToken(c)).join('');
}

export function buildCategorySpec(columns: Array<{ name: string; values: string[] }>): CategorySpec {
  let next = TOKEN_BASE;
  return {
    columns: columns.map((c) => ({ name: c.name, values: [...c.values], tokens: c.values.map(() => String.fromCodePoint(next++)) })),
  };
}

// ----------------------------------------------------------------------------------- tables

export interface Table {
  /** The file's name, for messages. */
  name: string;
  header: string[];
  rows: string[][];
  /** 1-based line of each row in the file. */
  lines: number[];
}

/** CSV (RFC 4180 quoting) or TSV, chosen by the header line: a tab means TSV. */
export function parseTable(text: string, name = 'the table'): Table {
  text = text.replace(/^\uFEFF/, '');
  const firstLine = text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length);
  const delim = firstLine.includes('\t') ? '\t' : firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
  const records: Array<{ cells: string[]; line: number }> = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"' && cell === '' && delim !== '\t') quoted = true;
    else if (ch === delim) {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      records.push({ cells, line: recordLine });
      cells = [];
      cell = '';
      line++;
      recordLine = line;
    } else cell += ch;
  }
  if (quoted)
    throw new CharmerError('BAD_TABLE', `${name} has a quote (") opened on line ${recordLine} that is never closed. Fix the quoting and import it again.`);
  if (cell !== '' || cells.length) {
    cells.push(cell);
    records.push({ cells, line: recordLine });
  }
  const nonBlank = records.filter((r) => r.cells.some((c) => c.trim() !== ''));
  if (nonBlank.length === 0) throw new CharmerError('EMPTY_CORPUS', `${name} is empty: it needs a header row and at least one row of names.`);
  const header = nonBlank[0]!.cells.map((h) => h.trim());
  return { name, header, rows: nonBlank.slice(1).map((r) => r.cells.map((c) => c.trim())), lines: nonBlank.slice(1).map((r) => r.line) };
}

function columnIndex(t: Table, col: string, role: string): number {
  const i = t.header.findIndex((h) => h.toLowerCase() === col.trim().toLowerCase());
  if (i < 0) {
    throw new CharmerError(
      'MISSING_COLUMN',
      `${t.name} has no column "${col}" (asked for as the ${role}). Its columns are: ${t.header.map((h) => `"${h}"`).join(', ')}. Choose one of those.`,
      { column: col, columns: t.header },
    );
  }
  return i;
}

export interface TableItemsOptions {
  /** The name column; default: one called name/title/brand/item, else the first. */
  nameColumn?: string;
  /** Category columns, in the order their tokens are written. */
  categories: string[];
}

export interface TableItems {
  nameColumn: string;
  names: string[];
  /** Per item, its value in each category column (same order as `columns`). */
  values: string[][];
  columns: Array<{ name: string; values: string[] }>;
}

/** The names and category values of a table, checked: every chosen column exists, no category cell is empty. */
export function tableItems(t: Table, opts: TableItemsOptions): TableItems {
  if (t.header.length < 1 || t.header.every((h) => h === '')) throw new CharmerError('BAD_TABLE', `${t.name} has no header row naming its columns.`);
  const nameIdx = opts.nameColumn
    ? columnIndex(t, opts.nameColumn, 'name column')
    : Math.max(
        0,
        t.header.findIndex((h) => /^(name|title|brand|item)s?$/i.test(h)),
      );
  const seen = new Set<string>();
  const catIdx = opts.categories.map((c) => {
    if (c.trim() === '') throw new CharmerError('BAD_OPTION', 'A category column name is empty. Name the columns, for example --categories sex,decade.');
    const i = columnIndex(t, c, 'category column');
    if (i === nameIdx) throw new CharmerError('BAD_OPTION', `"${t.header[i]}" is the name column; it cannot also be a category.`);
    if (seen.has(t.header[i]!)) throw new CharmerError('BAD_OPTION', `The category column "${t.header[i]}" is listed twice.`);
    seen.add(t.header[i]!);
    return i;
  });
  const names: string[] = [];
  const values: string[][] = [];
  const distinct = catIdx.map(() => new Set<string>());
  t.rows.forEach((row, r) => {
    const name = row[nameIdx] ?? '';
    if (name === '') {
      if (row.every((c) => c === '')) return;
      throw new CharmerError('EMPTY_NAME', `Line ${t.lines[r]} of ${t.name} has no name in column "${t.header[nameIdx]}". Fill it in or remove the line.`, {
        line: t.lines[r],
      });
    }
    if ([...name].some(isCategoryToken)) {
      throw new CharmerError(
        'BAD_TABLE',
        `Line ${t.lines[r]} of ${t.name} holds private-use characters (U+E000-U+F8FF), which Charmer reserves for categories. Remove them.`,
        { line: t.lines[r] },
      );
    }
    const v = catIdx.map((i, k) => {
      const cell = row[i] ?? '';
      if (cell === '') {
        throw new CharmerError(
          'EMPTY_CATEGORY',
          `Line ${t.lines[r]} of ${t.name} ("${name}") has no value in the category column "${t.header[i]}". Every item needs a value in each category column: fill it in, or remove the line.`,
          { line: t.lines[r], column: t.header[i] },
        );
      }
      distinct[k]!.add(cell);
      return cell;
    });
    names.push(name);
    values.push(v);
  });
  if (names.length === 0) throw new CharmerError('EMPTY_CORPUS', `${t.name} has a header but no names under it.`);
  const columns = catIdx.map((i, k) => {
    const vals = [...distinct[k]!].sort(naturalCompare);
    if (vals.length > MAX_CATEGORY_VALUES) {
      throw new CharmerError(
        'TOO_MANY_CATEGORY_VALUES',
        `The column "${t.header[i]}" of ${t.name} has ${vals.length.toLocaleString('en-US')} different values; a category column has a few (at most ${MAX_CATEGORY_VALUES}), such as "elf / dwarf". Is it the name column?`,
        { column: t.header[i] },
      );
    }
    return { name: t.header[i]!, values: vals };
  });
  return { nameColumn: t.header[nameIdx]!, names, values, columns };
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** A normalised TSV of a table's items: the name column, then the chosen category columns (what the library stores). */
export function itemsToTsv(items: TableItems): string {
  const clean = (s: string) => s.replace(/[\t\r\n]/g, ' ');
  const lines = [[items.nameColumn, ...items.columns.map((c) => c.name)].map(clean).join('\t')];
  items.names.forEach((n, i) => lines.push([n, ...items.values[i]!].map(clean).join('\t')));
  return lines.join('\n') + '\n';
}

/** A lines-mode corpus whose items are written as category tokens + name, with the spec attached. */
export function categorisedCorpus(items: TableItems, name: string): Corpus {
  const spec = buildCategorySpec(items.columns);
  const tokenOf = spec.columns.map((c) => new Map(c.values.map((v, i) => [v, c.tokens[i]!])));
  const text = items.names.map((n, i) => items.values[i]!.map((v, k) => tokenOf[k]!.get(v)!).join('') + n).join('\n') + '\n';
  const corpus = corpusFromString(text, { mode: 'lines', name });
  corpus.categories = spec;
  return corpus;
}

/** Load a CSV/TSV file as a categorised corpus. */
export async function loadTableCorpus(path: string, opts: TableItemsOptions): Promise<Corpus> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch {
    throw new CharmerError('FILE_NOT_FOUND', `There is no file at ${path}. Check the path.`, { path });
  }
  const name = basename(path);
  return categorisedCorpus(tableItems(parseTable(text, name), opts), name);
}

// ---------------------------------------------------------------------------- choosing values

/**
 * Resolve what a person asked for ("F", "1920s", "sex=F") against a model's categories: per
 * column, the token indices allowed (all of the column's when nothing in it was asked). Unknown or
 * empty values are refused with the values the model knows.
 */
export function resolveCategoryRequest(spec: CategorySpec | undefined, asked: readonly string[]): { allowed: string[][]; asked: Record<string, string[]> } {
  const wanted = asked.map((a) => a.trim());
  if (!spec || spec.columns.length === 0) {
    if (wanted.length) {
      throw new CharmerError(
        'NO_CATEGORIES',
        `This model was trained without categories, so it cannot generate for "${wanted[0]}". Train on a list with category columns (--categories).`,
      );
    }
    return { allowed: [], asked: {} };
  }
  const picked = spec.columns.map(() => new Set<number>());
  for (const w of wanted) {
    if (w === '') {
      throw new CharmerError('EMPTY_CATEGORY', `A category is empty. Give a value the model knows: ${listValues(spec)}.`);
    }
    const eq = w.indexOf('=');
    const colName = eq > 0 ? w.slice(0, eq).trim().toLowerCase() : null;
    const value = eq > 0 ? w.slice(eq + 1).trim() : w;
    let hit = false;
    spec.columns.forEach((c, k) => {
      if (colName !== null && c.name.toLowerCase() !== colName) return;
      const i =
        c.values.findIndex((v) => v === value) >= 0
          ? c.values.findIndex((v) => v === value)
          : c.values.findIndex((v) => v.toLowerCase() === value.toLowerCase());
      if (i >= 0) {
        picked[k]!.add(i);
        hit = true;
      }
    });
    if (!hit) {
      if (colName !== null && !spec.columns.some((c) => c.name.toLowerCase() === colName)) {
        throw new CharmerError(
          'UNKNOWN_CATEGORY',
          `The model has no category column "${w.slice(0, eq).trim()}". Its columns: ${spec.columns.map((c) => c.name).join(', ')}.`,
        );
      }
      throw new CharmerError('UNKNOWN_CATEGORY', `The model never saw the category "${value}". It knows: ${listValues(spec)}.`, { category: value });
    }
  }
  const askedOut: Record<string, string[]> = {};
  const allowed = spec.columns.map((c, k) => {
    const p = picked[k]!;
    if (p.size) askedOut[c.name] = [...p].map((i) => c.values[i]!);
    return (p.size ? [...p] : c.values.map((_, i) => i)).map((i) => c.tokens[i]!);
  });
  return { allowed, asked: askedOut };
}

function listValues(spec: CategorySpec): string {
  return spec.columns.map((c) => `${c.name} (${c.values.slice(0, 20).join(', ')}${c.values.length > 20 ? ', ...' : ''})`).join('; ');
}

/** The category values written in front of an item (its leading tokens), by column name. */
export function categoriesOfItem(spec: CategorySpec, tokens: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ch of tokens) {
    for (const c of spec.columns) {
      const i = c.tokens.indexOf(ch);
      if (i >= 0) out[c.name] = c.values[i]!;
    }
  }
  return out;
}
