import path from 'node:path';
import type pg from 'pg';
import type { Inspection } from '../../archive/inspect.js';
import { restoreTools } from '../../backup/tools.js';
import type { TargetCollation } from '../../checks/integrity.js';
import { onCancel } from '../../core/cancel.js';
import { errorMessage, UserError } from '../../core/errors.js';
import { majorOf } from '../../postgres/binaries.js';
import { type ConnInfo, ident, withClient } from '../../postgres/client.js';
import { makeRestorer, type Prepared, precreateExtensions } from '../../postgres/owners.js';
import { type Finding, finding } from '../../report/findings.js';
import { DRILL_STAGES, type TargetedDrill, type VerifiedDrill } from '../context.js';
import { earlySeconds, type Opened, openScratch, takeEarly } from '../scratch.js';
import {
  type DrillTarget,
  dropCreatedDatabaseSync,
  markDatabase,
  parseTargetUrl,
  serverTarget,
} from '../target.js';

/**
 * The target stage: a scratch cluster of the dump's major (or newer), or the existing server of
 * target-url, and on it the drill's database with the dump's encoding and locale. A target that
 * could not be made, or only with a warning, skips the restore and the ladder.
 */
export async function targetStage(v: VerifiedDrill): Promise<TargetedDrill | undefined> {
  let collation: TargetCollation | undefined;
  let restorer: { conn: ConnInfo; prepared: Prepared } | undefined;
  const stage = await v.pipe.stage('target', async () => {
    const tools = await restoreTools(v.ins, v.opts.verify.pgBinDir, 'target');
    if ('finding' in tools) return { findings: [tools.finding] };
    // A cluster started while the backup was read: its start is this stage's own time, overlapped.
    const early = v.early;
    const since = performance.now();
    const opened = await openTarget(v);
    const earlier = early ? { earlier: earlySeconds(early, since) } : {};
    if (!('target' in opened)) return { ...opened, ...earlier };
    const c = opened.target;
    v.made = { target: c, database: v.database };
    const findings: Finding[] = [...opened.findings];
    collation = await withClient(c.admin, async (client) => {
      if (v.opts.roles === 'create-missing') findings.push(...(await createMissingRoles(client, v.ins)));
      await createDatabase(v, client, c);
      if (c.kind === 'server') {
        const psql = path.join(tools.client.dir, 'psql');
        v.forgetCreated = onCancel(() => dropCreatedDatabaseSync(psql, c.admin, v.database));
        await markDatabase(c.admin, v.database);
      }
      return readCollation(client, v.database);
    });
    if (c.kind === 'scratch') {
      restorer = await prepareRestorer(c, v);
      v.made.restorer = restorer.conn.user;
    }
    v.result.target = {
      kind: c.kind,
      version: c.version,
      major: c.major,
      database: v.database,
      settings: c.settings,
      ...(opened.source ? { source: opened.source } : {}),
      ...(opened.rehearsalFrom ? { rehearsalFrom: opened.rehearsalFrom } : {}),
    };
    return { findings, note: targetNote(c, opened, early !== undefined), ...earlier };
  });
  const target = v.made?.target;
  if (
    !target ||
    stage.status === 'not-run' ||
    stage.status === 'failed' ||
    stage.findings.some((f) => f.severity !== 'info')
  ) {
    for (const s of DRILL_STAGES.slice(1, -1)) v.pipe.skip(s, 'there is no target to restore into');
    return undefined;
  }
  const conn = restorer?.conn ?? target.conn(v.database);
  return Object.assign(v, { target, conn, collation, ...(restorer ? { prepared: restorer.prepared } : {}) });
}

/**
 * A scratch cluster's restore runs as the restorer, which owns the drill's database and nothing
 * else (postgres/owners.ts): a dump's SQL, and what it calls as its rows load, has no superuser's
 * powers. The untrusted extensions the dump names are made first, by the superuser.
 */
async function prepareRestorer(
  c: DrillTarget,
  v: VerifiedDrill,
): Promise<{ conn: ConnInfo; prepared: Prepared }> {
  const conn = await makeRestorer(c.admin, v.database);
  // Marked as a drill's, so that a later step as the restorer (migrate-check) knows it is disposable.
  await markDatabase(c.admin, v.database);
  const prepared = await precreateExtensions(c.conn(v.database), v.ins.toc?.extensionSchemas ?? []);
  return { conn, prepared };
}

/** What the target stage says beside ok: the server, where it came from, a rehearsal's majors. */
function targetNote(c: DrillTarget, o: Opened, early: boolean): string {
  const started = early ? ', started while the backup was read' : '';
  const what = `PostgreSQL ${c.version}${o.source === 'embedded' ? ' (embedded)' : ''}${started}`;
  return o.rehearsalFrom ? `${what}: upgrade rehearsal from ${o.rehearsalFrom}` : what;
}

/**
 * The target itself: target-url's server (refused when it looks like production), or a scratch
 * cluster (the one started while the backup was read, when there is one).
 */
