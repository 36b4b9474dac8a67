import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findAll } from '../../src/postgres/binaries.js';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'actions/setup-postgres/setup-postgres.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-setup-pg-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The script as the action's step runs it, with a GITHUB_OUTPUT of its own. */
function setup(...args: string[]) {
  const out = path.join(tmp, `output-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(out, '');
  const r = spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, GITHUB_OUTPUT: out },
  });
  const outputs = Object.fromEntries(
    fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('=', 2) as [string, string]),
  );
  return { ...r, outputs };
}

/** The major this machine has (scripts/install-deps.sh installs Debian's, 15 on Debian 12). */
const installed = fs
  .readdirSync('/usr/lib/postgresql')
  .filter((d) => fs.existsSync(`/usr/lib/postgresql/${d}/bin/initdb`))
  .sort()[0];

describe('setup-postgres (Debian packages, on this machine)', () => {
  it('finds PostgreSQL installed (apt: bash scripts/install-deps.sh)', () => {
    expect(
      installed,
      'no /usr/lib/postgresql/<major>/bin/initdb: run bash scripts/install-deps.sh',
    ).toBeDefined();
  });

  it('an installed major: nothing installed; bin-dir is where discovery finds initdb and psql', async () => {
    const r = setup(String(installed));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`PostgreSQL ${installed} is installed`);
    expect(r.outputs).toMatchObject({
      'bin-dir': `/usr/lib/postgresql/${installed}/bin`,
      source: 'installed',
    });
    expect(r.outputs.version).toMatch(new RegExp(`^${installed}\\.\\d+$`));
    for (const tool of ['initdb', 'psql']) {
      const found = (await findAll(tool)).find((b) => b.major === Number(installed));
      expect(found?.dir, tool).toBe(r.outputs['bin-dir']);
    }
  });

  it("the package names, and the distribution's archive when it has them (apt's own lists)", () => {
    const r = setup('--plan', String(installed));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `packages: postgresql-${installed} postgresql-client-${installed} \\(${installed}\\.[^)]+\\) from the distribution's archive`,
      ),
    );
    expect(r.outputs).toEqual({});
  });

  it("PGDG for a major the distribution's archive lacks (planned only: nothing is installed)", () => {
    const r = setup('--plan', '99');
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('is installed');
    expect(r.stdout).toMatch(
      /packages: postgresql-99 postgresql-client-99 from PGDG \(apt\.postgresql\.org, \w+-pgdg\)/,
    );
  });

  it('refuses a major that is not one, in one line, before running anything', () => {
    for (const bad of ['', '15; rm -rf /', '9', '016', 'latest']) {
      const r = setup(bad);
      expect(r.status, bad).toBe(1);
      expect(r.stderr.trim().split('\n'), bad).toHaveLength(1);
      expect(r.stderr).toMatch(/^setup-postgres: major: /);
      expect(r.outputs).toEqual({});
    }
  });

  it('the action runs the script with the major through env, never pasted into the shell', () => {
    const a = parse(fs.readFileSync(path.join(root, 'actions/setup-postgres/action.yml'), 'utf8')) as {
      runs: { using: string; steps: { run?: string; env?: Record<string, string> }[] };
    };
    expect(a.runs.using).toBe('composite');
    const step = a.runs.steps[0];
    expect(step?.env).toEqual({ MAJOR: `\${{ inputs.major }}` });
    expect(step?.run).toBe('bash "$GITHUB_ACTION_PATH/setup-postgres.sh" "$MAJOR"');
  });
});
