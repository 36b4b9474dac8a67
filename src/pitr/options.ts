import fs from 'node:fs';
import path from 'node:path';
import { parseLsn } from '../archive/wal.js';
import { type CompareOptions, parseCompareRung } from '../comparison/options.js';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { isRoot } from '../core/exec.js';
import { type How, nameFor, readInputs, type Values } from '../core/inputs.js';
import { type Logger, silentLogger } from '../core/log.js';
import { parseOsUser } from '../core/parse.js';
import { parseDbUrl } from '../postgres/client.js';
import { postmasterAlive } from '../postgres/pgctl.js';
import type { Severity } from '../report/findings.js';
import { parseS3Url, type S3Options, s3Options } from '../sources/s3.js';
import { BARMAN_NAME, configuredBarmanUser } from './barman.js';
import { parseCloudUrl, parseEndpoint } from './barman-cloud.js';
import { tablespaceRoot } from './journal.js';
import { parseMicros } from './proof.js';
import { type BACKENDS, type MODES, pitrInputs, pitrSpec } from './spec.js';
import type { TargetTimeline } from './wal-archive.js';

export type Backend = (typeof BACKENDS)[number];
export type Mode = (typeof MODES)[number];

export type PitrTarget =
  /** `micros`: the exact target (µs since the epoch); `time` is it cut to ms, for comparisons with backup times. */
  | { kind: 'time'; time: Date; micros: bigint; text: string }
  | { kind: 'lsn'; lsn: bigint; text: string }
  | { kind: 'name'; name: string }
  /**
   * `xid`: the 32-bit transaction id recovery stops at (what PostgreSQL compares); `epoch`: the
   * epoch of a 64-bit form (pg_current_xact_id(), txid_current()), which PostgreSQL drops.
   */
  | { kind: 'xid'; xid: number; epoch?: number; text: string }
  | { kind: 'immediate' };

/** Where the backups come from, by backend. */
export type PitrSource =
  | { backend: 'native'; baseBackups: string; walArchive: string }
  | { backend: 'pgbackrest'; stanza: string; pgbackrestConfig?: string }
  /** WAL-G takes its storage and keys from the environment (WALG_*, AWS_*), as it does itself. */
  | { backend: 'wal-g' }
  | { backend: 'barman'; barmanServer: string; barmanConfig?: string; barmanUser?: string }
  /** Barman Cloud on S3: the endpoint, region and keys are the s3-* inputs and AWS_* variables. */
  | { backend: 'barman-cloud'; barmanServer: string; barmanCloudUrl: string; barmanCloudEndpoint?: string };

/**
 * Where the recovered server goes, by mode. A plan touches nothing (and may run on another machine
 * than the database host): it has no data directory.
 */
export type PitrPlace =
  | { mode: Mode; planOnly: true }
  | { mode: 'drill'; planOnly: false }
  | { mode: 'side-by-side'; planOnly: false; dataDirectory: string }
  | {
      mode: 'in-place';
      planOnly: false;
      /** The live data directory to replace. */
      dataDirectory: string;
      confirm: string;
      stopCommand?: string;
      startCommand?: string;
      checkUrl?: string;
    };

interface PitrCommon {
  backup?: string;
  target: PitrTarget;
  inclusive: boolean;
  /** recovery_target_timeline: the plan checks WAL along this one. */
  targetTimeline: TargetTimeline;
  port?: number;
  prefetch: number;
  config: DrillConfig;
  keep: boolean;
  compare?: CompareOptions;
  history?: string;
  failOn: Severity;
  report?: string;
  s3: S3Options;
  pgBinDir?: string;
  osUser?: string;
}

export type PitrOptions = PitrCommon & PitrSource & PitrPlace;
/** The options of a run that recovers (not a plan). */
export type RecoverOptions = PitrOptions & { planOnly: false };
/** The options of an in-place run. */
export type InPlaceOptions = PitrOptions & { mode: 'in-place'; planOnly: false };

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
  let zone = (m[3] ?? '').toUpperCase();
  if (/^[+-]\d{2}$/.test(zone)) zone = `${zone}:00`;
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const time = new Date(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(time.getTime()))
    throw new UserError(input, `"${value}" is not a valid date and time`, 'Check the day, month and hour');
  return time;
}

