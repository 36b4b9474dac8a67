import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesOf } from '../../src/postgres/scratch-user.js';

// A process whose main thread has exited while another thread runs on: its leader is a zombie.
const LEADER_GONE = `#include <pthread.h>
#include <unistd.h>
static void *run(void *a) { (void)a; sleep(60); return 0; }
int main(void) { pthread_t t; pthread_create(&t, 0, run, 0); pthread_exit(0); }
`;

const uid = process.getuid?.() ?? 0;
let dir: string;
const children: ChildProcess[] = [];
const state = (pid: number) => /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(what()).toBe(true);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-zombies-'));
  fs.writeFileSync(path.join(dir, 'leader-gone.c'), LEADER_GONE);
  const cc = spawnSync(
    'cc',
    ['-o', path.join(dir, 'leader-gone'), path.join(dir, 'leader-gone.c'), '-lpthread'],
    {
      encoding: 'utf8',
    },
  );
  if (cc.error || cc.status !== 0) {
    throw new Error(
      `this test compiles a small C program: bash scripts/install-deps.sh (build-essential) (${cc.error?.message ?? cc.stderr})`,
    );
  }
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the processes a scratch user still has', () => {
  it('a zombie with no thread left is not one; a zombie leader whose thread still runs is', async () => {
    // sh forks a short sleep and becomes a long one that never reaps it: a plain zombie.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 60'], { stdio: 'ignore' });
    const leader = spawn(path.join(dir, 'leader-gone'), [], { stdio: 'ignore' });
    children.push(parent, leader);
    const zombieOf = (ppid: number) =>
      fs
        .readdirSync('/proc')
        .filter((e) => /^\d+$/.test(e))
        .map(Number)
        .find((p) => {
          try {
            const s = fs.readFileSync(`/proc/${p}/status`, 'utf8');
            return new RegExp(`^PPid:\\s+${ppid}$`, 'm').test(s) && /^State:\s+Z/m.test(s);
          } catch {
            return false;
          }
        });
    await until(() => zombieOf(parent.pid as number) !== undefined);
    await until(() => state(leader.pid as number) === 'Z');
    const zombie = zombieOf(parent.pid as number) as number;
    const listed = processesOf(uid);
    expect(listed).not.toContain(zombie);
    expect(listed).toContain(leader.pid);
    expect(listed).toContain(parent.pid);
  });
});
