import path from 'node:path';
import type pg from 'pg';
import { errorMessage } from '../../core/errors.js';
import { MARKER, withClient } from '../../postgres/client.js';
import { readLabel, SCRATCH_PREFIX } from '../../postgres/cluster.js';
import { finding } from '../../report/findings.js';
import type { MigrateContext, Snapshot } from '../context.js';
import { snapshot } from '../relations.js';

/**
 * Is this a database Restorable made, so running a migration on it harms nothing? A database a
 * drill created on a server carries the drill's marker; a scratch cluster's data directory is a
 * Restorable folder on this machine with its label in it. Returns why not, or undefined.
 */
async function notDisposable(c: pg.Client): Promise<string | undefined> {
  const comment = (
    await c.query<{ d: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS d FROM pg_database WHERE datname = current_database()",
    )
  ).rows[0]?.d;
  if (comment === MARKER) return undefined;
  let dataDir: string | undefined;
  try {
    dataDir = (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d;
  } catch {
    return 'it is not a database a drill created, and its data directory cannot be read (not a superuser) to tell whether it is a Restorable scratch cluster';
  }
  const root = dataDir ? path.dirname(dataDir) : '';
  if (root && path.basename(root).startsWith(SCRATCH_PREFIX) && readLabel(root)) return undefined;
  return 'it is neither a Restorable scratch cluster on this machine nor a database a drill created';
}

/**
 * The target stage: the database reached, refused unless it is disposable (or allow-any-database),
 * and its structure and relations read as they are before the migration. Undefined when it cannot
 * be used.
 */
export async function targetStage(ctx: MigrateContext): Promise<Snapshot | undefined> {
  const { opts, result } = ctx;
  let before: Snapshot | undefined;
  await ctx.pipe.stage('target', async () => {
    try {
      const out = await withClient(ctx.conn, async (c) => {
        result.server = (
          await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")
        ).rows[0]?.v;
        const refused = opts.allowAnyDatabase ? undefined : await notDisposable(c);
        if (refused) return { refused };
        return snapshot(c);
      });
      if ('refused' in out) {
        return {
          findings: [
            finding('TARGET_REFUSED', 'target', `${result.database} was not migrated: ${out.refused}`, {
              fix: "Point database-url at restore-drill's database-url (keep: true); for another disposable database, set allow-any-database: true knowingly.",
            }),
          ],
        };
      }
      before = out;
      ctx.log.info(
        `${result.database}: PostgreSQL ${result.server}, ${[...out.relations.values()].filter((r) => ['r', 'p', 'm'].includes(r.kind)).length} tables, ${out.structure.length} objects`,
      );
      return {};
    } catch (e) {
      return {
        findings: [
          finding('TARGET_UNREACHABLE', 'target', `could not read ${result.database}: ${errorMessage(e)}`, {
            fix: 'Check database-url (restore-drill outputs database-url with keep: true) and that the step runs on the runner that holds it.',
          }),
        ],
      };
    }
  });
  return before;
}
