import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Journal, readJournal, writeJournal } from '../../src/pitr/journal.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-journal-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const live = path.join(dir, 'data');

function journal(over: Partial<Journal> = {}): Journal {
  const staging = `${live}.restorable-restore-20261202T000000`;
  return {
    version: 1,
    pid: 1,
    phase: 'stopped',
    updated: '',
    live,
    staging,
    safety: `${live}.restorable-safety-20261202T000000`,
    failed: `${live}.restorable-failed-20261202T000000`,
    spool: `${live}.restorable-spool-20261202T000000`,
    tablespaces: `${staging}.tablespaces`,
    private: path.join(os.tmpdir(), 'restorable-private-x'),
    liveIno: 1,
    liveBin: '/usr/lib/postgresql/15/bin',
    start: { log: `${live}.restorable-start-20261202T000000.log` },
    ...over,
  };
}

describe('readJournal: its paths are hostile', () => {
  it('reads a journal that names the folders beside the data directory, the attempt’s tablespaces among them', () => {
    writeJournal(journal());
    expect(readJournal(live)?.tablespaces).toBe(`${live}.restorable-restore-20261202T000000.tablespaces`);
    // A journal written before the field existed is read; the put-back derives the same folder.
    const { tablespaces: _, ...older } = journal();
    writeJournal(older as Journal);
    expect(readJournal(live)?.tablespaces).toBeUndefined();
  });

  it('refuses a tablespace folder other than the staging folder’s', () => {
    for (const tablespaces of [
      '/etc',
      `${live}.restorable-x`,
      `${live}.restorable-restore-20261202T000000.tablespaces/..`,
      `${live}.tablespaces`,
      42 as unknown as string,
    ]) {
      writeJournal(journal({ tablespaces }));
      expect(() => readJournal(live), String(tablespaces)).toThrow(/does not describe this data directory/);
    }
  });

  it('refuses a path that starts beside the data directory and leaves it', () => {
    for (const failed of [`${live}.restorable-x/../../etc`, `${live}.restorable-/x`]) {
      writeJournal(journal({ failed }));
      expect(() => readJournal(live), failed).toThrow(/does not describe this data directory/);
    }
  });
});
