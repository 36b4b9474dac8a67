import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { memoryLogger } from '../../src/core/log.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { PARALLEL_OBJECTS } from '../../src/pitr/native.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { pitrFacts } from '../../src/pitr/present.js';
import { pitrOutputs, runPitr } from '../../src/pitr/run.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import { removeCluster, type ScratchCluster } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { stageProgress } from '../../src/report/progress.js';
import { runBundle } from '../harness/actions.js';
import { tempDir } from '../harness/pg.js';
import { archiveNow, baseBackup, query, serverDir, sleep, startArchiving } from '../harness/pitr.js';
import { type S3Harness, startS3 } from '../harness/s3.js';

let prod: ScratchCluster;
let archive: string;
let base: string;
let beforeTarget: string;
let afterLastCommit: string;
let frozen: string;
const cleanup: (() => Promise<void> | void)[] = [];

const rules = (r: { findings: { rule: string }[] }) => r.findings.map((f) => f.rule);

function config(extra = ''): string {
  const file = path.join(tempDir('pitr-config'), 'restorable.yml');
  fs.writeFileSync(
    file,
    `pitr:
  checks:
    - name: orders from before the target
      sql: select count(*) from orders where batch <= 2
      expect: "== 200"
      asserts: before-target
    - name: no order from after the target
      sql: select count(*) from orders where batch = 3
      expect: "== 0"
      asserts: after-target
${extra}`,
  );
  return file;
}

beforeAll(async () => {
  archive = serverDir('pitr-archive');
  base = serverDir('pitr-base');
  prod = await startArchiving('test-pitr-prod', archive);
  await query(
    prod,
    'CREATE TABLE orders (id serial PRIMARY KEY, batch int, at timestamptz DEFAULT clock_timestamp())',
  );
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  await baseBackup(prod, path.join(base, 'b1'));
  await query(prod, 'INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100)');
  await sleep(1100);
  beforeTarget = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await archiveNow(prod);
  await sleep(1100);
  afterLastCommit = new Date().toISOString();
  await sleep(1100);
  // WAL without a commit after the last one: archived after afterLastCommit, yet no commit follows it.
  await query(prod, "SELECT pg_create_restore_point('no-commit-after')");
  await archiveNow(prod);
  // The archive as it is now, whatever later tests add to the live one (markers are commits).
  frozen = serverDir('pitr-frozen');
  fs.cpSync(archive, frozen, { recursive: true, preserveTimestamps: true });
}, 120_000);

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await prod?.stop();
});

const native = (extra: Record<string, string> = {}) =>
  parsePitrOptions({ 'base-backups': base, 'wal-archive': archive, ...extra }, 'input');

