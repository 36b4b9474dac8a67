import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChecksumMode } from '../archive/checksum.js';
import { UserError } from '../core/errors.js';
import { type How, nameFor, readInputs, type Values } from '../core/inputs.js';
import type { Severity } from '../report/findings.js';
import { parseS3Url, type S3Options, s3Options } from '../sources/s3.js';
import { VERIFY_COMMAND, verifyInputs } from './inputs.js';

export interface VerifyOptions {
  source: string;
  pattern?: string;
  select: string;
  maxAgeSeconds: number;
  expect?: Record<string, number>;
  checksum: ChecksumMode;
  schemaCheck: boolean;
  failOn: Severity;
  report?: string;
  s3: S3Options;
  pgBinDir?: string;
  workDir: string;
  /**
   * Keep a download from S3 after the run (the actions: the next step reads local-path); else it is
   * removed when the run ends, whichever way. A local backup is never touched either way.
   */
  keepDownload: boolean;
  /** How the user names keep-download (the input, or the CLI flag), for messages. */
  keepDownloadInput: string;
  /** The clock, for tests. */
  now?: Date;
}

export function defaultWorkDir(): string {
  return process.env.RUNNER_TEMP
    ? path.join(process.env.RUNNER_TEMP, 'restorable')
    : path.resolve('.restorable');
}

/** The verify inputs' values, as a drill passes them too (without schema-check: its restore is that). */
export type VerifyValues = Omit<Values<typeof verifyInputs>, 'schema-check'> & { 'schema-check'?: boolean };

/** From raw inputs or flags to options; every mistake is a UserError naming the input. */
export function parseVerifyOptions(raw: Record<string, string | undefined>, how: How): VerifyOptions {
  return verifyOptions(readInputs(VERIFY_COMMAND, verifyInputs, raw, how), how);
}

/** From the verify inputs' values to options: the checks that need more than one value, or the disk. */
export function verifyOptions(v: VerifyValues, how: How): VerifyOptions {
  const name = nameFor(how);
  const source = v.source.trim();
  if (source.startsWith('s3://')) parseS3Url(name('source'), source);
  else if (!fs.existsSync(source)) {
    throw new UserError(
      name('source'),
      `"${source}" does not exist`,
      'Give an existing file or folder, or an s3://bucket/prefix URL',
    );
  }
  return {
    source,
    ...(v.pattern ? { pattern: v.pattern } : {}),
    select: v.select.trim(),
    maxAgeSeconds: v['max-age'],
    ...(v.expect ? { expect: v.expect } : {}),
    checksum: v.checksum,
    schemaCheck: v['schema-check'] ?? true,
    failOn: v['fail-on'],
    ...(v.report ? { report: v.report } : {}),
    s3: s3Options(v),
    ...(v['pg-bin-dir'] ? { pgBinDir: v['pg-bin-dir'] } : {}),
    workDir: v['work-dir'] ? path.resolve(v['work-dir']) : defaultWorkDir(),
    // The actions' next step reads the download (local-path); at a terminal, each run would leave a copy.
    keepDownload: v['keep-download'] ?? how === 'input',
    keepDownloadInput: name('keep-download'),
  };
}

export const cpuCount = () => os.availableParallelism?.() ?? os.cpus().length;
