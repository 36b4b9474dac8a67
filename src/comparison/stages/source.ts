import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage, UserError } from '../../core/errors.js';
import { type ConnInfo, withClient } from '../../postgres/client.js';
import { finding } from '../../report/findings.js';
import type { CompareContext } from '../context.js';
import { modeFor, readSide, type Side } from '../side.js';

const baselineSchema = z.object({
  restorable: z.literal('baseline'),
  version: z.literal(1),
  takenAt: z.string(),
  source: z.string(),
  tables: z.record(z.string(), z.object({ rows: z.number(), mode: z.enum(['exact', 'estimate']) })),
  structure: z.array(z.string()).optional(),
});

/** The live source is read through a session that cannot write, and gives up rather than wait on locks. */
const READ_ONLY = '-c default_transaction_read_only=on -c statement_timeout=600000 -c lock_timeout=5000';
const POOLER_FIX = 'Connect to PostgreSQL directly, not through a pooler that drops startup options';

function readBaseline(file: string): Side & { takenAt: string; source: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      'baseline',
      `${file} is not JSON (${errorMessage(e)})`,
      'Give a file written by write-baseline',
    );
  }
  const r = baselineSchema.safeParse(raw);
  if (!r.success)
    throw new UserError(
      'baseline',
      `${file} is not a Restorable baseline`,
      'Give a file written by write-baseline',
    );
  return {
    takenAt: r.data.takenAt,
    source: r.data.source,
    counts: new Map(Object.entries(r.data.tables)),
    ...(r.data.structure ? { structure: r.data.structure } : {}),
  };
}

/**
 * The source stage: the baseline file, or the live source read in a read-only session (written as
 * a baseline with write-baseline). Undefined when it could not be read.
 */
export async function sourceStage(ctx: CompareContext): Promise<Side | undefined> {
  const { opts, result } = ctx;
  let source: Side | undefined;
  await ctx.pipe.stage('source', async () => {
    if (!opts.source) {
      const b = readBaseline(opts.baseline);
      source = b;
      ctx.log.info(`baseline of ${b.source}, taken ${b.takenAt}`);
      return {};
    }
    try {
      source = await readLiveSource(ctx, { ...opts.source, options: READ_ONLY });
    } catch (e) {
      if (e instanceof UserError) throw e;
      if (/options|startup parameter/i.test(errorMessage(e)))
        throw new UserError('source-url', `refused a read-only session (${errorMessage(e)})`, POOLER_FIX);
      const message = `could not read ${result.source}: ${errorMessage(e)}`;
      return { findings: [finding('SOURCE_UNREACHABLE', 'source', message)] };
    }
    if (opts.writeBaseline) writeBaseline(ctx, source, opts.writeBaseline);
    return {};
  });
  return source;
}

/** The live source, once its session is known to be read-only (a pooler may drop the option). */
async function readLiveSource(ctx: CompareContext, conn: ConnInfo): Promise<Side> {
  const ro = await withClient(
    conn,
    async (c) =>
      (await c.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v")).rows[0]
        ?.v,
  );
  if (ro !== 'on') throw new UserError('source-url', 'did not take a read-only session', POOLER_FIX);
  return readSide(conn, ctx.opts, (t) => modeFor(ctx.opts, t.estimate));
}

function writeBaseline(ctx: CompareContext, source: Side, file: string): void {
  const tables = Object.fromEntries([...source.counts].map(([k, v]) => [k, v]));
  const body = {
    restorable: 'baseline',
    version: 1,
    takenAt: new Date().toISOString(),
    source: ctx.result.source,
    tables,
    ...(source.structure ? { structure: source.structure } : {}),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  ctx.result.baselineWritten = file;
  ctx.log.info(`wrote the baseline (${source.counts.size} tables) to ${file}`);
}
