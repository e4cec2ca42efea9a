/**
 * Files that say what they hold: no source file in src/ over 450 lines and no function over 120
 * lines, except the few named in EXCEPTIONS (docs/ARCHITECTURE.md lists them and says why). Function
 * lengths come from the TypeScript compiler's syntax tree; .svelte files are measured by line count.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

export const MAX_FILE_LINES = 450;
export const MAX_FUNCTION_LINES = 120;

/** Allowed to exceed a limit, each with the reason (keep docs/ARCHITECTURE.md in step). */
export const EXCEPTIONS: Record<string, string> = {};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|mjs|js|svelte)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export interface FunctionSize {
  name: string;
  line: number;
  lines: number;
}

const lineOf = (sf: ts.SourceFile, pos: number) => sf.getLineAndCharacterOfPosition(pos).line;

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const n = (node as { name?: ts.Node }).name;
  if (n) return n.getText(sf);
  const p = node.parent;
  if (p && ts.isVariableDeclaration(p)) return p.name.getText(sf);
  if (p && ts.isPropertyAssignment(p)) return p.name.getText(sf);
  if (p && ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  return '(anonymous)';
}

/**
 * Every function's length in lines, from its first line to its last, less the lines of the classes
 * and object-literal methods inside it: a mixin (`function WithRuns(Base) { return class ... }`) or a
 * factory returning an object of methods (`createRunsService(store) { return { list() {...}, ... } }`)
 * is a class in all but syntax and is measured method by method, as a class would be. Other nested
 * functions (closures, callbacks) count towards the function that holds them.
 */
export function functionSizes(fileName: string, text: string): FunctionSize[] {
  const kind = /\.m?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const span = (n: ts.Node) => lineOf(sf, n.getEnd()) - lineOf(sf, n.getStart(sf)) + 1;
  const isMember = (n: ts.Node) =>
    ts.isObjectLiteralElementLike(n) &&
    ts.isObjectLiteralExpression(n.parent) &&
    (ts.isMethodDeclaration(n) ||
      ts.isAccessor(n) ||
      (ts.isPropertyAssignment(n) && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))));
  const memberLines = (node: ts.Node): number => {
    let n = 0;
    node.forEachChild(function walk(c) {
      if (ts.isClassLike(c) || isMember(c)) n += span(c);
      else c.forEachChild(walk);
    });
    return n;
  };
  const out: FunctionSize[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      out.push({ name: nameOf(node, sf), line: lineOf(sf, node.getStart(sf)) + 1, lines: span(node) - memberLines(node) });
    }
    node.forEachChild(visit);
  };
  visit(sf);
  return out;
}

/** What in src/ is over a limit, as readable lines ("src/x.ts: 500 lines"). */
export function oversize(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const rel = relative(ROOT, file).split('\\').join('/');
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_FILE_LINES && !(rel in EXCEPTIONS)) found.push(`${rel}: ${lines} lines (limit ${MAX_FILE_LINES})`);
    if (file.endsWith('.svelte')) continue;
    for (const f of functionSizes(file, text)) {
      const key = `${rel}#${f.name}`;
      if (f.lines > MAX_FUNCTION_LINES && !(key in EXCEPTIONS) && !(rel in EXCEPTIONS))
        found.push(`${key} (line ${f.line}): ${f.lines} lines (limit ${MAX_FUNCTION_LINES})`);
    }
  }
  return found;
}

describe('files that say what they hold', () => {
  it(`no file in src/ over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}, except those named`, () => {
    expect(oversize(sourceFiles(SRC))).toEqual([]);
  });

  it('measures a function by its own lines: nested functions count, a class or an object of methods it returns does not', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const long = `export function big() {\n${body(MAX_FUNCTION_LINES)}\n}\n`;
    const nested = `export function outer() {\n  function inner() {\n${body(MAX_FUNCTION_LINES)}\n  }\n  return inner;\n}\n`;
    const mixin = `export function WithX(Base) {\n  return class extends Base {\n    m() {\n${body(50)}\n    }\n    n() {\n${body(50)}\n    }\n    o() {\n${body(50)}\n    }\n  };\n}\n`;
    const factory = `export function createX() {\n  return {\n    m() {\n${body(50)}\n    },\n    n: () => {\n${body(50)}\n    },\n    o: function () {\n${body(50)}\n    },\n  };\n}\n`;
    const over = (text: string) =>
      functionSizes('probe.ts', text)
        .filter((f) => f.lines > MAX_FUNCTION_LINES)
        .map((f) => f.name);
    expect(over(long)).toEqual(['big']);
    expect(over(nested)).toEqual(['outer', 'inner']);
    expect(over(mixin)).toEqual([]);
    expect(over(factory)).toEqual([]);
    // The same methods measured one by one are each under the limit, and the check still sees them.
    expect(functionSizes('probe.ts', factory).map((f) => f.name)).toEqual(['createX', 'm', 'n', 'o']);
  });

  it('every exception still needs its place (a file or function brought under the limit leaves the list)', () => {
    const files = sourceFiles(SRC);
    const stale = Object.keys(EXCEPTIONS).filter((key) => {
      const [rel, fn] = key.split('#') as [string, string | undefined];
      const file = files.find((f) => relative(ROOT, f).split('\\').join('/') === rel);
      if (!file) return true;
      const text = readFileSync(file, 'utf8');
      if (fn) return !functionSizes(file, text).some((f) => f.name === fn && f.lines > MAX_FUNCTION_LINES);
      return text.split('\n').length <= MAX_FILE_LINES && !functionSizes(file, text).some((f) => f.lines > MAX_FUNCTION_LINES);
    });
    expect(stale).toEqual([]);
  });
});
