import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { dumpDatabase } from '../../src/demo/sample.js';
import { runBundle } from '../harness/actions.js';
import { flipBytes, writeSidecar } from '../harness/breakers.js';
import { loadChinook, startCluster, tempDir } from '../harness/pg.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const cli = path.join(root, 'dist/cli/index.js');
let dir: string;
let good: string;
let broken: string;

beforeAll(async () => {
  dir = tempDir('entries');
  const cluster = await startCluster();
  try {
    await loadChinook(cluster);
    good = await dumpDatabase(cluster, 'chinook', path.join(dir, 'good', 'chinook.dump'), { sha256: true });
  } finally {
    await cluster.stop();
  }
  broken = path.join(dir, 'broken', 'chinook.dump');
  fs.mkdirSync(path.dirname(broken));
  flipBytes(good, broken, Math.floor(fs.statSync(good).size * 0.7));
  writeSidecar(broken, 'sha256');
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function restorable(args: string[], env: Record<string, string> = {}) {
  fs.writeFileSync(path.join(dir, 'typo.yml'), 'volum:\n  tables: {}\n');
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    cwd: dir,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the restorable command', () => {
  it('verifies a healthy dump: exit 0, the checks and the verdict', () => {
    const r = restorable(['verify', '--source', path.dirname(good), '--max-age', '1000d']);
    expect(r.stderr).toMatch(/✓ schema/);
    expect(r.stdout).toMatch(/verdict: PASS/);
    expect(r.code).toBe(0);
  });

  it('inflates with the ISA-L addon shipped beside the bundle; with zlib, saying why, when it does not load', () => {
    const args = ['verify', '--source', path.dirname(good), '--max-age', '1000d'];
    const fast = restorable(args, { RESTORABLE_DEBUG: '1' });
    expect(fast.code).toBe(0);
    expect(fast.stderr).toContain(
      `debug: tables inflated with ISA-L (${path.join(root, 'dist/cli/isal_inflate-linux-x64.node')})\n`,
    );
    const notAnAddon = path.join(dir, 'not-an-addon.node');
    fs.writeFileSync(notAnAddon, 'text');
    const slow = restorable(args, { RESTORABLE_DEBUG: '1', RESTORABLE_ISAL: notAnAddon });
    expect(slow.code).toBe(0);
    expect(slow.stdout).toMatch(/verdict: PASS/);
    expect(slow.stderr).toContain(`debug: tables inflated with zlib: ${notAnAddon} does not load: `);
  });

  it('a broken dump exits 1 and names the finding; --json gives the outputs', () => {
    const r = restorable(['verify', '--source', broken, '--max-age', '1000d', '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { outputs: Record<string, string> };
    expect(out.outputs.verdict).toBe('fail');
    expect(JSON.parse(out.outputs.findings as string)[0].rule).toBe('COMPRESSION_CORRUPT');
    expect(out.outputs['dump-format']).toBe('custom');
    expect(out.outputs.tables).toBe('11');
  });

  it.each([
    [
      ['verify', '--source', '.', '--max-agee', '26h'],
      /--max-agee: verify has no such flag\. Did you mean --max-age\?/,
    ],
    [
      ['verify', '--source', '.', '--max-age', '26 hours please'],
      /--max-age: "26 hours please" is not a duration/,
    ],
    [['verify', '--source', '/no/such/place'], /--source: "\/no\/such\/place" does not exist/],
    [['verify', '--source', 's3://'], /--source: .*no bucket/],
    [['verify', '--source', '.', '--checksum', 'not-hex-at-all'], /--checksum: .*SHA-256/],
    [['verify'], /--source: is required/],
    [['verfy'], /verfy: is not a restorable command/],
    [
      ['drill', '--source', '.', '--rto-budget', 'twenty minutes'],
      /--rto-budget: "twenty minutes" is not a duration/,
    ],
    [['drill', '--source', '.', '--tier', 'most'], /--tier: "most" is not one of full, schema, sample/],
    [
      ['drill', '--source', '.', '--config', 'typo.yml'],
      /--config: typo\.yml: unknown key "volum" at \(top level\)/,
    ],
    [['clean', '--everything'], /--everything: clean has no such flag/],
  ])('bad input %j: one clear line, exit 2, no stack trace', (args, message) => {
    const r = restorable(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('os-user: a user who is not root may name only itself, in one clear line', () => {
    // The CLI run as postgres (not root): it cannot switch to another user. A copy of it, where
    // postgres may read it wherever this checkout is.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-cli-'));
    fs.cpSync(path.dirname(cli), copy, { recursive: true });
    fs.chmodSync(copy, 0o755);
    const asPostgres = (osUser: string) => {
      const r = spawnSync(
        'runuser',
        [
          '-u',
          'postgres',
          '--',
          process.execPath,
          path.join(copy, 'index.js'),
          'drill',
          '--source',
          '/etc/hostname',
          '--os-user',
          osUser,
        ],
        { encoding: 'utf8', cwd: '/' },
      );
      return { code: r.status, stderr: r.stderr };
    };
    onTestFinished(() => fs.rmSync(copy, { recursive: true, force: true }));
    const other = asPostgres('nobody');
    expect(other.code).toBe(2);
    expect(other.stderr.trim()).toBe(
      'restorable: --os-user: the server cannot run as "nobody": only root can switch users, and this runs as "postgres". Run Restorable as root or as nobody, or leave --os-user out to run the server as postgres',
    );
    const itself = asPostgres('postgres');
    // Itself is fine: the drill goes on (and /etc/hostname, no dump, restores nothing).
    expect(itself.stderr).not.toMatch(/os-user/);
    expect(itself.stderr).toMatch(/✓ locate/);
  });

  it('demo: a sample database, dumped and verified', () => {
    const r = restorable(['demo']);
    expect(r.stdout).toMatch(/verdict: PASS/);
    expect(r.stdout).toMatch(/tables\s+4/);
    expect(r.code).toBe(0);
  }, 120_000);
});

describe('the actions (the committed bundles, as the runner starts them)', () => {
  const action = (bundle: string, inputs: Record<string, string>, state: Record<string, string> = {}) =>
    runBundle(dir, bundle, inputs, state);

  it('verify-backup sets every output and writes the job summary', () => {
    const r = action('verify-backup', {
      source: path.dirname(good),
      'max-age': '1000d',
      report: path.join(dir, 'r.json'),
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({
      verdict: 'pass',
      backup: 'chinook.dump',
      'local-path': good,
      'dump-format': 'custom',
      // The machine's PostgreSQL 15 wrote it: the major setup-postgres would install.
      'server-major': '15',
      'pg-dump-major': '15',
      tables: '11',
      report: path.join(dir, 'r.json'),
    });
    expect(r.outputs.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(r.outputs['size-bytes'])).toBe(fs.statSync(good).size);
    expect(r.summary).toMatch(/## verify-backup: ✅ PASS/);
    expect(r.summary).toMatch(/\| schema \| ok \|/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')).verdict).toBe('pass');
    // What ships is what the bench measures: the bundle's own ISA-L addon, beside it, self-tested.
    expect(r.stdout).toContain(
      `::debug::tables inflated with ISA-L (${path.join(root, 'dist/verify-backup/isal_inflate-linux-x64.node')})`,
    );
  });

  it('a failing verdict fails the step with the finding', () => {
    const r = action('verify-backup', { source: broken, 'max-age': '1000d' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::verify-backup: fail \(COMPRESSION_CORRUPT/);
    expect(r.summary).toMatch(/COMPRESSION_CORRUPT/);
  });

  it('an unknown input fails with one line naming it', () => {
    const r = action('verify-backup', { source: path.dirname(good), 'max-agee': '2h' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::max-agee: verify has no such input\. Did you mean max-age\?/);
    expect(r.stdout).not.toMatch(/\n\s+at /);
  });

  it('restore-drill with keep: outputs the database URL; its post step removes the cluster', () => {
    const main = action('restore-drill', {
      source: good,
      'max-age': '1000d',
      keep: 'true',
      junit: path.join(dir, 'j.xml'),
    });
    expect(main.code).toBe(0);
    expect(main.outputs).toMatchObject({
      verdict: 'pass',
      tables: '11',
      rows: '15607',
      junit: path.join(dir, 'j.xml'),
    });
    // For later steps' tools: the password inline, masked in the log.
    const password = /^postgresql:\/\/restorable_restore:([0-9a-f]{64})@127\.0\.0\.1:\d+\/chinook$/.exec(
      main.outputs['database-url'] as string,
    )?.[1] as string;
    expect(password).toBeDefined();
    expect(main.stdout).toContain(`::add-mask::${password}`);
    expect(
      main.stdout.split('\n').filter((l) => l.includes(password) && !l.startsWith('::add-mask::')),
    ).toEqual([]);
    expect(main.summary).toMatch(/## restore-drill: ✅ PASS/);
    const kept = JSON.parse(main.saved['kept-target'] as string).root as string;
    expect(fs.existsSync(path.join(kept, 'data'))).toBe(true);
    const post = action(
      'restore-drill',
      { source: good },
      { 'is-post': 'true', 'kept-target': main.saved['kept-target'] as string },
    );
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/removed the kept drill target/);
    expect(fs.existsSync(kept)).toBe(false);
  });

  it('restore-drill: the main step ends with its cluster stopped; its post step removes the folder', () => {
    const main = action('restore-drill', { source: good, 'max-age': '1000d' });
    expect(main.code).toBe(0);
    expect(main.outputs.verdict).toBe('pass');
    expect(main.saved['kept-target']).toBeUndefined();
    const root = JSON.parse(main.saved['stopped-target'] as string).root as string;
    expect(fs.existsSync(path.join(root, 'data'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'data', 'postmaster.pid'))).toBe(false);
    const post = action(
      'restore-drill',
      { source: good },
      { 'is-post': 'true', 'stopped-target': main.saved['stopped-target'] as string },
    );
    expect(post.code).toBe(0);
    expect(post.stdout).toContain(`removed the drill target ${root}`);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('the umbrella action runs the command it is given, and refuses an unknown one', () => {
    const ok = action('restorable', { command: 'verify', source: path.dirname(good), 'max-age': '1000d' });
    expect(ok.code).toBe(0);
    expect(ok.outputs.verdict).toBe('pass');
    const bad = action('restorable', { command: 'verifyy', source: '.' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/::error::command: "verifyy" is not a command/);
  });
});
