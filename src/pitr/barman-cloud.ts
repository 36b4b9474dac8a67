/**
 * Barman Cloud (`barman-cloud-backup` and `barman-cloud-wal-archive` into S3, seed 001's cloud
 * setup): its catalogue from `barman-cloud-backup-list`, the bucket's own listing for the plan,
 * `barman-cloud-restore` into Restorable's folder and `barman-cloud-wal-restore` as
 * restore_command. Every name that reaches an argv is checked first, and the keys reach the
 * recovered server through a 0600 file beside it, never an argv nor its data directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseLsn } from '../archive/wal.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { chownTree, ownedDir, ownedFile } from '../postgres/recovery.js';
import { parseS3Url, S3Source } from '../sources/s3.js';
import type { BackupObject } from '../sources/types.js';
import { coverageEnd, type PitrBackend, type PlannedBackup, type Restored } from './backends.js';
import { BARMAN_NAME, barmanTime, tablespaceMaps } from './barman.js';
import { checkRestoredFolder } from './barman-folder.js';
import { tablespaceRoot } from './journal.js';
import type { PitrTarget } from './options.js';
import { type Coverage, type TargetTimeline, WalArchive } from './wal-archive.js';
import { onPath, shellWord } from './walg.js';

export const CLOUD_INSTALL = 'apt-get install barman-cli-cloud python3-boto3 (Debian/Ubuntu)';

/** Where Barman Cloud writes, as its tools name it, and how to reach the store. */
export interface CloudPlace {
  /** `s3://bucket[/prefix]`, checked by parseCloudUrl. */
  url: string;
  /** The server name (a folder under the prefix), checked against BARMAN_NAME. */
  server: string;
  /** An S3-compatible endpoint, checked by parseEndpoint. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

/**
 * barman-cloud's source URL: an S3 bucket and a prefix of plain path words. It reaches argv and
 * restore_command, so nothing but letters, digits, `._-` and single slashes passes.
 */
export function parseCloudUrl(input: string, value: string): string {
  const v = value.trim();
  const { bucket, prefix } = parseS3Url(input, v);
  const p = prefix.replace(/\/$/, '');
  if (p && (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p) || p.split('/').some((w) => /^\.+$/.test(w))))
    throw new UserError(
      input,
      `the prefix "${p}" of "${v}" is not a plain path`,
      'Use letters, digits, . _ - and single slashes, as given to barman-cloud-backup (no .. or empty parts)',
    );
  return `s3://${bucket}${p ? `/${p}` : ''}`;
}

