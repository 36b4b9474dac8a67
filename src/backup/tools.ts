import type { Inspection } from '../archive/inspect.js';
import { findAll, installHint, majorOf, type PgBinary, pick } from '../postgres/binaries.js';
import { type Finding, finding } from '../report/findings.js';

/**
 * The client that can read this dump: pg_restore of at least the archive's pg_dump major, or psql for
 * plain dumps. None is VERSION_UNSUPPORTED (naming the major and how to install it).
 */
export async function restoreTools(
  ins: Inspection,
  binDir: string | undefined,
  stage: string,
): Promise<{ client: PgBinary } | { finding: Finding }> {
  const plain = ins.format === 'plain';
  const dumpMajor = majorOf(ins.pgDumpVersion ?? '') ?? 0;
  // psql of at least the dump's major (a newer pg_dump writes what an older psql may not know),
  // else the newest there is: a plain dump is SQL, which an older psql often still loads.
  const client = plain
    ? ((await pick('psql', dumpMajor, binDir)) ?? (await findAll('psql', binDir))[0])
    : await pick('pg_restore', dumpMajor, binDir);
  if (client) return { client };
  if (plain) {
    return {
      finding: finding(
        'SCHEMA_REPLAY_NOT_RUN',
        stage,
        'psql is not installed, so the dump could not be loaded',
        {
          fix: `Install the PostgreSQL client: ${installHint(15, 'client')}`,
        },
      ),
    };
  }
  return {
    finding: finding(
      'VERSION_UNSUPPORTED',
      stage,
      `the archive was written by pg_dump ${ins.pgDumpVersion?.trim()}; reading it needs pg_restore ${dumpMajor} or newer, and none is installed`,
      {
        fix: `Install the PostgreSQL ${dumpMajor} client: ${installHint(dumpMajor, 'client')}`,
        evidence: { needMajor: dumpMajor },
      },
    ),
  };
}

/** No server new enough for the dump: VERSION_UNSUPPORTED when an older one exists, else no server at all. */
export async function serverMissing(
  ins: Pick<Inspection, 'serverVersion'>,
  binDir: string | undefined,
  stage: string,
  e: Error,
): Promise<Finding> {
  const serverMajor = majorOf(ins.serverVersion ?? '') ?? 0;
  const newest = serverMajor > 0 ? await pick('initdb', 0, binDir) : undefined;
  return newest
    ? finding(
        'VERSION_UNSUPPORTED',
        stage,
        `the dump comes from PostgreSQL ${ins.serverVersion?.trim()}; it needs a PostgreSQL ${serverMajor} (or newer) server, and the newest installed is ${newest.major}`,
        {
          fix: `Install the PostgreSQL ${serverMajor} server: ${installHint(serverMajor, 'server')}`,
          evidence: { needMajor: serverMajor },
        },
      )
    : finding('SCHEMA_REPLAY_NOT_RUN', stage, `no PostgreSQL server binaries: ${e.message}`);
}
