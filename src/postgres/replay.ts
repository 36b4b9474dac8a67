import { type Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { run } from '../core/exec.js';
import type { PgBinary } from './binaries.js';
import { libpqEnv } from './client.js';
import type { ScratchCluster } from './cluster.js';

export interface ReplayResult {
  ok: boolean;
  /** The first error lines the tool printed (catalog statements, never row values). */
  errors: string[];
  errorCount: number;
  exitCode: number | null;
  seconds: number;
  tool: string;
}

/**
 * Drops the rows of COPY blocks, ownership and privilege statements from a plain dump as it streams,
 * leaving the schema: the same as pg_restore's --schema-only --no-owner --no-privileges.
 */
export class SchemaOnlyFilter extends Transform {
  private partial = '';
  private inCopy = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    done(null, this.keep(lines));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.keep([this.partial]));
  }

  private keep(lines: string[]): string {
    const out: string[] = [];
    for (const line of lines) {
      if (this.inCopy) {
        if (line === '\\.') this.inCopy = false;
        continue;
      }
      if (/^COPY .* FROM stdin;$/.test(line)) {
        this.inCopy = true;
        continue;
      }
      if (/^(ALTER .* OWNER TO |GRANT |REVOKE |SELECT pg_catalog\.setval\()/.test(line)) continue;
      out.push(line);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => /\b(ERROR|FATAL|error):/.test(l) && !/errors ignored on restore/.test(l))
    .map((l) => l.trim());
}

function result(tool: string, code: number | null, stderr: string, seconds: number): ReplayResult {
  const errors = errorLines(stderr);
  return {
    ok: code === 0 && errors.length === 0,
    errors: errors.slice(0, 10),
    errorCount: errors.length,
    exitCode: code,
    seconds,
    tool,
  };
}

/** Load the schema of a custom or directory archive (a path, or a stream for .dump.gz) with pg_restore. */
export async function replayArchiveSchema(
  pgRestore: PgBinary,
  cluster: ScratchCluster,
  archive: { path: string } | { stream: Readable },
): Promise<ReplayResult> {
  const args = ['--schema-only', '--no-owner', '--no-privileges', '--dbname', 'postgres'];
  if ('path' in archive) args.push(archive.path);
  const res = await run(pgRestore.path, args, {
    env: libpqEnv(cluster.conn()),
    ...('stream' in archive ? { stdin: archive.stream } : {}),
  });
  return result(`pg_restore ${pgRestore.version}`, res.code, res.stderr, res.seconds);
}

/** Load the schema of a plain SQL dump (optionally gzip'd) with psql, its rows filtered out. */
export async function replayPlainSchema(
  psql: PgBinary,
  cluster: ScratchCluster,
  stream: Readable,
  gzipped: boolean,
): Promise<ReplayResult> {
  const source = gzipped ? stream.pipe(zlib.createGunzip()) : stream;
  const filtered = source.pipe(new SchemaOnlyFilter());
  const res = await run(psql.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', 'postgres', '-f', '-'], {
    env: libpqEnv(cluster.conn()),
    stdin: filtered,
  });
  return result(`psql ${psql.version}`, res.code, res.stderr, res.seconds);
}
