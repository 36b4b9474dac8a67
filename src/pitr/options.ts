import fs from 'node:fs';
import path from 'node:path';
import { parseLsn } from '../archive/wal.js';
import { type CompareOptions, parseCompareRung } from '../compare/options.js';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { oneOf, parseBool, parseOsUser, parseSeverity } from '../core/parse.js';
import { resolveInputs } from '../core/spec.js';
import { parseDbUrl } from '../postgres/client.js';
import { postmasterAlive } from '../postgres/pgctl.js';
import type { Severity } from '../report/findings.js';
import { parseS3Inputs, parseS3Url, type S3Options } from '../sources/s3.js';
import { parseMicros } from './proof.js';
import { pitrSpec } from './spec.js';
import type { TargetTimeline } from './wal-archive.js';

export const BACKENDS = ['native', 'pgbackrest'] as const;
export type Backend = (typeof BACKENDS)[number];
export type Mode = 'drill' | 'side-by-side' | 'in-place';

export type PitrTarget =
  /** `micros`: the exact target (µs since the epoch); `time` is it cut to ms, for comparisons with backup times. */
  | { kind: 'time'; time: Date; micros: bigint; text: string }
  | { kind: 'lsn'; lsn: bigint; text: string }
  | { kind: 'name'; name: string }
  | { kind: 'immediate' };

export interface PitrOptions {
  backend: Backend;
  baseBackups?: string;
  walArchive?: string;
  stanza?: string;
  pgbackrestConfig?: string;
  backup?: string;
  target: PitrTarget;
  inclusive: boolean;
  /** recovery_target_timeline: the plan checks WAL along this one. */
  targetTimeline: TargetTimeline;
  mode: Mode;
  dataDirectory?: string;
  port?: number;
  confirm?: string;
  stopCommand?: string;
  startCommand?: string;
  checkUrl?: string;
  prefetch: number;
  config: DrillConfig;
  keep: boolean;
  planOnly: boolean;
  compare?: CompareOptions;
  history?: string;
  failOn: Severity;
  report?: string;
  s3: S3Options;
  pgBinDir?: string;
  osUser?: string;
}

export interface MarkerOptions {
  markerUrl: string;
  report?: string;
}

/** ISO 8601 with a zone, strictly: a time without a zone would be a guess about which one. */
export function parseTargetTime(input: string, value: string): Date {
  const text = value.trim();
  const m =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)\s?(Z|[+-]\d{2}(?::?\d{2})?)$/i.exec(text);
  if (!m) {
    const zoneless = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text);
    throw new UserError(
      input,
      zoneless
        ? `"${value}" has no time zone, and guessing one could recover to the wrong hour`
        : `"${value}" is not an ISO 8601 time`,
      'Write the time with its zone, e.g. 2026-11-21T09:30:00Z or 2026-11-21T10:30:00+01:00',
    );
  }
  let zone = (m[3] as string).toUpperCase();
  if (/^[+-]\d{2}$/.test(zone)) zone = `${zone}:00`;
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const time = new Date(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(time.getTime()))
    throw new UserError(input, `"${value}" is not a valid date and time`, 'Check the day, month and hour');
  return time;
}

function parseTarget(v: Record<string, string | undefined>, name: (n: string) => string): PitrTarget {
  const given = ['target-time', 'target-lsn', 'target-name'].filter((k) => (v[k] ?? '').trim() !== '');
  const immediate = parseBool(name('target-immediate'), v['target-immediate'], false);
  if (immediate) given.push('target-immediate');
  if (given.length !== 1) {
    throw new UserError(
      given.length ? given.map(name).join(', ') : name('target-time'),
      given.length ? 'more than one recovery target is given' : 'no recovery target is given',
      'Give exactly one of target-time, target-lsn, target-name or target-immediate: true',
    );
  }
  if (immediate) return { kind: 'immediate' };
  if (v['target-time']) {
    const text = v['target-time'].trim();
    const time = parseTargetTime(name('target-time'), text);
    return { kind: 'time', time, micros: parseMicros(text) as bigint, text };
  }
  if (v['target-lsn']) {
    const text = v['target-lsn'].trim();
    const lsn = parseLsn(text);
    if (lsn === undefined)
      throw new UserError(name('target-lsn'), `"${text}" is not a WAL location`, 'Write it as 0/3000060');
    return { kind: 'lsn', lsn, text };
  }
  const n = (v['target-name'] as string).trim();
  if (n.length > 63)
    throw new UserError(
      name('target-name'),
      'is longer than a restore point name can be',
      'Use at most 63 characters',
    );
  return { kind: 'name', name: n };
}

/** `latest`, `current`, or a timeline number (decimal, as pg_controldata prints it). */
export function parseTimeline(input: string, value: string | undefined): TargetTimeline {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'latest') return 'latest';
  if (v === 'current') return 'current';
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw new UserError(
      input,
      `"${value}" is not a timeline`,
      'Give latest, current or a timeline number such as 2',
    );
  return n;
}

function checkLocation(input: string, value: string): string {
  const v = value.trim();
  if (v.startsWith('s3://')) parseS3Url(input, v);
  else if (!fs.existsSync(v)) {
    throw new UserError(
      input,
      `"${v}" does not exist`,
      'Give an existing folder or an s3://bucket/prefix URL',
    );
  }
  return v;
}

function number(
  input: string,
  value: string | undefined,
  min: number,
  max: number,
  what: string,
): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UserError(input, `"${value}" is not ${what}`, `Give a whole number from ${min} to ${max}`);
  return n;
}

