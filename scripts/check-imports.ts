/**
 * Part of npm run lint: the import rules of the house, over every module in src/.
 * - `@actions/*` only in the GitHub adapters and the entries (src/actions, src/entries) and the
 *   command line (src/cli): the core never imports them.
 * - A pipeline (src/drill, verify, compare, migrate, pitr) does not import another pipeline; what
 *   two share belongs in a shared room (backup/ for verifying a backup file, comparison/ for
 *   comparing counts and structure, core/, config/, checks/, postgres/, report/...), and no shared
 *   room imports a pipeline. Only the adapters, the entries and the CLI put pipelines together.
 * Exits 1 naming each problem as `file: what. fix`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const PIPELINES = ['drill', 'verify', 'compare', 'migrate', 'pitr'] as const;
const ADAPTERS = ['actions', 'entries', 'cli'];

/** Where the pipelines are put together: these may import any of them. */
const COMPOSERS = [...ADAPTERS, 'specs.ts'];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The top folder under src/ of a path relative to src/ (`drill` for `drill/run.ts`). */
const top = (rel: string) => rel.split('/')[0] as string;

/** Every module a file imports (static, type-only, re-exported, dynamic), as written. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The problems of one module of src/, `file` relative to src/. */
export function problemsOf(file: string, text: string): string[] {
  const problems: string[] = [];
  const from = top(file);
  for (const spec of importsOf(text)) {
    if (spec.startsWith('@actions/')) {
      if (!ADAPTERS.includes(from)) {
        problems.push(
          `src/${file}: imports ${spec}. Only src/actions, src/entries and src/cli talk to GitHub; take a Logger or a value instead`,
        );
      }
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = path.posix
      .normalize(path.posix.join(path.posix.dirname(file), spec))
      .replace(/\.js$/, '.ts');
    const to = top(target);
    if (to === from || !isPipeline(to) || COMPOSERS.includes(from)) continue;
    problems.push(
      isPipeline(from)
        ? `src/${file}: the ${from} pipeline imports src/${target} of the ${to} pipeline. Move what they share into a shared room (backup/, comparison/, core/, config/, checks/, postgres/, report/)`
        : `src/${file}: the shared room ${from}/ imports src/${target} of the ${to} pipeline. A shared room serves pipelines; move what it needs out of ${to}/`,
    );
  }
  return problems;
}

const isPipeline = (dir: string) => (PIPELINES as readonly string[]).includes(dir);

/** The problems in src/. */
export function checkImports(src = path.join(root, 'src')): string[] {
  return sources(src).flatMap((f) =>
    problemsOf(path.relative(src, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8')),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkImports();
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n\ncheck-imports: ${problems.length} problem(s)\n`);
    process.exit(1);
  }
  process.stdout.write(
    'check-imports: @actions/* only in the adapters; no pipeline imports another, no shared room a pipeline\n',
  );
}
