import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChecksumMode, parseChecksumInput } from '../archive/checksum.js';
import { parseDuration } from '../core/duration.js';
import { UserError } from '../core/errors.js';
import { parseBool, parseSeverity } from '../core/parse.js';
import { resolveInputs } from '../core/spec.js';
import type { Severity } from '../report/findings.js';
import { parseS3Inputs, parseS3Url, type S3Options } from '../sources/s3.js';
import { parseExpect } from '../sources/select.js';
import { verifySpec } from './spec.js';

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
  /** The clock, for tests. */
  now?: Date;
}

export function defaultWorkDir(): string {
  return process.env.RUNNER_TEMP
    ? path.join(process.env.RUNNER_TEMP, 'restorable')
    : path.resolve('.restorable');
}

/** From raw inputs or flags to options; every mistake is a UserError naming the input. */
export function parseVerifyOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
): VerifyOptions {
  const v = resolveInputs(verifySpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  const source = (v.source as string).trim();
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
    select: (v.select ?? 'latest').trim(),
    maxAgeSeconds: parseDuration(name('max-age'), v['max-age'] ?? '26h'),
    ...(v.expect ? { expect: parseExpect(name('expect'), v.expect) } : {}),
    checksum: parseChecksumInput(name('checksum'), v.checksum ?? 'auto'),
    schemaCheck: parseBool(name('schema-check'), v['schema-check'], true),
    failOn: parseSeverity(name('fail-on'), v['fail-on']),
    ...(v.report ? { report: v.report } : {}),
    s3: parseS3Inputs(v, name),
    ...(v['pg-bin-dir'] ? { pgBinDir: v['pg-bin-dir'] } : {}),
    workDir: v['work-dir'] ? path.resolve(v['work-dir']) : defaultWorkDir(),
  };
}

export const cpuCount = () => os.availableParallelism?.() ?? os.cpus().length;