export function parseMarkerOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger,
): MarkerOptions {
  const v = resolveInputs(pitrSpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  if (!v['marker-url'])
    throw new UserError(
      name('marker-url'),
      'is empty, but plant-marker is true',
      'Give the live database to plant the marker on',
    );
  parseDbUrl(name('marker-url'), v['marker-url'], (s) => log.secret(s));
  return { markerUrl: v['marker-url'], ...(v.report ? { report: v.report } : {}) };
}

export function parsePitrOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger = silentLogger,
): PitrOptions {
  const v = resolveInputs(pitrSpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  const backendText = (v.backend ?? 'native').trim().toLowerCase();
  if (['barman', 'wal-g', 'walg'].includes(backendText)) {
    throw new UserError(
      name('backend'),
      `"${backendText}" is not supported yet`,
      `Use one of: ${BACKENDS.join(', ')} (barman and wal-g are planned)`,
    );
  }
  const backend = oneOf(name('backend'), backendText, BACKENDS);
  const mode = oneOf(name('mode'), v.mode ?? 'drill', ['drill', 'side-by-side', 'in-place'] as const);
  const target = parseTarget(v, name);
  if (backend === 'native') {
    for (const k of ['base-backups', 'wal-archive']) {
      if (!v[k])
        throw new UserError(
          name(k),
          'is empty, but backend is native',
          `Give the folder or s3:// prefix of the ${k.replace('-', ' ')}`,
        );
    }
  } else if (!v.stanza) {
    throw new UserError(name('stanza'), 'is empty, but backend is pgbackrest', 'Give the pgBackRest stanza');
  }
  const config = loadConfig(name('config'), v.config);
  const planOnly = parseBool(name('plan-only'), v['plan-only'], false);
  let dataDirectory: string | undefined;
  // A plan touches nothing and may run on another machine than the database host.
  if (mode !== 'drill' && !planOnly) {
    if (!v['data-directory'])
      throw new UserError(
        name('data-directory'),
        `is empty, but mode is ${mode}`,
        'Give the data directory to recover into',
      );
    dataDirectory = path.resolve(v['data-directory']);
    if (mode === 'side-by-side' && fs.existsSync(dataDirectory)) {
      if (postmasterAlive(dataDirectory))
        throw new UserError(
          name('data-directory'),
          `${dataDirectory} holds a running server`,
          'Give an empty or absent folder for the recovered copy; side-by-side never touches a live cluster',
        );
      if (!fs.statSync(dataDirectory).isDirectory() || fs.readdirSync(dataDirectory).length > 0)
        throw new UserError(
          name('data-directory'),
          `${dataDirectory} is not empty`,
          'Give an empty or absent folder for the recovered copy (or use mode: in-place, behind its interlocks)',
        );
    }
    if (mode === 'in-place') {
      if (!v.confirm)
        throw new UserError(
          name('confirm'),
          'is empty, and in-place replaces a live data directory',
          "Set confirm to the cluster's system identifier (pg_controldata <data-directory>) or to pitr.name from config",
        );
      if (!fs.existsSync(path.join(dataDirectory, 'PG_VERSION')))
        throw new UserError(
          name('data-directory'),
          `${dataDirectory} is not a PostgreSQL data directory (no PG_VERSION)`,
          'Give the live data directory of the cluster to roll back',
        );
    }
  }
  const port = number(name('port'), v.port, 1, 65535, 'a port');
  const compare = parseCompareRung(v, how, log);
  if (v['check-url']) parseDbUrl(name('check-url'), v['check-url'], (s) => log.secret(s));
  return {
    backend,
    ...(v['base-backups'] ? { baseBackups: checkLocation(name('base-backups'), v['base-backups']) } : {}),
    ...(v['wal-archive'] ? { walArchive: checkLocation(name('wal-archive'), v['wal-archive']) } : {}),
    ...(v.stanza ? { stanza: v.stanza.trim() } : {}),
    ...(v['pgbackrest-config'] ? { pgbackrestConfig: path.resolve(v['pgbackrest-config']) } : {}),
    ...(v.backup ? { backup: v.backup.trim() } : {}),
    target,
    inclusive: parseBool(name('target-inclusive'), v['target-inclusive'], true),
    targetTimeline: parseTimeline(name('target-timeline'), v['target-timeline']),
    mode,
    ...(dataDirectory ? { dataDirectory } : {}),
    ...(port ? { port } : {}),
    ...(v.confirm ? { confirm: v.confirm.trim() } : {}),
    ...(v['stop-command'] ? { stopCommand: v['stop-command'] } : {}),
    ...(v['start-command'] ? { startCommand: v['start-command'] } : {}),
    ...(v['check-url'] ? { checkUrl: v['check-url'] } : {}),
    prefetch: number(name('prefetch'), v.prefetch, 1, 64, 'a number of segments') ?? 8,
    config,
    keep: parseBool(name('keep'), v.keep, false),
    planOnly,
    ...(compare ? { compare } : {}),
    ...(v.history ? { history: v.history } : {}),
    failOn: parseSeverity(name('fail-on'), v['fail-on']),
    ...(v.report ? { report: v.report } : {}),
    s3: parseS3Inputs(v, name),
    ...(v['pg-bin-dir'] ? { pgBinDir: v['pg-bin-dir'] } : {}),
    ...(v['os-user'] ? { osUser: parseOsUser(name('os-user'), v['os-user']) } : {}),
  };
}
