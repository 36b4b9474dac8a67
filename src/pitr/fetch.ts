import { formatBytes } from '../core/duration.js';
import { errorMessage, ToolMissingError } from '../core/errors.js';
import { FolderGrowth } from '../core/folder-growth.js';
import { installHint, type PgBinary, pick } from '../postgres/binaries.js';
import { chownTree } from '../postgres/recovery.js';
import { type Finding, finding } from '../report/findings.js';
import type { Pipeline, StageResult } from '../report/stages.js';
import type { PitrBackend, PlannedBackup, Restored } from './backends.js';
import { dataDirMajor } from './native.js';
import type { PitrOptions } from './options.js';

/** The server binaries of a data directory's major: the installed one, or a clear way to get it. */
export async function serverBinary(major: number, binDir: string | undefined): Promise<PgBinary> {
  const bin = await pick('pg_ctl', major, binDir);
  if (!bin || bin.major !== major) {
    throw new ToolMissingError(
      `PostgreSQL ${major} server binaries (a physical backup recovers only on its own major)`,
      installHint(major, 'server'),
    );
  }
  return bin;
}

/** The fetch stage's progress line: `wrote 1.2 GiB of 4.0 GiB (30%) into the data directory`. */
export function fetchProgressLine(bytes: number, size: number): string {
  const of = size > 0 ? ` of ${formatBytes(size)} (${Math.min(100, Math.floor((100 * bytes) / size))}%)` : '';
  return `wrote ${formatBytes(bytes)}${of} into the data directory`;
}

/**
 * The fetch stage of every mode: the base backup restored into `dataDir` (WAL to come from the
 * spool), its server binaries found, its files given to the server's user, its manifest checked.
 * `onBinary` runs once the binaries are known (a scratch folder is labelled then).
 */
export async function fetchStage(
  pipe: Pipeline,
  opts: PitrOptions,
  backend: PitrBackend,
  chosen: PlannedBackup,
  dataDir: string,
  spoolDir: string,
  owner: { uid: number; gid: number } | undefined,
  onBinary: (bin: PgBinary) => void,
): Promise<{ fetch: StageResult; restored?: Restored; bin?: PgBinary }> {
  let restored: Restored | undefined;
  let bin: PgBinary | undefined;
  const fetch = await pipe.stage('fetch', async () => {
    // The plan knows the size of a tool's backup (a native one's may be its compressed tar).
    const size = opts.backend === 'native' ? 0 : chosen.size;
    const growth = new FolderGrowth(dataDir, 250);
    pipe.progress(() => fetchProgressLine(growth.bytes, size));
    try {
      restored = await backend.restore(chosen, dataDir, spoolDir, owner);
    } catch (e) {
      if (e instanceof ToolMissingError) throw e;
      return {
        findings: [
          finding(
            'BASE_BACKUP_CORRUPT',
            'fetch',
            `the base backup could not be restored: ${errorMessage(e)}`,
          ),
        ],
      };
    } finally {
      growth.stop();
    }
    const major = dataDirMajor(dataDir);
    if (!major)
      return {
        findings: [finding('BASE_BACKUP_CORRUPT', 'fetch', 'the restored data directory has no PG_VERSION')],
      };
    try {
      bin = await serverBinary(major, opts.pgBinDir);
    } catch (e) {
      if (e instanceof ToolMissingError)
        return {
          findings: [
            finding('VERSION_UNSUPPORTED', 'fetch', `the base backup is PostgreSQL ${major}: ${e.message}`, {
              fix: e.install,
              evidence: { needMajor: major },
            }),
          ],
        };
      throw e;
    }
    onBinary(bin);
    chownTree(dataDir, owner);
    const findings: Finding[] = [];
    if (restored.verified && !restored.verified.ok)
      findings.push(
        finding('BASE_BACKUP_CORRUPT', 'fetch', `pg_verifybackup failed: ${restored.verified.detail}`, {
          evidence: { backup: chosen.id },
        }),
      );
    else if (!restored.verified && opts.backend === 'native')
      findings.push(
        finding('BASE_BACKUP_UNVERIFIED', 'fetch', `base backup ${chosen.id} has no backup_manifest`),
      );
    return { findings };
  });
  return { fetch, ...(restored ? { restored } : {}), ...(bin ? { bin } : {}) };
}