async function openTarget(v: VerifiedDrill): Promise<Opened | { findings: Finding[] }> {
  const { opts, ins } = v;
  const dumpMajor = majorOf(ins.serverVersion ?? '') ?? 0;
  if (opts.targetUrl) {
    const admin = parseTargetUrl('target-url', opts.targetUrl, v.log);
    let opened: Awaited<ReturnType<typeof serverTarget>>;
    try {
      opened = await serverTarget(admin, opts.allowTargetServer);
    } catch (e) {
      // TLS, authentication, pg_hba: the user's to fix (one line, exit 2); an unreachable server is a finding.
      if (e instanceof UserError) throw e;
      const message = `could not reach the target server: ${errorMessage(e)}`;
      return { findings: [finding('TARGET_FAILED', 'target', message)] };
    }
    if ('refused' in opened) return { findings: [finding('TARGET_REFUSED', 'target', opened.refused)] };
    if (dumpMajor && opened.major < dumpMajor) {
      const message = `the dump comes from PostgreSQL ${dumpMajor}; the target server runs ${opened.version}`;
      return {
        findings: [finding('VERSION_UNSUPPORTED', 'target', message, { evidence: { needMajor: dumpMajor } })],
      };
    }
    const newer =
      dumpMajor && opened.major > dumpMajor
        ? [
            finding(
              'TARGET_VERSION_NEWER',
              'target',
              `the dump comes from PostgreSQL ${dumpMajor}; the drill runs on target-url's ${opened.version}`,
              { evidence: { dumped: dumpMajor, target: opened.major } },
            ),
          ]
        : [];
    return { target: opened, findings: newer };
  }
  if (v.early) {
    const early = v.early;
    v.early = undefined; // taken: the target stage owns what it opened
    return takeEarly(early);
  }
  return openScratch(opts, ins, v.log);
}

/** roles: create-missing: every owner and grantee of the dump the target lacks, as NOLOGIN. */
async function createMissingRoles(client: pg.Client, ins: Inspection): Promise<Finding[]> {
  const roles = [...new Set([...(ins.toc?.owners ?? []), ...(ins.toc?.grantees ?? [])])];
  const have = new Set(
    (await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname),
  );
  const created = roles.filter((r) => !have.has(r));
  for (const r of created) await client.query(`CREATE ROLE ${ident(r)} NOLOGIN`);
  if (!created.length) return [];
  return [
    finding(
      'ROLES_CREATED',
      'target',
      `created ${created.length} role${created.length === 1 ? '' : 's'} the dump names and the target lacked, as NOLOGIN: ${created.join(', ')}`,
      { evidence: { roles: created.join(', ') } },
    ),
  ];
}

/** The drill's database in the dump's encoding and locale (its ICU locale from 15), else the default. */
async function createDatabase(v: VerifiedDrill, client: pg.Client, c: DrillTarget): Promise<void> {
  const loc = v.ins.toc?.database;
  const wantCollate = loc?.collate ?? loc?.locale;
  const enc = loc?.encoding && /^\w+$/.test(loc.encoding) ? ` ENCODING '${loc.encoding}'` : '';
  const lc = wantCollate && /^[\w.@-]+$/.test(wantCollate) ? ` LOCALE '${wantCollate}'` : '';
  // A database that sorts by ICU gets the same ICU locale (PostgreSQL 15 and newer).
  const icu =
    loc?.provider?.toLowerCase() === 'icu' &&
    loc.icuLocale &&
    /^[\w.@=;-]+$/.test(loc.icuLocale) &&
    c.major >= 15
      ? ` LOCALE_PROVIDER icu ICU_LOCALE '${loc.icuLocale}'`
      : '';
  const db = ident(v.database);
  try {
    await client.query(`CREATE DATABASE ${db} TEMPLATE template0${enc}${lc}${icu}`);
  } catch (e) {
    v.log.warn(
      `the dump's locale ${[wantCollate, loc?.icuLocale].filter(Boolean).join(' / ')} is not available here (${errorMessage(e)}); using the cluster default`,
    );
    await client.query(`CREATE DATABASE ${db} TEMPLATE template0${enc}`);
  }
}

/** How the database made sorts: datlocprovider and daticulocale came in 15, daticulocale is datlocale from 17. */
async function readCollation(client: pg.Client, database: string): Promise<TargetCollation> {
  const row = (
    await client.query<{ c: string; p: string | null; icu: string | null }>(
      `SELECT datcollate AS c, to_jsonb(d) ->> 'datlocprovider' AS p,
              coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale') AS icu
         FROM pg_database d WHERE datname = $1`,
      [database],
    )
  ).rows[0];
  return {
    ...(row?.c ? { collate: row.c } : {}),
    provider: row?.p === 'i' ? 'icu' : 'libc',
    ...(row?.icu ? { icuLocale: row.icu } : {}),
  };
}