describe('pitr-restore drill (native, local)', () => {
  it('recovers to a time, proves both halves, and tears down', async () => {
    const log = memoryLogger();
    // The stage-progress listener, asked every 100 ms: the recover stage's line is WAL replayed of the plan's range.
    const progress: string[] = [];
    const listener = stageProgress({ line: (l) => progress.push(l) }, (s) => `${s.name} ended`, 100);
    const r = await runPitr(native({ 'target-time': beforeTarget, config: config() }), log, listener);
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.findings).toEqual([]);
    expect(r.plan?.backup).toBe('b1');
    expect(r.plan?.walSegments).toBeGreaterThan(0);
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/recovery stopping/);
    expect(new Date(r.recoveredTo as string).getTime()).toBeLessThanOrEqual(new Date(beforeTarget).getTime());
    expect(r.stages.map((s) => `${s.name}:${s.status}`)).toEqual([
      'plan:ok',
      'fetch:ok',
      'recover:ok',
      'checks:ok',
      'compare:skipped',
      'teardown:ok',
    ]);
    expect(r.wal?.fetched).toBeGreaterThan(0);
    expect(
      progress.some((l) =>
        /^▸ recover +\d+s {2}replayed to .* of [0-9A-F]+\/[0-9A-F]+: \d+\/\d+ segment\(s\) fetched, /.test(l),
      ),
      progress.join('\n'),
    ).toBe(true);
    expect(progress).toContain('recover ended');
  }, 120_000);

  it('plan-only chooses the backup and checks the WAL without touching anything (also for in-place)', async () => {
    const r = await runPitr(
      native({ 'target-time': beforeTarget, 'plan-only': 'true', mode: 'in-place' }),
      memoryLogger(),
    );
    expect(r.verdict).toBe('pass');
    expect(r.stages.map((s) => `${s.name}:${s.status}`)).toEqual([
      'plan:ok',
      'fetch:skipped',
      'recover:skipped',
      'checks:skipped',
      'compare:skipped',
      'teardown:skipped',
    ]);
    const out = pitrOutputs(r, '');
    expect(out['base-backup']).toBe('b1');
    expect(out['wal-range']).toMatch(/^[0-9A-F]{24}\.\.[0-9A-F]{24}$/);
  });

  it('the pitr-restore action: plant-marker, then a kept drill to it with every output; the post step removes it', async () => {
    const work = tempDir('pitr-action');
    const plant = runBundle(work, 'pitr-restore', { 'plant-marker': 'true', 'marker-url': prod.url() });
    expect(plant.code, plant.stdout).toBe(0);
    const name = plant.outputs['target-name'] as string;
    expect(name).toMatch(/^restorable-marker-/);
    expect(plant.summary).toContain(name);
    await archiveNow(prod);
    const main = runBundle(work, 'pitr-restore', {
      'base-backups': base,
      'wal-archive': archive,
      'target-name': name,
      keep: 'true',
      report: path.join(work, 'pitr.json'),
    });
    expect(main.code, main.stdout).toBe(0);
    expect(main.outputs).toMatchObject({
      verdict: 'pass',
      'base-backup': 'b1',
      report: path.join(work, 'pitr.json'),
    });
    for (const k of ['recovered-to', 'wal-segments', 'wal-range', 'replay-seconds', 'total-seconds'])
      expect(main.outputs[k], k).not.toBe('');
    // For later steps' tools: the password inline, masked in the log; the summary shows none.
    const password = /^postgresql:\/\/postgres:([0-9a-f]{64})@127\.0\.0\.1:\d+\/postgres$/.exec(
      main.outputs['database-url'] as string,
    )?.[1] as string;
    expect(password).toBeDefined();
    expect(
      main.stdout.split('\n').filter((l) => l.includes(password) && !l.startsWith('::add-mask::')),
    ).toEqual([]);
    expect(main.summary).not.toContain(password);
    expect(main.summary).toMatch(/## pitr-restore: ✅ PASS/);
    expect(main.summary).toMatch(/\| base backup \| b1/);
    const kept = main.saved['kept-target'] as string;
    expect(fs.existsSync(path.join(kept, 'data'))).toBe(true);
    const post = runBundle(work, 'pitr-restore', {}, { 'is-post': 'true', 'kept-target': kept });
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toMatch(/removed the kept recovered cluster/);
    expect(fs.existsSync(kept)).toBe(false);
  }, 120_000);

  it('the restorable pitr command: a drill, --json outputs, exit 0; a bad flag exits 2 with one line', () => {
    const cli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/cli/index.js');
    const cfg = config();
    const ok = spawnSync(
      process.execPath,
      [
        cli,
        'pitr',
        '--base-backups',
        base,
        '--wal-archive',
        archive,
        '--target-time',
        beforeTarget,
        '--config',
        cfg,
        '--json',
      ],
      { encoding: 'utf8' },
    );
    expect(ok.status, ok.stderr).toBe(0);
    const outputs = (JSON.parse(ok.stdout) as { outputs: Record<string, string> }).outputs;
    expect(outputs.verdict).toBe('pass');
    expect(outputs['recovered-to']).not.toBe('');
    const bad = spawnSync(
      process.execPath,
      [cli, 'pitr', '--base-backups', base, '--wal-archive', archive, '--target-time', 'yesterday'],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toMatch(
      /^restorable: --target-time: "yesterday" is not an ISO 8601 time\. Write the time/,
    );
  }, 120_000);

  it('without checks the server log proves a time target, and the checks fail when the data is wrong', async () => {
    const r = await runPitr(native({ 'target-time': beforeTarget }), memoryLogger());
    expect(rules(r)).toEqual([]);
    expect(r.proof?.holds).toBe(true);
    expect(r.verdict).toBe('pass');
    // Recovering to another point than the checks describe: they fire.
    const early = await runPitr(native({ 'target-immediate': 'true', config: config() }), memoryLogger());
    expect(rules(early)).toEqual(['SEMANTICS_FAILED']);
    expect(early.verdict).toBe('fail');
  }, 120_000);

  it('finds a WAL gap before restoring anything', async () => {
    const holed = serverDir('pitr-holed');
    fs.cpSync(archive, holed, { recursive: true, preserveTimestamps: true });
    const segs = fs
      .readdirSync(holed)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort();
    const victim = segs[Math.floor(segs.length / 2)] as string;
    fs.rmSync(path.join(holed, victim));
    const r = await runPitr(native({ 'wal-archive': holed, 'target-time': afterLastCommit }), memoryLogger());
    expect(rules(r)).toEqual(['WAL_GAP']);
    expect(r.findings[0]?.message).toContain(victim);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('reports a target before the oldest backup, and one past the end of the archive', async () => {
    const early = await runPitr(native({ 'target-time': '2020-01-01T00:00:00Z' }), memoryLogger());
    expect(rules(early)).toEqual(['PITR_TARGET_BEFORE_BACKUP']);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const late = await runPitr(native({ 'target-time': future }), memoryLogger());
    expect(rules(late)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(late.verdict).toBe('fail');
  }, 60_000);

  it('never reports success when recovery ends before a time with no later commit', async () => {
    const r = await runPitr(
      native({ 'wal-archive': frozen, 'target-time': afterLastCommit, config: config() }),
      memoryLogger(),
    );
    expect(rules(r)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(r.verdict).toBe('fail');
    expect(r.stages.find((s) => s.name === 'recover')?.status).toBe('failed');
    // Where the WAL ends is named: the segment after the archive's last, which recovery asked for.
    const last = fs
      .readdirSync(frozen)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort()
      .at(-1) as string;
    const next = (BigInt(`0x${last.slice(16)}`) + 1n).toString(16).toUpperCase().padStart(8, '0');
    expect(r.findings[0]?.message).toContain(`the WAL archive has no ${last.slice(0, 16)}${next}`);
  }, 120_000);

  it('recovers to a planted marker and asserts both halves by itself', async () => {
    const marker = await plantMarker(prod.url(), memoryLogger());
    await archiveNow(prod);
    const r = await runPitr(native({ 'target-name': marker.name }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.map((c) => c.ok)).toEqual([true, true]);
  }, 120_000);

  it('keep leaves the recovered cluster up for later steps, and compare runs against it', async () => {
    const marker = await plantMarker(prod.url(), memoryLogger());
    await archiveNow(prod);
    const r = await runPitr(
      native({ 'target-name': marker.name, keep: 'true', 'compare-source-url': prod.url() }),
      memoryLogger(),
    );
    try {
      // The marker's own table lost its "after" row by design (a change since the target, not a failure).
      expect(r.findings.map((f) => `${f.rule}:${f.evidence?.table ?? ''}`)).toEqual([
        'PITR_CHANGED_SINCE_TARGET:restorable.pitr_marker',
      ]);
      expect(r.verdict).toBe('pass');
      expect(r.compare?.compared).toBeGreaterThanOrEqual(2);
      // No password shown: the URL names the kept cluster's 0600 password file, which the client reads.
      expect(r.databaseUrl).toMatch(
        /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?passfile=.*pgpass$/,
      );
      const n = await withClient(
        parseDbUrl('x', r.databaseUrl as string, () => {}),
        async (c) => Number((await c.query('select count(*) as n from orders')).rows[0].n),
      );
      expect(n).toBe(300);
      expect(r.stages.find((s) => s.name === 'teardown')?.status).toBe('skipped');
    } finally {
      expect(await removeCluster(r.handle as string)).toBe(true);
    }
    expect(fs.existsSync(r.handle as string)).toBe(false);
  }, 120_000);

  it('recovers to the end of the backup (target-immediate)', async () => {
    const r = await runPitr(native({ 'target-immediate': 'true' }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_UNASSERTED']);
    expect(r.stopLine).toMatch(/consistency/);
  }, 120_000);

  it('finds a damaged base backup with pg_verifybackup, and one without a manifest', async () => {
    const bad = serverDir('pitr-bad');
    fs.cpSync(path.join(base, 'b1'), path.join(bad, 'b1'), { recursive: true });
    const victim = path.join(bad, 'b1', 'global', 'pg_control');
    const bytes = fs.readFileSync(victim);
    bytes[100] = (bytes[100] as number) ^ 0xff;
    fs.writeFileSync(victim, bytes);
    const r = await runPitr(native({ 'base-backups': bad, 'target-time': beforeTarget }), memoryLogger());
    expect(rules(r)).toContain('BASE_BACKUP_CORRUPT');
    const bare = serverDir('pitr-bare');
    fs.cpSync(path.join(base, 'b1'), path.join(bare, 'b1'), { recursive: true });
    fs.rmSync(path.join(bare, 'b1', 'backup_manifest'));
    const u = await runPitr(
      native({ 'base-backups': bare, 'target-time': beforeTarget, config: config() }),
      memoryLogger(),
    );
    expect(rules(u)).toEqual(['BASE_BACKUP_UNVERIFIED']);
  }, 120_000);
});

describe('pitr-restore from S3 (tar.gz base backup)', () => {
  let s3: S3Harness;
  const saved = { ...process.env };
  beforeAll(async () => {
    s3 = await startS3();
    Object.assign(process.env, s3.env);
    await s3.bucket('pitr');
    const tarDir = serverDir('pitr-tar');
    await baseBackup(prod, path.join(tarDir, 'b2'), 'tar.gz');
    for (const f of fs.readdirSync(path.join(tarDir, 'b2')))
      await s3.put('pitr', `base/2026-11-21T03-00-00Z/${f}`, fs.readFileSync(path.join(tarDir, 'b2', f)));
    await query(prod, 'INSERT INTO orders (batch) SELECT 4 FROM generate_series(1, 50)');
    await archiveNow(prod);
    for (const f of fs.readdirSync(archive)) {
      const bytes = fs.readFileSync(path.join(archive, f));
      // Half the segments gzipped, as an archive_command that compresses leaves them.
      const gz = /^[0-9A-F]{24}$/.test(f) && Number.parseInt(f.slice(-1), 16) % 2 === 0;
      await s3.put(
        'pitr',
        `wal/${f}${gz ? '.gz' : ''}`,
        gz ? (await import('node:zlib')).gzipSync(bytes) : bytes,
      );
    }
  }, 120_000);
  afterAll(async () => {
    process.env = saved;
    await s3?.stop();
  });

  it('recovers from a tar.gz base backup and gzipped WAL in S3', async () => {
    const marker = await plantMarker(prod.url(), memoryLogger());
    await archiveNow(prod);
    for (const f of fs.readdirSync(archive)) {
      if (!/^[0-9A-F]{24}$/.test(f)) continue;
      await s3.put('pitr', `wal/${f}`, fs.readFileSync(path.join(archive, f)));
    }
    const r = await runPitr(
      parsePitrOptions(
        {
          'base-backups': 's3://pitr/base',
          'wal-archive': 's3://pitr/wal',
          's3-endpoint': s3.endpoint,
          'target-name': marker.name,
        },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.backup).toBe('2026-11-21T03-00-00Z');
  }, 180_000);

  it(`fetches the objects of a plain base backup ${PARALLEL_OBJECTS} at a time`, async () => {
    const dir = serverDir('pitr-plain-s3');
    await baseBackup(prod, path.join(dir, 'b3'));
    await archiveNow(prod);
    const b3 = path.join(dir, 'b3');
    for (const f of fs.readdirSync(b3, { recursive: true, withFileTypes: true }))
      if (f.isFile()) {
        const file = path.join(f.parentPath, f.name);
        await s3.put('pitr', `plain/b3/${path.relative(b3, file)}`, fs.readFileSync(file));
      }
    for (const f of fs.readdirSync(archive))
      if (/^[0-9A-F]{24}(\.[0-9A-F]{8}\.backup)?$/.test(f))
        await s3.put('pitr', `wal/${f}`, fs.readFileSync(path.join(archive, f)));
    // Every ranged GET is held unanswered: the objects in flight at once are the fetch's width (a
    // large object has several ranged GETs of its own: objects are counted, not requests).
    const release = s3.holdRangedGets(0);
    const inFlight = () =>
      new Set(
        s3.requests
          .filter((q) => q.url.startsWith('/pitr/plain/') && q.range && q.finished === undefined)
          .map((q) => q.url),
      ).size;
    const running = runPitr(
      parsePitrOptions(
        {
          'base-backups': 's3://pitr/plain',
          'wal-archive': 's3://pitr/wal',
          's3-endpoint': s3.endpoint,
          'target-immediate': 'true',
        },
        'input',
      ),
      memoryLogger(),
    );
    let widest = 0;
    for (let i = 0; i < 200 && widest < PARALLEL_OBJECTS; i++) {
      widest = Math.max(widest, inFlight());
      await sleep(50);
    }
    await sleep(500);
    widest = Math.max(widest, inFlight());
    release();
    const r = await running;
    expect(widest).toBe(PARALLEL_OBJECTS);
    expect(r.verdict, JSON.stringify(r.findings)).not.toBe('fail');
    expect(r.stages.find((s) => s.name === 'recover')?.status).toBe('ok');
  }, 180_000);
});

describe('pitr-restore from compressed WAL, as archivers lay it out', () => {
  const CODECS = [
    ['gzip', '.gz'],
    ['bzip2', '.bz2'],
    ['lz4', '.lz4'],
    ['zstd', '.zst'],
    ['xz', '.xz'],
  ] as const;
  const packed = (tool: string, file: string): Buffer => {
    const r = spawnSync(tool, ['-c', '-q', file], { maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${tool} -c failed: ${r.stderr}`);
    return r.stdout;
  };
  const sha1 = (file: string) =>
    (spawnSync('sha1sum', [file], { encoding: 'utf8' }).stdout.split(' ')[0] as string).trim();
  /** Where each layout puts a WAL file of the frozen archive, compressed with codec `c` (segments). */
  const LAYOUTS = {
    // archive_command = 'gzip < %p > /archive/%f.gz' and its siblings, one codec after the other.
    suffixes: (f: string, c: (typeof CODECS)[number]) => ({ rel: `${f}${c[1]}`, tool: c[0] }),
    // Barman: wals/<timeline+log>/<segment>, compressed in place under the bare name.
    barman: (f: string, c: (typeof CODECS)[number]) => ({ rel: `wals/${f.slice(0, 16)}/${f}`, tool: c[0] }),
    // pgBackRest: <version>/<timeline+log>/<segment>-<sha1>.<suffix>.
    pgbackrest: (f: string, c: (typeof CODECS)[number], file: string) => ({
      rel: `15-1/${f.slice(0, 16)}/${f}-${sha1(file)}${c[1]}`,
      tool: c[0],
    }),
  };
  /** A copy of the frozen archive laid out as `layout` does, segment i compressed by `codec(i)`. */
  function compressedArchive(layout: keyof typeof LAYOUTS, codec = (i: number) => i % CODECS.length): string {
    const dir = serverDir(`pitr-wal-${layout}`);
    fs.readdirSync(frozen)
      .sort()
      .forEach((f, i) => {
        const file = path.join(frozen, f);
        const segment = /^[0-9A-F]{24}$/.test(f);
        const place = LAYOUTS[layout](f, CODECS[codec(i)] as (typeof CODECS)[number], file);
        const rel = segment ? place.rel : layout === 'barman' ? `wals/${f}` : f;
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), segment ? packed(place.tool, file) : fs.readFileSync(file));
      });
    return dir;
  }
  const recovers = async (dir: string) => {
    const r = await runPitr(
      native({ 'wal-archive': dir, 'target-time': beforeTarget, config: config() }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.wal?.fetched).toBeGreaterThan(0);
  };

  it.each(CODECS.map((c, i) => [c[1], i] as const))(
    'plans and recovers from %s segments (archive_command compressing into <segment><suffix>)',
    async (_suffix, n) => recovers(compressedArchive('suffixes', () => n)),
    120_000,
  );

  it.each(['barman', 'pgbackrest'] as const)(
    'plans and recovers from segments laid out as %s writes them (codecs mixed)',
    async (layout) => recovers(compressedArchive(layout)),
    120_000,
  );

  it('names a damaged compressed segment and never reports success', async () => {
    const dir = compressedArchive('suffixes');
    const history = fs.readdirSync(frozen).find((f) => f.endsWith('.backup')) as string;
    const start = history.slice(0, 24);
    const victim = fs
      .readdirSync(dir)
      .find((f) => /^[0-9A-F]{24}\.[a-z0-9]+$/.test(f) && f.startsWith(start)) as string;
    const bytes = fs.readFileSync(path.join(dir, victim));
    fs.writeFileSync(path.join(dir, victim), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = await runPitr(native({ 'wal-archive': dir, 'target-time': beforeTarget }), memoryLogger());
    expect(r.verdict, JSON.stringify([r.findings, r.stages.filter((s) => s.status !== 'ok')])).toBe('fail');
    expect(rules(r)[0]).toBe('WAL_CORRUPT');
    expect(r.findings[0]?.message).toContain(start);
    expect(r.findings[0]?.message).toContain(victim);
  }, 120_000);
});

describe('pitr-restore side-by-side', () => {
  it('recovers into an empty folder and leaves it running', async () => {
    const dir = path.join(serverDir('pitr-sbs'), 'clone');
    const r = await runPitr(
      native({ mode: 'side-by-side', 'data-directory': dir, 'target-time': beforeTarget, config: config() }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.databaseUrl).toMatch(/^postgresql:\/\/postgres@localhost:\d+\/postgres\?host=/);
    // The URL alone reaches it (its ?host= is the private socket folder).
    const conn = parseDbUrl('database-url', r.databaseUrl as string, () => {});
    expect(conn.host).toBe(`${dir}.restorable-socket`);
    const n = await withClient(conn, async (c) =>
      Number((await c.query('select count(*) as n from orders')).rows[0].n),
    );
    expect(n).toBe(200);
    const auto = fs.readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toMatch(/archive_mode = 'off'/);
    expect(auto).not.toMatch(/restore_command/);
    const { run } = await import('../../src/core/exec.js');
    await run(path.join(prod.bin.dir, 'pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop'], {
      user: prod.osUser,
    });
  }, 120_000);

  it('refuses a folder that is not empty, or holds a running server, and changes nothing', () => {
    expect(() =>
      native({ mode: 'side-by-side', 'data-directory': prod.dataDir, 'target-time': beforeTarget }),
    ).toThrow(/holds a running server/);
    const full = serverDir('pitr-full');
    fs.writeFileSync(path.join(full, 'keep-me'), 'x');
    expect(() =>
      native({ mode: 'side-by-side', 'data-directory': full, 'target-time': beforeTarget }),
    ).toThrow(/is not empty/);
    expect(fs.readFileSync(path.join(full, 'keep-me'), 'utf8')).toBe('x');
    // The folder a backup's tablespaces go to, beside it: refused unless empty, and left as it is.
    const clone = path.join(serverDir('pitr-beside'), 'clone');
    fs.mkdirSync(`${clone}.tablespaces`);
    const side = { mode: 'side-by-side', 'data-directory': clone, 'target-time': beforeTarget };
    expect(() => native(side)).not.toThrow();
    fs.writeFileSync(path.join(`${clone}.tablespaces`, 'keep-me'), 'x');
    expect(() => native(side)).toThrow(
      new RegExp(
        `${clone}\\.tablespaces is not an empty folder, and a side-by-side recovery puts the backup's tablespaces there`,
      ),
    );
    expect(fs.readFileSync(path.join(`${clone}.tablespaces`, 'keep-me'), 'utf8')).toBe('x');
  });
});

describe('pitr-restore bad input', () => {
  it('gives a clear message for each', () => {
    const bad = (extra: Record<string, string>) => () => native(extra);
    expect(bad({ 'target-time': 'yesterday' })).toThrow(/target-time: "yesterday" is not an ISO 8601 time/);
    expect(bad({ 'target-time': '2026-11-21 09:30:00' })).toThrow(/has no time zone/);
    expect(bad({})).toThrow(/no recovery target/);
    expect(bad({ 'target-time': '2026-11-21T09:30:00Z', 'target-name': 'x' })).toThrow(
      /more than one recovery target/,
    );
    expect(
      bad({ 'target-time': '2026-11-21T09:30:00Z', mode: 'in-place', 'data-directory': prod.dataDir }),
    ).toThrow(/confirm: is empty/);
    expect(bad({ 'target-time': '2026-11-21T09:30:00Z', backend: 'barman' })).toThrow(
      /barman-server: is empty, but backend is barman/,
    );
    expect(bad({ 'target-time': '2026-11-21T09:30:00Z', backend: 'tape' })).toThrow(
      /backend: "tape" is not one of/,
    );
    try {
      native({ 'target-time': 'yesterday' });
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
    }
  });

  it('a base-backups folder with no backups is BACKUP_MISSING, with nothing restored', async () => {
    const empty = tempDir('pitr-empty');
    const r = await runPitr(native({ 'base-backups': empty, 'target-time': beforeTarget }), memoryLogger());
    expect(rules(r)).toEqual(['BACKUP_MISSING']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  });
});

describe('pitr-restore in place', () => {
  let live: ScratchCluster;
  let arch: string;
  let bases: string;
  let target: string;
  let noCommitAfter: string;
  beforeAll(async () => {
    arch = serverDir('pitr-ip-archive');
    bases = serverDir('pitr-ip-base');
    live = await startArchiving('test-pitr-inplace', arch);
    await query(live, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
    await query(live, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 200)');
    await baseBackup(live, path.join(bases, 'b1'));
    await sleep(1100);
    target = new Date().toISOString();
    await sleep(1100);
    await query(live, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
    await archiveNow(live);
    await sleep(1100);
    noCommitAfter = new Date().toISOString();
    await sleep(1100);
    await query(live, "SELECT pg_create_restore_point('x')");
    await archiveNow(live);
  }, 120_000);
  afterAll(async () => {
    await live?.stop();
  });
  const inPlace = (extra: Record<string, string>) =>
    parsePitrOptions(
      {
        'base-backups': bases,
        'wal-archive': arch,
        mode: 'in-place',
        'data-directory': live.dataDir,
        ...extra,
      },
      'input',
    );

  it('refuses the wrong confirm and changes nothing', async () => {
    await expect(
      runPitr(inPlace({ confirm: '12345', 'target-time': target }), memoryLogger()),
    ).rejects.toThrow(/confirm: "12345" is neither the system identifier/);
    expect((await query<{ n: string }>(live, 'select count(*) as n from orders'))[0]?.n).toBe('300');
  });

  it('rolls back when recovery fails: the original directory is back and running', async () => {
    const id = (await controlData(live.bin, live.dataDir))['Database system identifier'] as string;
    const r = await runPitr(
      inPlace({ confirm: id, 'target-time': noCommitAfter, 'check-url': live.url() }),
      memoryLogger(),
    );
    expect(rules(r)).toEqual(['PITR_TARGET_UNREACHED', 'PITR_ROLLED_BACK']);
    expect(r.safetySnapshot).toBeUndefined();
    expect((await query<{ n: string }>(live, 'select count(*) as n from orders'))[0]?.n).toBe('300');
    const failed = fs.readdirSync(path.dirname(live.dataDir)).filter((n) => n.includes('restorable-failed'));
    expect(failed.length).toBe(1);
  }, 120_000);

  it('checks that cannot run on the private recovery hand nothing over: production keeps its data', async () => {
    const id = (await controlData(live.bin, live.dataDir))['Database system identifier'] as string;
    const cfg = path.join(tempDir('pitr-ip-cfg-nodb'), 'restorable.yml');
    fs.writeFileSync(cfg, 'pitr:\n  checks:\n    - { name: n, sql: "select 1", expect: "== 1" }\n');
    const r = await runPitr(
      inPlace({ confirm: id, 'target-time': target, 'check-url': `${live.url()}_nonexistent`, config: cfg }),
      memoryLogger(),
    );
    expect(rules(r)).toContain('PITR_ROLLED_BACK');
    expect(r.safetySnapshot).toBeUndefined();
    expect((await query<{ n: string }>(live, 'select count(*) as n from orders'))[0]?.n).toBe('300');
  }, 120_000);

  it('replaces the data directory, keeps the safety snapshot, and proves the target', async () => {
    const id = (await controlData(live.bin, live.dataDir))['Database system identifier'] as string;
    const cfg = path.join(tempDir('pitr-ip-cfg'), 'restorable.yml');
    fs.writeFileSync(
      cfg,
      `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders where batch = 1", expect: "== 200", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch = 3", expect: "== 0", asserts: after-target }
`,
    );
    const r = await runPitr(
      inPlace({ confirm: id, 'target-time': target, 'check-url': live.url(), config: cfg }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify([r.findings, r.stages])).toBe('pass');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    expect((await query<{ n: string }>(live, 'select count(*) as n from orders'))[0]?.n).toBe('200');
    expect(r.next.join(' ')).toMatch(/fresh base backup/);
    // Going back once it serves is by hand, and loses the writes since: --rollback no longer undoes.
    const undo = r.next.find((n) => n.startsWith('Production now runs')) as string;
    expect(undo).toMatch(
      /To go back to the previous data, which discards every write since the hand-over, stop the server, then mv /,
    );
    expect(undo).toMatch(/restorable pitr --rollback does not undo a recovery that serves/);
    expect(undo).not.toMatch(/To undo: restorable pitr --rollback/);
    // What the on-call engineer reads: the span discarded, and production's downtime.
    expect(Date.parse(r.discarded?.until as string)).toBeGreaterThan(Date.parse(target));
    expect(r.downtimeSeconds).toBeGreaterThan(0);
    const facts = new Map(pitrFacts(r));
    expect(facts.get('discarded')).toMatch(/^the writes after .* up to production's stop at /);
    expect(facts.get('downtime')).toMatch(/production stopped until it served the recovered data/);
  }, 120_000);
});

/** The postmaster's pid of a data directory, from postmaster.pid. */
function pidIn(dataDir: string): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** The startup (recovery) process under a postmaster, from /proc. */
function startupOf(postmaster: number): number | undefined {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('startup'))
        return Number(p);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

describe('pitr-restore in place, cancelled', () => {
  it('SIGINT while recovering puts the original data directory back and starts it', async () => {
    const arch = serverDir('pitr-cancel-archive');
    const bases = serverDir('pitr-cancel-base');
    const live = await startArchiving('test-pitr-cancel', arch, { max_wal_size: '2GB' });
    try {
      await query(live, 'CREATE TABLE t (id bigint, pad text)');
      await baseBackup(live, path.join(bases, 'b1'));
      // Enough WAL that replay takes a few seconds.
      await query(live, 'INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 1500000) g');
      await sleep(1100);
      const target = new Date().toISOString();
      await sleep(1100);
      await query(live, "INSERT INTO t VALUES (-1, 'after')");
      await archiveNow(live);
      const id = (await controlData(live.bin, live.dataDir))['Database system identifier'] as string;
      const cli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/cli/index.js');
      const { spawn } = await import('node:child_process');
      const child = spawn(
        process.execPath,
        [
          cli,
          'pitr',
          '--mode',
          'in-place',
          '--data-directory',
          live.dataDir,
          '--confirm',
          id,
          '--base-backups',
          bases,
          '--wal-archive',
          arch,
          '--target-time',
          target,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // Freeze the attempt's startup process (replay) as soon as it runs, so the signal surely
      // lands mid-recovery; thaw it once the handler has begun stopping the server.
      // The recovery runs private, in the staging folder beside production's.
      const staging = () =>
        fs
          .readdirSync(path.dirname(live.dataDir))
          .filter((n) => n.startsWith(`${path.basename(live.dataDir)}.restorable-restore-`))
          .map((n) => path.join(path.dirname(live.dataDir), n))[0];
      let startup: number | undefined;
      for (let i = 0; i < 3000 && startup === undefined && child.exitCode === null; i++) {
        const dir = staging();
        const pm = dir ? pidIn(dir) : undefined;
        if (pm) startup = startupOf(pm);
        if (startup === undefined) await sleep(10);
      }
      expect(startup, err).toBeDefined();
      process.kill(startup as number, 'SIGSTOP');
      child.kill('SIGINT');
      await sleep(500);
      process.kill(startup as number, 'SIGCONT');
      expect(await exited, err).toBe(130);
      expect(err).toMatch(/cancelled: the original data directory is back at .* and the server was started/);
      // Production is back as it was, running, with the row written after the target.
      const rows = await query<{ n: string }>(live, 'SELECT count(*) AS n FROM t WHERE id = -1');
      expect(rows[0]?.n).toBe('1');
      const beside = fs.readdirSync(path.dirname(live.dataDir));
      expect(beside.some((n) => n.includes('restorable-safety'))).toBe(false);
      expect(beside.some((n) => n.includes('restorable-failed'))).toBe(true);
    } finally {
      await live.stop();
    }
  }, 180_000);
});