type PitrValues = Values<typeof pitrInputs>;

const TWO_32 = 2n ** 32n;

/**
 * A transaction id as recovery_target_xid takes it: PostgreSQL reads a 64-bit number (strtou64)
 * and keeps its low 32 bits, so the 64-bit forms of pg_current_xact_id() and txid_current() work
 * and their epoch is dropped. Decimal digits only: PostgreSQL would read a leading 0 as octal and
 * 0x as hex. Ids 0 to 2 (invalid, bootstrap, frozen) are never committed, so recovery would
 * never stop at one.
 */
export function parseTargetXid(input: string, value: string): Extract<PitrTarget, { kind: 'xid' }> {
  const text = value.trim();
  const fix =
    'Give the transaction id in decimal, as txid_current() or pg_current_xact_id() prints it, e.g. 1234';
  if (!/^\d{1,20}$/.test(text))
    throw new UserError(input, `"${value.slice(0, 40)}" is not a transaction id (decimal digits only)`, fix);
  if (text.length > 1 && text.startsWith('0'))
    throw new UserError(input, `"${text}" starts with 0, which PostgreSQL would read as octal`, fix);
  const full = BigInt(text);
  if (full >= 2n ** 64n)
    throw new UserError(input, `${text} is larger than a 64-bit transaction id can be`, fix);
  const xid = Number(full % TWO_32);
  if (xid < 3)
    throw new UserError(
      input,
      `${text} is ${full >= TWO_32 ? `transaction ${xid} of epoch ${full / TWO_32}, ` : ''}a special transaction id (0 invalid, 1 bootstrap, 2 frozen) that no commit carries`,
      fix,
    );
  const epoch = Number(full / TWO_32);
  return { kind: 'xid', xid, ...(epoch ? { epoch } : {}), text };
}

