import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../src/core/exec.js';
import { findAll, installHint } from '../../src/postgres/binaries.js';
import { libpqEnv, withClient } from '../../src/postgres/client.js';
import { ScratchCluster, type ScratchOptions } from '../../src/postgres/cluster.js';

/**
 * Scratch clusters for tests: the product's own ScratchCluster. A machine without PostgreSQL fails
 * here with the install command, never skips.
 */
export async function startCluster(opts: ScratchOptions = {}): Promise<ScratchCluster> {
  const servers = await findAll('initdb');
  if (servers.length === 0) {
    throw new Error(
      `PostgreSQL server binaries are missing. Install them: ${installHint(15, 'server')} (or run scripts/install-deps.sh)`,
    );
  }
  return ScratchCluster.start({ label: 'test', ...opts });
}

/** Chinook (MIT, see its LICENSE.md beside it): a real third-party database to dump and break. */
export const CHINOOK = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../fixtures/chinook/Chinook_PostgreSql.sql',
);

/** Load chinook (it creates the database `chinook` itself). */
export async function loadChinook(cluster: ScratchCluster): Promise<void> {
  if (!fs.existsSync(CHINOOK)) throw new Error(`the chinook dataset is missing at ${CHINOOK}`);
  const psql = (await findAll('psql'))[0];
  if (!psql) throw new Error(`psql is missing. Install it: ${installHint(15, 'client')}`);
  const res = await run(psql.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', CHINOOK], {
    env: libpqEnv(cluster.conn()),
  });
  if (res.code !== 0) throw new Error(`loading chinook failed: ${res.stderr}`);
}

export async function sql(cluster: ScratchCluster, database: string, text: string): Promise<void> {
  await withClient(cluster.conn(database), (c) => c.query(text));
}

/** A temp folder of this test run: removed when the run ends (test/harness/global-setup.ts). */
export function tempDir(label: string): string {
  const run = process.env.RESTORABLE_TEST_RUN ?? `${process.pid}`;
  return fs.mkdtempSync(path.join(os.tmpdir(), `restorable-test-${run}-${label}-`));
}

/**
 * A database whose table's CHECK calls a plpgsql function that, anywhere but on `cluster` itself,
 * runs `command` through dynamic SQL (`COPY ... TO PROGRAM`): real pg_dump output that no scan of
 * the dump's text can see run, only a restore that evaluates the CHECK as its rows load.
 */
export async function checkThatRunsProgram(
  cluster: ScratchCluster,
  db: string,
  command: string,
): Promise<void> {
  await sql(cluster, 'postgres', `CREATE DATABASE ${db}`);
  await sql(
    cluster,
    db,
    `CREATE FUNCTION ok(x int) RETURNS boolean LANGUAGE plpgsql AS $f$
     BEGIN
       IF current_setting('port')::int <> ${cluster.port} THEN
         EXECUTE 'COPY (SELECT 1) TO PROGRAM ' || quote_literal('${command}');
       END IF;
       RETURN true;
     END $f$;
     CREATE TABLE t (a int CHECK (ok(a)));
     INSERT INTO t VALUES (1), (2);`,
  );
}
