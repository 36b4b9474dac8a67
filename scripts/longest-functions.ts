// Prints the ten longest functions in src/ (lines, place, name). With --max N, exits 1 when any is longer than N.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Length {
  lines: number;
  where: string;
}

function lengths(file: string): Length[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Length[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name ? node.name.getText(source) : '(anonymous)';
      found.push({ lines: last - first + 1, where: `${file}:${first + 1} ${name}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const { values } = parseArgs({ options: { max: { type: 'string' } } });
const all = sources('src')
  .flatMap(lengths)
  .sort((a, b) => b.lines - a.lines);
for (const { lines, where } of all.slice(0, 10)) console.log(`${String(lines).padStart(4)}  ${where}`);
if (values.max !== undefined) {
  const max = Number(values.max);
  const over = all.filter((f) => f.lines > max);
  if (over.length > 0) {
    console.error(`longest-functions: ${over.length} function(s) in src/ over ${max} lines`);
    process.exit(1);
  }
}
