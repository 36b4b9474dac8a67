import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../../src/archive/inspect.js';
import { restoreTools } from '../../src/backup/tools.js';
import { findAll } from '../../src/postgres/binaries.js';

// An old psql on PATH (it only answers --version) beside the installed PostgreSQL 15 client.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-oldpsql-'));
const savedPath = process.env.PATH;
beforeAll(() => {
  fs.writeFileSync(path.join(dir, 'psql'), '#!/bin/sh\necho "psql (PostgreSQL) 9.6.24"\n', { mode: 0o755 });
  process.env.PATH = `${dir}${path.delimiter}${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

const plainDump = (pgDumpVersion: string) => ({ format: 'plain', pgDumpVersion }) as Inspection;

describe('the psql that loads a plain dump', () => {
  it("is one of at least the dump's major, not the oldest installed", async () => {
    const r = await restoreTools(plainDump('15.4'), undefined, 'restore');
    expect('client' in r && r.client.major).toBeGreaterThanOrEqual(15);
  });
  it('is the newest installed when none is as new as the dump', async () => {
    const r = await restoreTools(plainDump('99.1'), undefined, 'restore');
    const newest = (await findAll('psql'))[0]?.major;
    expect(newest).toBeGreaterThanOrEqual(15);
    expect('client' in r && r.client.major).toBe(newest);
  });
});
