import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNNER_VARIABLES, runnerEnv } from '../../src/github/run.js';

describe('the environment github-report sees', () => {
  it('keeps the runner variables a report reads and drops the job secrets beside them', () => {
    const seen = runnerEnv({
      GITHUB_ACTOR: 'lead',
      GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/pitr.yml@refs/heads/main',
      GITHUB_TOKEN: 'ghs_secret',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      PGPASSWORD: 'pg-secret',
      RUNNER_TEMP: '/tmp/runner',
    });
    expect(seen).toEqual({
      GITHUB_ACTOR: 'lead',
      GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/pitr.yml@refs/heads/main',
    });
  });

  it('lists every runner variable the report code reads, so none is dropped by mistake', () => {
    const dir = path.resolve(__dirname, '../../src/github');
    const read = new Set<string>();
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/env\.(GITHUB_[A-Z_]+)/g))
            read.add(m[1] as string);
      }
    };
    walk(dir);
    expect(read.size).toBeGreaterThan(5);
    expect([...read].sort()).toEqual([...RUNNER_VARIABLES].sort());
  });
});
