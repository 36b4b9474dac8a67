/**
 * Part of npm run lint: the import rules of the house, over every module in src/.
 * - `@actions/*` only in the GitHub adapters and the entries (src/actions, src/entries) and the
 *   command line (src/cli): the core never imports them.
 * - A pipeline (src/drill, verify, compare, migrate, pitr) does not import another pipeline; what
 *   two share belongs in core/, config/, checks/, postgres/ or report/. The imports that do so
 *   today are listed in SHARED, each with why; the list may only shrink: an entry no longer
 *   imported is a problem too, so it is removed when its import is.
 * Exits 1 naming each problem as `file: what. fix`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const PIPELINES = ['drill', 'verify', 'compare', 'migrate', 'pitr'] as const;
const ADAPTERS = ['actions', 'entries', 'cli'];

/**
 * The pipeline-to-pipeline imports there are, `importer -> imported` (paths under src/), and why.
 * The drill is verify's stages and then a restore, and runs compare's rung; PITR and migrate-check
 * offer the drill's and verify's inputs as their own.
 */
export const SHARED: Record<string, string> = {
  'drill/context.ts -> compare/run.ts': "the drill's compare rung",
  'drill/context.ts -> verify/context.ts': "the drill's report carries verify's facts",
  'drill/stages/compare.ts -> compare/run.ts': "the drill's compare rung",
  'drill/stages/restore.ts -> verify/context.ts': "the restore reads verify's facts",
  'drill/stages/restore.ts -> verify/tools.ts': "verify's restore tools",
  'drill/stages/target.ts -> verify/tools.ts': "verify's restore tools",
  'drill/stages/verify.ts -> verify/run.ts': "the drill runs verify's stages first",
  'drill/options.ts -> compare/options.ts': "the compare rung's options",
  'drill/options.ts -> verify/options.ts': "verify's options are the drill's",
  'drill/spec.ts -> verify/spec.ts': "verify's inputs are the drill's",
  'drill/present.ts -> verify/present.ts': "the drill's report leads with verify's facts",
  'compare/options.ts -> verify/options.ts': 'the default work folder',
  'migrate/options.ts -> verify/options.ts': 'the default work folder',
  'migrate/spec.ts -> verify/spec.ts': "verify's inputs for the backup to restore",
  'pitr/spec.ts -> drill/spec.ts': "the drill's inputs PITR offers too",
  'pitr/spec.ts -> verify/spec.ts': "verify's inputs PITR offers too",
  'pitr/result.ts -> compare/run.ts': "the change check's summary",
  'pitr/options.ts -> compare/options.ts': "the change check's options",
  'pitr/changes.ts -> compare/options.ts': "the change check's options",
  'pitr/changes.ts -> compare/run.ts': 'the change check is a compare run',
};

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

/**
 * The problems of one module of src/, `file` relative to src/; with `seen`, the SHARED entries it
 * uses are added to it.
 */
export function problemsOf(file: string, text: string, seen = new Set<string>()): string[] {
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
    if (to === from || !isPipeline(from) || !isPipeline(to)) continue;
    const edge = `${file} -> ${target}`;
    if (edge in SHARED) seen.add(edge);
    else {
      problems.push(
        `src/${file}: the ${from} pipeline imports src/${target} of the ${to} pipeline. Move what they share into core/, config/, checks/, postgres/ or report/`,
      );
    }
  }
  return problems;
}

const isPipeline = (dir: string) => (PIPELINES as readonly string[]).includes(dir);

/** The problems in src/, and the SHARED entries nothing imports any more. */
export function checkImports(src = path.join(root, 'src')): string[] {
  const seen = new Set<string>();
  const problems = sources(src).flatMap((f) =>
    problemsOf(path.relative(src, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8'), seen),
  );
  for (const edge of Object.keys(SHARED)) {
    if (!seen.has(edge)) {
      problems.push(
        `scripts/check-imports.ts: SHARED lists "${edge}", which is not imported any more. Remove it`,
      );
    }
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkImports();
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n\ncheck-imports: ${problems.length} problem(s)\n`);
    process.exit(1);
  }
  process.stdout.write(
    'check-imports: @actions/* only in the adapters; no pipeline imports another beyond SHARED\n',
  );
}