/** An endpoint URL for --endpoint-url: http or https, a host, no credentials, query or fragment. */
export function parseEndpoint(input: string, value: string): string {
  const v = value.trim();
  let u: URL | undefined;
  try {
    u = /^https?:\/\/[^\s'"\\%]+$/i.test(v) ? new URL(v) : undefined;
  } catch {
    u = undefined;
  }
  const fix =
    'Give the S3 endpoint as http(s)://host[:port], e.g. https://<account>.r2.cloudflarestorage.com';
  if (!u?.hostname) throw new UserError(input, `"${v}" is not an http(s) endpoint URL`, fix);
  if (u.username || u.password)
    throw new UserError(input, 'holds a user name or password', `${fix}; keys go in AWS_* variables`);
  if (u.search || u.hash) throw new UserError(input, `"${v}" has a query or fragment`, fix);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The three lines of a tool's error output a person needs. */
const tail = (r: { stderr: string; stdout: string }) =>
  (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');

/**
 * barman-cloud-restore, with each tar member checked before Python's tarfile writes it: Barman
 * 3.4 extracts a backup's tar files unfiltered (and Debian 12's Python 3.11.2 has no
 * `data_filter`), so a crafted backup could write outside the folder. Refused: absolute names,
 * names or links that leave the folder (resolved through what is already on disk), devices and
 * FIFOs; setuid, setgid and sticky bits are dropped.
 */
const SAFE_RESTORE = `import os, sys, tarfile
def inside(root, p):
    return p == root or p.startswith(root + os.sep)
def checked(members, dst):
    root = os.path.realpath(dst)
    for m in members:
        where = os.path.join(root, m.name)
        if os.path.isabs(m.name) or not inside(root, os.path.realpath(where)):
            raise ValueError("the backup's member %r would be written outside %s" % (m.name, root))
        if m.issym() or m.islnk():
            base = os.path.dirname(where) if m.issym() else root
            if os.path.isabs(m.linkname) or not inside(root, os.path.realpath(os.path.join(base, m.linkname))):
                raise ValueError("the backup's member %r links outside %s" % (m.name, root))
        elif not (m.isfile() or m.isdir()):
            raise ValueError("the backup's member %r is a device or FIFO" % m.name)
        m.mode &= 0o777
        yield m
plain = tarfile.TarFile.extractall
def extractall(self, path=".", members=None, **kw):
    return plain(self, path, checked(self if members is None else members, path), **kw)
tarfile.TarFile.extractall = extractall
sys.argv[0] = "barman-cloud-restore"
from barman.clients.cloud_restore import main
sys.exit(main())
`;

/** The Python that runs barman-cloud-restore: the one its script names (its #! line). */
function restorePython(): string {
  const script = onPath('barman-cloud-restore');
  let first = '';
  try {
    first = fs.readFileSync(script, 'utf8').split('\n')[0] ?? '';
  } catch {
    throw new ToolMissingError('barman-cloud-restore', CLOUD_INSTALL);
  }
  const m = /^#!\s*(\/\S+python[\d.]*)\s*$/.exec(first);
  return m?.[1] ?? 'python3';
}

interface CloudEntry {
  backup_id: string;
  tablespaces: { name: string; location: string }[];
  beginLsn?: bigint;
}

/** One entry of `barman-cloud-backup-list --format json`, its fields checked one by one. */
function parseEntry(o: Record<string, unknown>): { entry: CloudEntry; planned: PlannedBackup } | undefined {
  const id = typeof o.backup_id === 'string' ? o.backup_id : '';
  // An id goes into argv and into a key of the bucket: one that could be a flag or a path is not one.
  if (o.status !== 'DONE' || !BARMAN_NAME.test(id)) return undefined;
  const lsn = (v: unknown) => (typeof v === 'string' ? parseLsn(v) : undefined);
  const startLsn = lsn(o.begin_xlog);
  const endLsn = lsn(o.end_xlog);
  const wal = typeof o.begin_wal === 'string' && /^[0-9A-F]{24}$/.test(o.begin_wal) ? o.begin_wal : '';
  const timeline =
    typeof o.timeline === 'number' && Number.isInteger(o.timeline) && o.timeline > 0
      ? o.timeline
      : wal
        ? Number.parseInt(wal.slice(0, 8), 16)
        : 1;
  // Barman's tablespaces: [name, oid, location] (its namedtuple in JSON) or {name, location}.
  const tablespaces = (Array.isArray(o.tablespaces) ? o.tablespaces : []).map((t: unknown) => {
    const x = (Array.isArray(t) ? { name: t[0], location: t[2] } : (t ?? {})) as Record<string, unknown>;
    return { name: String(x.name ?? ''), location: String(x.location ?? '') };
  });
  return {
    entry: { backup_id: id, tablespaces, ...(startLsn !== undefined ? { beginLsn: startLsn } : {}) },
    planned: {
      id,
      ...(startLsn !== undefined ? { startLsn } : {}),
      ...(endLsn !== undefined ? { endLsn } : {}),
      timeline,
      size: 0,
    },
  };
}

/** backup.info's begin_time and end_time (with their zone; the JSON list prints them without). */
function infoTimes(text: string | undefined): { startTime?: Date; stopTime?: Date } {
  const field = (k: string) => barmanTime(new RegExp(`^${k}=(.{10,40})$`, 'm').exec(text ?? '')?.[1]);
  const startTime = field('begin_time');
  const stopTime = field('end_time');
  return { ...(startTime ? { startTime } : {}), ...(stopTime ? { stopTime } : {}) };
}

/** The keys and region of this run, as a boto3 config file (one profile, `default`). */
function botoConfig(place: CloudPlace): string {
  const env = process.env;
  const values: [key: string, from: string, value: string | undefined][] = [
    ['aws_access_key_id', 'AWS_ACCESS_KEY_ID', env.AWS_ACCESS_KEY_ID],
    ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', env.AWS_SECRET_ACCESS_KEY],
    ['aws_session_token', 'AWS_SESSION_TOKEN', env.AWS_SESSION_TOKEN],
    ['region', 's3-region', place.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION],
  ];
  const lines = ['[default]'];
  for (const [key, from, value] of values) {
    if (!value) continue;
    // One value a line: a line break would write settings of its own into the file.
    if (/[\r\n]/.test(value))
      throw new UserError(from, 'holds a line break', 'Give the value on one line, as the store issued it');
    lines.push(`${key} = ${value}`);
  }
  if (place.forcePathStyle ?? place.endpoint !== undefined) lines.push('s3 =', '    addressing_style = path');
  return `${lines.join('\n')}\n`;
}

/**
 * Barman Cloud on S3. Its tools run as the server's OS user (as archive_command does), with the
 * AWS_* variables of this process; the recovered server gets the keys from a 0600 file of its
 * user's, beside its data directory, removed when recovery ends.
 */
export class BarmanCloudBackend implements PitrBackend {
  readonly description: string;
  private entries = new Map<string, CloudEntry>();
  private objects: BackupObject[] | undefined;
  private readonly store: S3Source;
  /** The recovered server's boto3 file, made (and its values checked) before anything runs. */
  private readonly botoFile: string;

  constructor(
    private readonly place: CloudPlace,
    private readonly osUser: string | undefined,
    log: Logger,
    private readonly timeline: TargetTimeline = 'latest',
  ) {
    this.description = `Barman Cloud ${place.url} server ${place.server}`;
    this.botoFile = botoConfig(place);
    this.store = S3Source.fromUrl(
      'barman-cloud-url',
      `${place.url}/${place.server}`,
      {
        ...(place.endpoint ? { endpoint: place.endpoint } : {}),
        ...(place.region ? { region: place.region } : {}),
        ...(place.forcePathStyle !== undefined ? { forcePathStyle: place.forcePathStyle } : {}),
      },
      log,
    );
  }

  /** The options every barman-cloud tool takes, then `--`: what follows is never an option. */
  private args(extra: string[], positional: string[]): string[] {
    const ep = this.place.endpoint ? ['--endpoint-url', this.place.endpoint] : [];
    return [...ep, ...extra, '--', this.place.url, this.place.server, ...positional];
  }

  private async tool(cmd: string, argv: string[]) {
    return run(cmd, argv, {
      user: this.osUser,
      inherit: ['AWS_'],
      env: this.place.region ? { AWS_DEFAULT_REGION: this.place.region } : {},
      install: CLOUD_INSTALL,
    });
  }

  private async listed(): Promise<BackupObject[]> {
    this.objects ??= await this.store.list();
    return this.objects;
  }

  async list(): Promise<PlannedBackup[]> {
    const r = await this.tool('barman-cloud-backup-list', this.args(['--format', 'json'], []));
    if (r.code !== 0)
      throw new UserError(
        'barman-cloud-url',
        `barman-cloud-backup-list ${this.place.url} ${this.place.server} failed: ${tail(r)}`,
        'Check barman-cloud-url, barman-server and s3-endpoint, and the AWS_* keys in the environment',
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch (e) {
      throw new Error(`barman-cloud-backup-list printed no JSON: ${errorMessage(e)}`);
    }
    const list = (parsed as { backups_list?: unknown } | null)?.backups_list;
    const objects = await this.listed();
    const out: PlannedBackup[] = [];
    for (const o of Array.isArray(list) ? list : []) {
      const got = parseEntry((o ?? {}) as Record<string, unknown>);
      if (!got) continue;
      const dir = `base/${got.entry.backup_id}/`;
      const info = await this.store.readText(`${dir}backup.info`, 64 * 1024);
      const size = objects.filter((x) => x.name.startsWith(dir)).reduce((n, x) => n + x.size, 0);
      this.entries.set(got.entry.backup_id, got.entry);
      out.push({ ...got.planned, ...infoTimes(info), size });
    }
    // Oldest first, as the plan expects.
    return out.sort((a, b) => (a.stopTime?.getTime() ?? 0) - (b.stopTime?.getTime() ?? 0));
  }

  /** The bucket's wals/ as it stands: an object removed from it is a gap whatever Barman says. */
  async coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage> {
    const wals = (await this.listed()).filter((o) => o.name.startsWith('wals/'));
    const wal = new WalArchive(this.store, wals);
    return wal.coverage(b.startLsn ?? 0n, b.timeline, coverageEnd(target, b), b.endLsn, this.timeline);
  }

  async restore(
    b: PlannedBackup,
    dataDir: string,
    spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored> {
    const entry = this.entries.get(b.id) as CloudEntry;
    ownedDir(dataDir, owner);
    const tblspcRoot = tablespaceRoot(dataDir);
    // Every tablespace beside the restored folder: by default Barman writes them where production has them.
    const maps = tablespaceMaps(entry, tblspcRoot);
    if (maps.length) ownedDir(tblspcRoot, owner);
    const relocate = maps.flatMap((m) => ['--tablespace', `${m.name}:${m.location}`]);
    const r = await this.tool(restorePython(), ['-c', SAFE_RESTORE, ...this.args(relocate, [b.id, dataDir])]);
    if (r.code !== 0) throw new Error(`barman-cloud-restore ${b.id} failed: ${tail(r)}`);
    checkRestoredFolder(dataDir, entry.beginLsn, maps, { tool: 'barman-cloud-restore', copiedWal: false });
    if (maps.length) chownTree(tblspcRoot, owner);
    const config = ownedFile(path.join(ownedDir(spoolDir, owner), 'aws-config'), this.botoFile, owner);
    const files = `AWS_CONFIG_FILE=${shellWord(config)} AWS_SHARED_CREDENTIALS_FILE=${shellWord(config)}`;
    const words = this.args([], []).map(shellWord).join(' ');
    return {
      settings: {
        restore_command: `env ${files} ${shellWord(onPath('barman-cloud-wal-restore'))} ${words} "%f" "%p"`,
      },
      cleanup: () => fs.rmSync(spoolDir, { recursive: true, force: true }),
    };
  }
}