function parseTarget(v: PitrValues, name: (n: string) => string): PitrTarget {
  const kinds = ['target-time', 'target-lsn', 'target-name', 'target-xid'] as const;
  const given: string[] = kinds.filter((k) => (v[k] ?? '').trim() !== '');
  if (v['target-immediate']) given.push('target-immediate');
  if (given.length !== 1) {
    throw new UserError(
      given.length ? given.map(name).join(', ') : name('target-time'),
      given.length ? 'more than one recovery target is given' : 'no recovery target is given',
      'Give exactly one of target-time, target-lsn, target-name, target-xid or target-immediate: true',
    );
  }
  if (v['target-immediate']) return { kind: 'immediate' };
  if (v['target-time']) {
    const text = v['target-time'].trim();
    const time = parseTargetTime(name('target-time'), text);
    const micros = parseMicros(text);
    if (micros === undefined)
      throw new UserError(
        name('target-time'),
        `"${text}" is not an ISO 8601 time`,
        'Write it as 2026-11-21T09:30:00Z',
      );
    return { kind: 'time', time, micros, text };
  }
  if (v['target-lsn']) {
    const text = v['target-lsn'].trim();
    const lsn = parseLsn(text);
    if (lsn === undefined)
      throw new UserError(name('target-lsn'), `"${text}" is not a WAL location`, 'Write it as 0/3000060');
    return { kind: 'lsn', lsn, text };
  }
  if (v['target-xid']) return parseTargetXid(name('target-xid'), v['target-xid']);
  const n = (v['target-name'] ?? '').trim();
  if (n.length > 63)
    throw new UserError(
      name('target-name'),
      'is longer than a restore point name can be',
      'Use at most 63 characters',
    );
  return { kind: 'name', name: n };
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

export function parseMarkerOptions(
  raw: Record<string, string | undefined>,
  how: How,
  log: Logger,
): MarkerOptions {
  const v = readInputs(pitrSpec.command, pitrInputs, raw, how);
  const name = nameFor(how);
  if (!v['marker-url'])
    throw new UserError(
      name('marker-url'),
      'is empty, but plant-marker is true',
      'Give the live database to plant the marker on',
    );
  parseDbUrl(name('marker-url'), v['marker-url'], (s) => log.secret(s));
  return { markerUrl: v['marker-url'], ...(v.report ? { report: v.report } : {}) };
}

/** The Barman server and backup id, for both Barman backends: names, never options or paths. */
function barmanNames(v: PitrValues, name: (n: string) => string): string {
  const server = (v['barman-server'] ?? '').trim();
  if (!server)
    throw new UserError(
      name('barman-server'),
      `is empty, but backend is ${v.backend}`,
      'Give the Barman server name',
    );
  if (!BARMAN_NAME.test(server))
    throw new UserError(
      name('barman-server'),
      `"${server}" is not a Barman server name`,
      'Use the name of its section in Barman’s configuration (letters, digits, _ . : -)',
    );
  const backup = (v.backup ?? '').trim();
  if (backup && !BARMAN_NAME.test(backup))
    throw new UserError(
      name('backup'),
      `"${backup}" is not a Barman backup id`,
      'Give an id from barman list-backups (or barman-cloud-backup-list), or latest',
    );
  return server;
}

function parseBarman(v: PitrValues, name: (n: string) => string): PitrSource {
  const server = barmanNames(v, name);
  const config = v['barman-config'] ? path.resolve(v['barman-config']) : undefined;
  if (config && !fs.existsSync(config))
    throw new UserError(
      name('barman-config'),
      `${config} does not exist`,
      'Give the path of Barman’s configuration file',
    );
  const user = isRoot()
    ? (parseOsUser(name('barman-user'), v['barman-user']) ?? configuredBarmanUser(config))
    : undefined;
  return {
    backend: 'barman',
    barmanServer: server,
    ...(config ? { barmanConfig: config } : {}),
    ...(user ? { barmanUser: user } : {}),
  };
}

function parseBarmanCloud(v: PitrValues, name: (n: string) => string): PitrSource {
  const server = barmanNames(v, name);
  const url = (v['barman-cloud-url'] ?? '').trim();
  if (!url)
    throw new UserError(
      name('barman-cloud-url'),
      'is empty, but backend is barman-cloud',
      'Give the s3://bucket/prefix given to barman-cloud-backup and barman-cloud-wal-archive',
    );
  const endpoint = v['s3-endpoint'] ? parseEndpoint(name('s3-endpoint'), v['s3-endpoint']) : undefined;
  return {
    backend: 'barman-cloud',
    barmanServer: server,
    barmanCloudUrl: parseCloudUrl(name('barman-cloud-url'), url),
    ...(endpoint ? { barmanCloudEndpoint: endpoint } : {}),
  };
}

function parseSource(v: PitrValues, name: (n: string) => string): PitrSource {
  if (v.backend === 'wal-g') return { backend: 'wal-g' };
  if (v.backend === 'barman-cloud') return parseBarmanCloud(v, name);
  if (v.backend === 'barman') return parseBarman(v, name);
  if (v.backend === 'pgbackrest') {
    if (!v.stanza)
      throw new UserError(
        name('stanza'),
        'is empty, but backend is pgbackrest',
        'Give the pgBackRest stanza',
      );
    return {
      backend: 'pgbackrest',
      stanza: v.stanza.trim(),
      ...(v['pgbackrest-config'] ? { pgbackrestConfig: path.resolve(v['pgbackrest-config']) } : {}),
    };
  }
  const location = (k: 'base-backups' | 'wal-archive') => {
    const given = v[k];
    if (!given)
      throw new UserError(
        name(k),
        'is empty, but backend is native',
        `Give the folder or s3:// prefix of the ${k.replace('-', ' ')}`,
      );
    return given;
  };
  const baseBackups = location('base-backups');
  const walArchive = location('wal-archive');
  return {
    backend: 'native',
    baseBackups: checkLocation(name('base-backups'), baseBackups),
    walArchive: checkLocation(name('wal-archive'), walArchive),
  };
}

/**
 * Side-by-side recovers into an empty or absent folder, never over a live cluster, and a backup's
 * tablespaces into `<folder>.tablespaces`, which must be empty or absent too.
 */
function checkCloneTarget(dataDirectory: string, input: string): void {
  const tablespaces = tablespaceRoot(dataDirectory);
  const st = fs.lstatSync(tablespaces, { throwIfNoEntry: false });
  if (st && (!st.isDirectory() || fs.readdirSync(tablespaces).length > 0))
    throw new UserError(
      input,
      `${tablespaces} is not an empty folder, and a side-by-side recovery puts the backup's tablespaces there`,
      'Move it away (it is left as it is), or give another folder for the recovered copy',
    );
  if (!fs.existsSync(dataDirectory)) return;
  if (postmasterAlive(dataDirectory))
    throw new UserError(
      input,
      `${dataDirectory} holds a running server`,
      'Give an empty or absent folder for the recovered copy; side-by-side never touches a live cluster',
    );
  if (!fs.statSync(dataDirectory).isDirectory() || fs.readdirSync(dataDirectory).length > 0)
    throw new UserError(
      input,
      `${dataDirectory} is not empty`,
      'Give an empty or absent folder for the recovered copy (or use mode: in-place, behind its interlocks)',
    );
}

function parsePlace(v: PitrValues, name: (n: string) => string): PitrPlace {
  const mode = v.mode;
  // A plan touches nothing and may run on another machine than the database host.
  if (v['plan-only']) return { mode, planOnly: true };
  if (mode === 'drill') return { mode, planOnly: false };
  if (!v['data-directory'])
    throw new UserError(
      name('data-directory'),
      `is empty, but mode is ${mode}`,
      'Give the data directory to recover into',
    );
  const dataDirectory = path.resolve(v['data-directory']);
  if (mode === 'side-by-side') {
    checkCloneTarget(dataDirectory, name('data-directory'));
    return { mode, planOnly: false, dataDirectory };
  }
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
  return {
    mode,
    planOnly: false,
    dataDirectory,
    confirm: v.confirm.trim(),
    ...(v['stop-command'] ? { stopCommand: v['stop-command'] } : {}),
    ...(v['start-command'] ? { startCommand: v['start-command'] } : {}),
    ...(v['check-url'] ? { checkUrl: v['check-url'] } : {}),
  };
}

export function parsePitrOptions(
  raw: Record<string, string | undefined>,
  how: How,
  log: Logger = silentLogger,
): PitrOptions {
  const v = readInputs(pitrSpec.command, pitrInputs, raw, how);
  const name = nameFor(how);
  const target = parseTarget(v, name);
  const source = parseSource(v, name);
  const config = loadConfig(name('config'), v.config);
  const place = parsePlace(v, name);
  const compare = parseCompareRung(v, how, log);
  // Its password is a secret whatever the mode.
  if (v['check-url']) parseDbUrl(name('check-url'), v['check-url'], (s) => log.secret(s));
  return {
    ...source,
    ...place,
    ...(v.backup ? { backup: v.backup.trim() } : {}),
    target,
    inclusive: v['target-inclusive'],
    targetTimeline: v['target-timeline'],
    ...(v.port ? { port: v.port } : {}),
    prefetch: v.prefetch,
    config,
    keep: v.keep,
    ...(compare ? { compare } : {}),
    ...(v.history ? { history: v.history } : {}),
    failOn: v['fail-on'],
    ...(v.report ? { report: v.report } : {}),
    s3: s3Options(v),
    ...(v['pg-bin-dir'] ? { pgBinDir: v['pg-bin-dir'] } : {}),
    ...(v['os-user'] ? { osUser: parseOsUser(name('os-user'), v['os-user']) } : {}),
  };
}
