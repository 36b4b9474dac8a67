import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PGCTL_WAIT, PgCtl, serverOptions } from '../../src/postgres/pgctl.js';

// A pg_ctl that writes the arguments it was given, one a line, and exits 0.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-pgctl-'));
const said = path.join(dir, 'args');
fs.writeFileSync(path.join(dir, 'pg_ctl'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${said}'\n`, { mode: 0o755 });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const args = () => fs.readFileSync(said, 'utf8').trimEnd().split('\n');
const ctl = new PgCtl(dir, '/data', undefined);

describe('PgCtl', () => {
  it('starts and waits its own servers for 60 s, or does not wait, with settings through -o', async () => {
    expect((await ctl.start({ log: '/log' })).code).toBe(0);
    expect(args()).toEqual(['-D', '/data', '-l', '/log', '-w', '-t', '60', 'start']);
    await ctl.start({ log: '/log', wait: false, options: { port: '5433', listen_addresses: '' } });
    expect(args()).toEqual([
      '-D',
      '/data',
      '-l',
      '/log',
      '-o',
      "-c port='5433' -c listen_addresses=''",
      '-W',
      'start',
    ]);
  });

  it('starts production synchronously with the wait it is given', () => {
    expect(ctl.startSync({ log: '/log', wait: PGCTL_WAIT.signalStart }, 5000).code).toBe(0);
    expect(args()).toEqual(['-D', '/data', '-l', '/log', '-w', '-t', '6', 'start']);
  });

  it('stops fast within 60 s unless told otherwise, and immediately with the wait pg_ctl defaults to', async () => {
    await ctl.stop('fast');
    expect(args()).toEqual(['-D', '/data', '-m', 'fast', '-w', '-t', '60', 'stop']);
    await ctl.stop('fast', PGCTL_WAIT.productionStop);
    expect(args()).toEqual(['-D', '/data', '-m', 'fast', '-w', '-t', '300', 'stop']);
    await ctl.stop('immediate');
    expect(args()).toEqual(['-D', '/data', '-m', 'immediate', '-w', 'stop']);
    fs.rmSync(said);
    ctl.stopSync();
    expect(args()).toEqual(['-D', '/data', '-m', 'immediate', '-w', 'stop']);
  });

  it('shuts down nothing when no server runs on the data directory', async () => {
    fs.rmSync(said, { force: true });
    await ctl.shutdown();
    expect(fs.existsSync(said)).toBe(false);
  });

  it('refuses a setting with a quote in it (pg_ctl hands -o to a shell)', () => {
    expect(() => serverOptions({ port: "5432' -c evil='1" })).toThrow(/cannot be passed/);
    expect(serverOptions({})).toEqual([]);
  });
});
