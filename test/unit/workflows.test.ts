import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lintAll, workflowFiles } from '../../scripts/lint-actions.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
/** A workflow expression as written in YAML. */
const ex = (s: string) => `\${{ ${s} }}`;
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown> };
type Job = {
  name?: string;
  if?: string;
  uses?: string;
  permissions?: unknown;
  environment?: unknown;
  concurrency?: { group?: string; 'cancel-in-progress'?: unknown };
  steps?: Step[];
  with?: Record<string, unknown>;
  strategy?: { matrix?: unknown; 'max-parallel'?: unknown };
};
type Workflow = { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> };

const wf = (f: string) => parse(read(f)) as Workflow;
const REUSABLE = [
  '.github/workflows/drill.yml',
  '.github/workflows/pitr.yml',
  '.github/workflows/pr-check.yml',
];
const ALL = workflowFiles();

describe('the reusable workflows', () => {
  it.each(REUSABLE)('%s is on: workflow_call only, and never pull_request_target', (f) => {
    expect(Object.keys(wf(f).on)).toEqual(['workflow_call']);
  });

  it('no workflow or example is triggered by pull_request_target', () => {
    for (const f of ALL) expect(Object.keys(wf(f).on ?? {}), f).not.toContain('pull_request_target');
  });

  it.each(ALL)('%s: permissions are declared (per job, or for a one-job workflow at the top)', (f) => {
    const w = wf(f);
    for (const [id, job] of Object.entries(w.jobs)) {
      expect(job.permissions ?? w.permissions, `${f}: job ${id}`).toBeDefined();
    }
  });

  it.each([...REUSABLE, ...ALL.filter((f) => /examples\/(drill|pitr|pr-check|fleet)/.test(f))])(
    '%s: every job declares its own permissions',
    (f) => {
      for (const [id, job] of Object.entries(wf(f).jobs)) {
        expect(job.permissions, `${f}: job ${id}`).toBeDefined();
      }
    },
  );

  it.each(REUSABLE)('%s: no token-wide default: permissions {} at the top', (f) => {
    expect(wf(f).permissions).toEqual({});
  });

  it.each(ALL)('%s: inputs reach run: lines only through env', (f) => {
    for (const [id, job] of Object.entries(wf(f).jobs)) {
      for (const step of job.steps ?? []) {
        if (!step.run) continue;
        expect(step.run, `${f}: job ${id}`).not.toMatch(/\$\{\{[^}]*\b(inputs|github\.event\.inputs)\./);
        expect(step.run, `${f}: job ${id}`).not.toMatch(
          /\$\{\{[^}]*\b(secrets|github\.event\.(pull_request|issue|comment))\./,
        );
      }
    }
  });

  it.each(ALL)('%s: every action from another repository is pinned to a full commit SHA', (f) => {
    const uses = Object.values(wf(f).jobs).flatMap((j) => (j.steps ?? []).map((s) => s.uses).filter(Boolean));
    for (const u of uses as string[]) {
      if (u.startsWith('./') || u.startsWith('your-org/restorable/')) continue;
      expect(u, f).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
    }
  });

  it('the kit is reached at the reusable workflow own commit, never a pinned self-reference', () => {
    for (const f of REUSABLE) {
      const text = read(f);
      expect(text).toContain('job.workflow_sha');
      expect(text).not.toMatch(/uses: [\w-]+\/restorable\/actions\//);
      const kitUses = Object.values(wf(f).jobs).flatMap((j) =>
        (j.steps ?? []).map((s) => s.uses ?? '').filter((u) => u.includes('/actions/')),
      );
      for (const u of kitUses) expect(u).toMatch(/^\.\/\.restorable-kit\/actions\/[\w-]+$/);
    }
  });
});

describe('drill.yml', () => {
  const w = wf('.github/workflows/drill.yml');
  it('guards the schedule in a job of its own, and drills only when the guard says so', () => {
    const guard = w.jobs.guard?.steps?.find((s) => s.with?.mode === 'guard');
    expect(guard?.uses).toBe('./.restorable-kit/actions/github-report');
    expect(w.jobs.drill?.if).toBe("needs.guard.outputs.run == 'true'");
    // A skipped drill is not a failure: nothing that reports runs, nothing fails.
    expect(w.jobs.report?.if).toMatch(/needs\.guard\.outputs\.run == 'true'/);
    expect(w.jobs['catch-up']?.if).toBe("needs.guard.outputs.dispatch == 'true'");
  });
  it('names the drill job as the guard looks for it', () => {
    const guard = w.jobs.guard?.steps?.find((s) => s.with?.mode === 'guard');
    expect(w.jobs.drill?.name).toBe(guard?.with?.['drill-job']);
  });
  it('keys the drill on the database and never cancels one in progress', () => {
    expect(w.jobs.drill?.concurrency?.group).toContain('inputs.database');
    expect(w.jobs.drill?.concurrency?.['cancel-in-progress']).toBe(false);
  });
  it('verify, restore with keep, compare, PITR to a planted marker, reports and history uploaded', () => {
    const steps = w.jobs.drill?.steps ?? [];
    const uses = steps.map((s) => s.uses ?? '');
    const at = (name: string) => uses.findIndex((u) => u.endsWith(`/${name}`));
    expect(at('verify-backup')).toBeGreaterThan(-1);
    expect(steps[at('restore-drill')]?.with?.keep).toBe('true');
    expect(at('compare-counts')).toBeGreaterThan(at('restore-drill'));
    const pitr = steps.filter((s) => s.uses?.endsWith('/pitr-restore'));
    expect(pitr[0]?.with?.['plant-marker']).toBe('true');
    expect(pitr[1]?.with?.['target-name']).toContain('steps.marker.outputs.target-name');
    expect(uses.indexOf(pitr[0]?.uses as string)).toBeLessThan(at('verify-backup'));
    const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(uploads.map((s) => s.with?.name)).toEqual([
      `restorable-drill-${ex('inputs.database')}`,
      `restorable-history-${ex('inputs.database')}`,
    ]);
  });
  it('only the job that writes has write permissions', () => {
    expect(w.jobs.drill?.permissions).toEqual({ actions: 'read', contents: 'read' });
    expect(w.jobs.guard?.permissions).toEqual({ actions: 'read', contents: 'read' });
    expect(w.jobs.report?.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(w.jobs.history?.permissions).toEqual({ contents: 'write' });
    expect(w.jobs['catch-up']?.permissions).toEqual({ actions: 'write', contents: 'read' });
  });
});

describe('pitr.yml', () => {
  const w = wf('.github/workflows/pitr.yml');
  it('plan, restore, verify, report', () => {
    expect(Object.keys(w.jobs)).toEqual(['plan', 'restore', 'verify', 'report']);
  });
  it('validates the request first, then plans without an approval', () => {
    const steps = w.jobs.plan?.steps ?? [];
    const firstKit = steps.findIndex((s) => s.uses?.startsWith('./.restorable-kit/'));
    expect(steps[firstKit]?.with?.mode).toBe('pitr-request');
    expect(steps[firstKit]?.with?.['target-time']).toBe(ex('inputs.target-time'));
    expect(steps.find((s) => s.uses?.endsWith('/pitr-restore'))?.with?.['plan-only']).toBe('true');
    expect(w.jobs.plan?.environment).toBeUndefined();
  });
  it('the restore job waits on the named environment, keyed on the database, never cancelled', () => {
    expect(w.jobs.restore?.environment).toBe(ex('inputs.environment'));
    expect(w.jobs.restore?.concurrency?.group).toContain('inputs.database');
    expect(w.jobs.restore?.concurrency?.['cancel-in-progress']).toBe(false);
  });
  it('the report reads the approvals and opens the incident record', () => {
    expect(w.jobs.report?.permissions).toMatchObject({ actions: 'read', issues: 'write' });
    const rec = w.jobs.report?.steps?.find((s) => s.with?.mode === 'incident');
    expect(rec?.with?.restore).toBe(ex('toJSON(needs.restore.outputs)'));
  });
});

describe('pr-check.yml', () => {
  const w = wf('.github/workflows/pr-check.yml');
  it('skips fork pull requests with a message, and checks the rest', () => {
    expect(w.jobs.fork?.if).toContain('github.event.pull_request.head.repo.full_name != github.repository');
    expect(w.jobs.fork?.steps?.[0]?.run).toMatch(/skipped for pull requests from forks/);
    expect(w.jobs.check?.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
  });
  it('restores with keep, runs migrate-check, and keeps one comment by its marker', () => {
    const steps = w.jobs.check?.steps ?? [];
    expect(steps.find((s) => s.uses?.endsWith('/restore-drill'))?.with?.keep).toBe('true');
    expect(steps.find((s) => s.uses?.endsWith('/migrate-check'))?.with?.['database-url']).toBe(
      ex('steps.drill.outputs.database-url'),
    );
    const c = w.jobs.comment?.steps?.find((s) => s.with?.mode === 'pr-comment');
    expect(c?.with?.marker).toBe('<!-- restorable:migrate-check -->');
    expect(w.jobs.comment?.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(w.jobs.check?.permissions).toEqual({ contents: 'read' });
  });
});

describe('the examples', () => {
  it('the drill caller: first Sunday cron plus workflow_dispatch', () => {
    const w = wf('examples/drill-caller.yml');
    expect(w.on.schedule).toEqual([{ cron: '0 6 * * 0' }]);
    expect(Object.keys(w.on)).toContain('workflow_dispatch');
    expect(w.jobs.drill?.uses).toMatch(/\/\.github\/workflows\/drill\.yml@/);
  });
  it('the PITR caller: target_time, mode (a choice), confirm, reason', () => {
    const w = wf('examples/pitr-caller.yml');
    const inputs = (
      w.on.workflow_dispatch as { inputs: Record<string, { type?: string; options?: string[] }> }
    ).inputs;
    expect(Object.keys(inputs)).toEqual(['target_time', 'mode', 'confirm', 'reason']);
    expect(inputs.mode?.options).toEqual(['drill', 'side-by-side', 'in-place']);
  });
  it('the PR caller: pull_request', () => {
    expect(Object.keys(wf('examples/pr-check-caller.yml').on)).toEqual(['pull_request']);
  });
  it('the fleet: a matrix from a JSON list, max-parallel, one summary issue', () => {
    const w = wf('examples/fleet-drill.yml');
    expect(w.jobs.drill?.strategy?.matrix).toEqual({ include: ex('fromJSON(vars.RESTORABLE_FLEET)') });
    expect(w.jobs.drill?.strategy?.['max-parallel']).toBeGreaterThan(0);
    expect(w.jobs.drill?.with?.report).toBe(false);
    const s = w.jobs.summary?.steps?.find((x) => x.with?.mode === 'drill-issue');
    expect(s?.with?.fleet).toBe('true');
  });
});

describe('actionlint', () => {
  it('every workflow, example and action file passes (action bundles aside: npm run build makes them)', async () => {
    const problems = (await lintAll()).filter((p) => !/does not exist \(npm run build\)/.test(p));
    expect(problems).toEqual([]);
  }, 60_000);
});

describe('the README', () => {
  it('documents each reusable workflow with tables generated from its file (npm run docs)', async () => {
    const { renderReadme, WORKFLOWS } = await import('../../scripts/docs.js');
    const readme = read('README.md');
    for (const name of WORKFLOWS) {
      for (const part of ['inputs', 'secrets', 'permissions']) {
        expect(readme).toContain(`<!-- generated:workflow:${name}:${part} -->`);
      }
    }
    expect(readme).toBe(renderReadme(readme));
    expect(readme).toContain('examples/fleet-drill.yml');
  });
});
