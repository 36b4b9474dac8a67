import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lintAll, workflowFiles, workflowParser } from '../../scripts/lint-actions.js';
import { run } from '../../src/core/exec.js';
import { BACKENDS, pitrInputs } from '../../src/pitr/spec.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
/** A workflow expression as written in YAML. */
const ex = (s: string) => `\${{ ${s} }}`;
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');

type Step = {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  'continue-on-error'?: unknown;
};
type Job = {
  name?: string;
  if?: string;
  needs?: string | string[];
  'runs-on'?: unknown;
  env?: Record<string, unknown>;
  outputs?: Record<string, string>;
  uses?: string;
  permissions?: unknown;
  environment?: unknown;
  concurrency?: { group?: string; 'cancel-in-progress'?: unknown };
  steps?: Step[];
  with?: Record<string, unknown>;
  strategy?: { matrix?: unknown; 'max-parallel'?: unknown };
};
type Workflow = { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> };
type Call = {
  inputs: Record<string, { type?: string; default?: unknown; description?: string }>;
  secrets: Record<string, { description?: string }>;
  outputs?: Record<string, { value?: string }>;
};
const call = (w: Workflow) => w.on.workflow_call as Call;
const isCheckout = (s: Step) => (s.uses ?? '').startsWith('actions/checkout@');
/** The secrets a job reads, by name. */
const secretsOf = (j: Job) =>
  new Set([...JSON.stringify(j).matchAll(/\bsecrets\.([A-Z0-9_]+)/g)].map((m) => m[1] as string));
const DATABASE_CHECK = "*[!A-Za-z0-9_.-]*|'')";
/** A run: step of the job that refuses a database name other than letters, digits, '.', '-', '_'. */
const checksDatabase = (j: Job | undefined) =>
  (j?.steps ?? []).some((s) => s.env?.DATABASE === ex('inputs.database') && s.run?.includes(DATABASE_CHECK));

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

  it.each(ALL)(
    '%s: the calling repository is never checked out at the root after the kit (that would wipe it)',
    (f) => {
      for (const [id, job] of Object.entries(wf(f).jobs)) {
        let kit = false;
        for (const step of job.steps ?? []) {
          if (!isCheckout(step)) continue;
          if (step.with?.path === '.restorable-kit') kit = true;
          else
            expect(kit && !step.with?.path, `${f}: job ${id}: a checkout without path after the kit`).toBe(
              false,
            );
        }
      }
    },
  );

  it.each(REUSABLE)('%s: the database input is checked (letters, digits, . - _) before it is used', (f) => {
    const w = wf(f);
    const first = { 'drill.yml': 'drill', 'pitr.yml': 'plan', 'pr-check.yml': 'check' }[
      path.basename(f)
    ] as string;
    expect(checksDatabase(w.jobs[first]), `${f}: job ${first}`).toBe(true);
    const steps = w.jobs[first]?.steps ?? [];
    const check = steps.findIndex((s) => s.run?.includes(DATABASE_CHECK));
    const firstKit = steps.findIndex((s) => s.uses?.startsWith('./.restorable-kit/'));
    expect(check).toBeLessThan(firstKit);
  });

  it('the kit is reached at the reusable workflow own commit, never a pinned self-reference', () => {
    for (const f of REUSABLE) {
      const text = read(f);
      expect(text).toContain('job.workflow_sha');
      expect(text).not.toMatch(/uses: [\w-]+\/restorable\/actions\//);
      const kitUses = Object.values(wf(f).jobs).flatMap((j) =>
        (j.steps ?? []).map((s) => s.uses ?? '').filter((u) => u.includes('/actions/')),
      );
      for (const u of kitUses) expect(u).toMatch(/^\.\/\.restorable-kit\/(\.github\/)?actions\/[\w-]+$/);
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
  it('a missing or failing marker skips the PITR drill, not the rest of the job', () => {
    const steps = w.jobs.drill?.steps ?? [];
    expect(w.jobs.drill?.env?.HAS_MARKER_URL).toBe(ex("secrets.MARKER_DATABASE_URL != ''"));
    const marker = steps.find((s) => s.id === 'marker');
    expect(marker?.if).toBe("inputs.pitr && env.HAS_MARKER_URL == 'true'");
    expect(marker?.['continue-on-error']).toBe(true);
    const warn = steps.find((s) => s.if === "inputs.pitr && env.HAS_MARKER_URL != 'true'");
    expect(warn?.run).toContain('::warning');
    const pitr = steps.find((s) => s.id === 'pitr');
    expect(pitr?.if).toMatch(/^\$\{\{ !cancelled\(\) && /);
    expect(pitr?.if).toContain("steps.marker.outcome == 'success'");
    expect(pitr?.if).toContain("steps.marker.outputs.target-name != ''");
    const compare = steps.find((s) => s.id === 'compare');
    expect(compare?.if).toMatch(/^\$\{\{ !cancelled\(\) && /);
    // Still a failed job (and so a failed drill) when the marker could not be planted.
    const last = steps[steps.length - 1];
    expect(last?.if).toBe(ex("!cancelled() && steps.marker.outcome == 'failure'"));
    expect(last?.run).toContain('exit 1');
  });
  it('the PITR drill appends to the history pitr.yml estimates from', () => {
    const pitr = w.jobs.drill?.steps?.find((s) => s.id === 'pitr');
    expect(pitr?.with?.history).toBe(ex("inputs.history != 'none' && env.HISTORY || ''"));
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
  it('plan, restore (then verify, on the same runner), history, report', () => {
    expect(Object.keys(w.jobs)).toEqual(['plan', 'restore', 'history', 'report']);
  });
  it('plan refuses an environment that does not exist or has no required reviewers', () => {
    const steps = w.jobs.plan?.steps ?? [];
    const req = steps.findIndex((s) => s.with?.mode === 'pitr-request');
    const env = steps.findIndex((s) => s.with?.mode === 'environment-check');
    expect(env).toBeGreaterThan(req);
    expect(steps[env]?.with).toMatchObject({
      environment: ex('inputs.environment'),
      'restore-mode': ex('inputs.mode'),
    });
    expect(steps[env]?.if).toBeUndefined();
    const plan = steps.findIndex((s) => s.uses?.endsWith('/pitr-restore'));
    expect(env).toBeLessThan(plan);
    // GET /repos/{owner}/{repo}/environments/{name} takes actions: read.
    expect(w.jobs.plan?.permissions).toEqual({ actions: 'read', contents: 'read' });
  });
  it('the backup keys are secrets the caller passes (plan reads them); database URLs only in the environment job', () => {
    const passed = new Set([
      'BACKUP_AWS_ACCESS_KEY_ID',
      'BACKUP_AWS_SECRET_ACCESS_KEY',
      'SLACK_WEBHOOK_URL',
      'TELEGRAM_BOT_TOKEN',
      'TELEGRAM_CHAT_ID',
    ]);
    for (const [id, job] of Object.entries(w.jobs)) {
      if (job.environment) continue;
      for (const s of secretsOf(job)) expect(passed.has(s), `job ${id} reads ${s}`).toBe(true);
    }
    expect(secretsOf(w.jobs.plan as Job)).toEqual(
      new Set(['BACKUP_AWS_ACCESS_KEY_ID', 'BACKUP_AWS_SECRET_ACCESS_KEY']),
    );
    const restore = secretsOf(w.jobs.restore as Job);
    for (const s of ['LIVE_READONLY_URL', 'CHECK_DATABASE_URL']) {
      expect(restore.has(s)).toBe(true);
      expect(call(w).secrets[s]?.description).toMatch(/secret of the environment/);
    }
    expect(call(w).secrets.BACKUP_AWS_ACCESS_KEY_ID?.description).toMatch(/passed by the caller/);
    const caller = wf('examples/pitr-caller.yml').jobs.pitr as Job & { secrets?: Record<string, string> };
    expect(Object.keys(caller.secrets ?? {})).toEqual(
      expect.arrayContaining(['BACKUP_AWS_ACCESS_KEY_ID', 'BACKUP_AWS_SECRET_ACCESS_KEY']),
    );
    expect(Object.keys(caller.secrets ?? {})).not.toContain('LIVE_READONLY_URL');
    expect(Object.keys(caller.secrets ?? {})).not.toContain('CHECK_DATABASE_URL');
  });
  it('verifies in the restore job, where the recovered server is, and times each phase', () => {
    const steps = w.jobs.restore?.steps ?? [];
    const at = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const pitr = at((s) => s.id === 'pitr');
    const compare = at((s) => s.uses?.endsWith('/compare-counts') ?? false);
    expect(steps[pitr]?.with?.['check-url']).toBe(
      ex("inputs.mode == 'in-place' && secrets.CHECK_DATABASE_URL || ''"),
    );
    expect(compare).toBeGreaterThan(pitr);
    expect(steps[compare]?.with?.['target-url']).toContain('steps.pitr.outputs.database-url');
    expect(steps[compare]?.with?.['target-url']).toContain('secrets.CHECK_DATABASE_URL');
    expect(steps[compare]?.if).toMatch(/^\$\{\{ !cancelled\(\) && /);
    const stamps = ['started', 'restored', 'verified'].map((id) => at((s) => s.id === id));
    expect(stamps[0]).toBe(0);
    expect(stamps[1]).toBeGreaterThan(pitr);
    expect(stamps[1]).toBeLessThan(compare);
    expect(stamps[2]).toBeGreaterThan(compare);
    for (const i of stamps) expect(steps[i]?.if).toBe('always()');
    expect(w.jobs.restore?.outputs).toMatchObject({
      'started-at': ex('steps.started.outputs.at'),
      'finished-at': ex('steps.restored.outputs.at'),
      'verify-finished-at': ex('steps.verified.outputs.at'),
      'verify-verdict': ex('steps.verdict.outputs.verdict'),
    });
    // Nothing outside the restore job tries to reach the recovered server.
    for (const [id, job] of Object.entries(w.jobs)) {
      if (id !== 'restore') expect(JSON.stringify(job)).not.toContain('database-url');
    }
    expect(w.jobs.report?.needs).toEqual(['plan', 'restore']);
  });
  it('keeps the history as drill.yml does (artifact or branch): plan estimates from it, restore appends', () => {
    const drill = call(wf('.github/workflows/drill.yml')).inputs;
    const pitr = call(w).inputs;
    for (const k of ['history', 'history-branch']) expect(pitr[k]?.default).toBe(drill[k]?.default);
    for (const job of ['plan', 'restore']) {
      const steps = w.jobs[job]?.steps ?? [];
      expect(steps.find((s) => s.with?.mode === 'last-artifact')?.with?.artifact).toBe(
        `restorable-history-${ex('inputs.database')}`,
      );
      expect(steps.find((s) => s.uses?.endsWith('/pitr-restore'))?.with?.history).toBe(
        ex("inputs.history != 'none' && env.HISTORY || ''"),
      );
    }
    const uploads = (w.jobs.restore?.steps ?? []).filter((s) =>
      s.uses?.startsWith('actions/upload-artifact@'),
    );
    expect(uploads.map((s) => s.with?.name)).toContain(`restorable-history-${ex('inputs.database')}`);
    expect(w.jobs.history?.permissions).toEqual({ contents: 'write' });
    expect(w.jobs.history?.if).toContain("inputs.history == 'branch'");
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
    expect(rec?.with?.verify).toBeUndefined(); // from the restore outputs' verify-* keys
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
    expect(c?.with?.marker).toBe(`<!-- restorable:migrate-check:${ex('inputs.database')} -->`);
    expect(w.jobs.comment?.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(w.jobs.check?.permissions).toEqual({ contents: 'read' });
  });
});

describe('pr-check.yml, more', () => {
  const w = wf('.github/workflows/pr-check.yml');
  it('concurrency is scoped by workflow, database and pull request', () => {
    const g = w.jobs.check?.concurrency?.group ?? '';
    for (const part of ['github.workflow', 'inputs.database', 'github.event.pull_request.number']) {
      expect(g).toContain(part);
    }
    expect(w.jobs.check?.concurrency?.['cancel-in-progress']).toBe(true);
  });
  it("the backup store's keys reach the download step only, never the PR's migrate-command", () => {
    const job = w.jobs.check as Job;
    expect(JSON.stringify(job.env ?? {})).not.toMatch(/AWS|secrets\./);
    for (const s of job.steps ?? []) {
      const keyed = JSON.stringify(s.env ?? {}).includes('secrets.');
      expect(keyed, s.name ?? s.uses).toBe(s.uses?.endsWith('/verify-backup') ?? false);
    }
    expect(job.steps?.find((s) => s.uses?.endsWith('/migrate-check'))?.env).toBeUndefined();
  });
  it('the fork notice runs on a GitHub-hosted runner, and docs/workflows.md asks public repositories for approval', () => {
    expect(w.jobs.fork?.['runs-on']).toBe('ubuntu-latest');
    expect(read('docs/workflows.md')).toMatch(/require approval for all external contributors/);
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
  it('the fleet decides the guard and the catch-up once; legs and summary follow that one decision', () => {
    const w = wf('examples/fleet-drill.yml');
    const guards = Object.entries(w.jobs).filter(([, j]) =>
      (j.steps ?? []).some((s) => s.with?.mode === 'guard'),
    );
    expect(guards.map(([id]) => id)).toEqual(['guard']);
    expect(w.jobs.drill?.needs).toBe('guard');
    expect(w.jobs.drill?.if).toBe("needs.guard.outputs.run == 'true'");
    expect(w.jobs.drill?.with).toMatchObject({ guard: false, 'catch-up': false });
    expect(w.jobs.summary?.needs).toEqual(['guard', 'drill']);
    expect(w.jobs.summary?.if).toBe("always() && needs.guard.outputs.run == 'true'");
    expect(w.jobs['catch-up']?.if).toBe("needs.guard.outputs.dispatch == 'true'");
    const guard = w.jobs.guard?.steps?.find((x) => x.with?.mode === 'guard');
    expect(w.jobs.summary?.name).toBe(guard?.with?.['drill-job']);
  });
});

/** WAL-G's decryption keys as the workflows give them to the recovering step. */
const walgKeys = {
  WALG_LIBSODIUM_KEY: ex('secrets.WALG_LIBSODIUM_KEY'),
  WALG_PGP_KEY: ex('secrets.WALG_PGP_KEY'),
  WALG_PGP_KEY_PASSPHRASE: ex('secrets.WALG_PGP_KEY_PASSPHRASE'),
};

describe('runner pools and least privilege', () => {
  const labels = (f: string) => JSON.parse(String(call(wf(f)).inputs['runs-on']?.default)) as string[];
  /** A runner whose labels are `b` takes a job that asks for `a` when a ⊆ b. */
  const takes = (b: string[], a: string[]) => a.every((l) => b.includes(l));

  it("a runner made for production restores or drills never takes a pull request's job by default, nor the reverse", () => {
    const pr = labels('.github/workflows/pr-check.yml');
    for (const f of ['.github/workflows/pitr.yml', '.github/workflows/drill.yml']) {
      expect(takes(labels(f), pr), `${f} runner takes pr-check`).toBe(false);
      expect(takes(pr, labels(f)), `pr-check runner takes ${f}`).toBe(false);
    }
    expect(labels('.github/workflows/pitr.yml')).toContain('restorable-restore');
    expect(labels('.github/workflows/pr-check.yml')).toContain('restorable-pr');
    // The examples keep the pools apart too.
    expect(JSON.parse(String(wf('examples/pr-check-caller.yml').jobs.migrations?.with?.['runs-on']))).toEqual(
      pr,
    );
    expect(JSON.parse(String(wf('examples/pitr-caller.yml').jobs.pitr?.with?.['runs-on']))).toEqual(
      labels('.github/workflows/pitr.yml'),
    );
  });

  it("drill.yml gives the backup store's keys to the two steps that read the store, not to the job", () => {
    const job = wf('.github/workflows/drill.yml').jobs.drill as Job;
    expect(JSON.stringify(job.env ?? {})).not.toMatch(/AWS/);
    const keyed = (job.steps ?? []).filter((st) => JSON.stringify(st.env ?? {}).includes('BACKUP_AWS'));
    expect(keyed.map((st) => st.id)).toEqual(['verify', 'pitr']);
    const keys = {
      AWS_ACCESS_KEY_ID: ex('secrets.BACKUP_AWS_ACCESS_KEY_ID'),
      AWS_SECRET_ACCESS_KEY: ex('secrets.BACKUP_AWS_SECRET_ACCESS_KEY'),
    };
    expect(keyed[0]?.env).toEqual(keys);
    expect(keyed[1]?.env).toEqual({ ...keys, ...walgKeys });
    expect(job.steps?.find((st) => st.id === 'drill')?.env).toBeUndefined();
  });

  it("WAL-G's decryption keys reach the one step that recovers, never a job's env or the plan", () => {
    const names = Object.keys(walgKeys);
    for (const file of ['.github/workflows/drill.yml', '.github/workflows/pitr.yml']) {
      const w = wf(file);
      for (const n of names) expect(call(w).secrets[n], `${file} declares ${n}`).toBeDefined();
      const given = Object.values(w.jobs).flatMap((j) => {
        expect(JSON.stringify(j.env ?? {})).not.toMatch(/WALG_(LIBSODIUM|PGP)/);
        return (j.steps ?? []).filter((st) => JSON.stringify(st.env ?? {}).includes('secrets.WALG_'));
      });
      expect(given.map((st) => st.id)).toEqual(['pitr']);
      expect(given[0]?.env).toMatchObject(walgKeys);
    }
    // In pitr.yml they are the environment's: read only once the restore is approved.
    const pitr = wf('.github/workflows/pitr.yml');
    expect(secretsOf(pitr.jobs.plan as Job).has('WALG_LIBSODIUM_KEY')).toBe(false);
    expect(call(pitr).secrets.WALG_LIBSODIUM_KEY?.description).toMatch(/secret of the environment/);
  });

  it('only the history job writes contents, and the caller example says why it must grant it', () => {
    const w = wf('.github/workflows/drill.yml');
    const writers = Object.entries(w.jobs).filter(([, j]) =>
      JSON.stringify(j.permissions ?? {}).includes('"contents":"write"'),
    );
    expect(writers.map(([id]) => id)).toEqual(['history']);
    expect(read('examples/drill-caller.yml')).toMatch(/contents: write\n/);
    expect(read('examples/drill-caller.yml')).toMatch(
      /only the history job uses it, only with history: branch/,
    );
  });

  it("the PITR plan shows the approver what will run: the in-place values go to the request's summary", () => {
    const steps = wf('.github/workflows/pitr.yml').jobs.plan?.steps ?? [];
    expect(steps.find((st) => st.with?.mode === 'pitr-request')?.with).toMatchObject({
      'target-time': ex('inputs.target-time'),
      'restore-mode': ex('inputs.mode'),
      'data-directory': ex('inputs.data-directory'),
      'stop-command': ex('inputs.stop-command'),
      'start-command': ex('inputs.start-command'),
    });
  });
});

describe('setup-postgres in the workflows', () => {
  const SETUP = './.restorable-kit/actions/setup-postgres';
  it("the PITR restore installs production's major first when postgres-major is set", () => {
    const w = wf('.github/workflows/pitr.yml');
    expect(call(w).inputs['postgres-major']).toMatchObject({ type: 'string', default: '' });
    const steps = w.jobs.restore?.steps ?? [];
    const setup = steps.findIndex((st) => st.uses === SETUP);
    const kit = steps.findIndex((st) => /\/pitr-restore$/.test(st.uses ?? ''));
    expect(setup).toBeGreaterThan(0);
    expect(setup).toBeLessThan(kit);
    expect(steps[setup]?.if).toBe("inputs.postgres-major != ''");
    expect(steps[setup]?.with).toEqual({ major: ex('inputs.postgres-major') });
  });

  it('a drill and a PR check install the majors the verified dump names when the runner lacks them', () => {
    for (const [f, id] of [
      ['.github/workflows/drill.yml', 'drill'],
      ['.github/workflows/pr-check.yml', 'check'],
    ] as const) {
      const w = wf(f);
      expect(call(w).inputs['postgres-major'], f).toMatchObject({ type: 'string', default: '' });
      expect(call(w).inputs['setup-postgres'], f).toMatchObject({ type: 'boolean', default: true });
      const steps = w.jobs[id]?.steps ?? [];
      const at = (re: RegExp) => steps.findIndex((st) => re.test(st.uses ?? ''));
      const [verify, drill] = [at(/\/verify-backup$/), at(/\/restore-drill$/)];
      const setups = steps.flatMap((st, i) => (st.uses === SETUP ? [i] : []));
      expect(setups, f).toHaveLength(2);
      // After the dump is read (verify needs no server with schema-check off), before the restore.
      expect(steps[verify]?.with?.['schema-check'], f).toBe('false');
      for (const i of setups) expect(i > verify && i < drill, f).toBe(true);
      const [server, client] = setups.map((i) => steps[i] as Step);
      expect(server?.with).toEqual({
        major: ex('inputs.postgres-major || steps.verify.outputs.server-major'),
      });
      expect(server?.if).toBe(
        "inputs.postgres-major != '' || (inputs.setup-postgres && inputs.pg-bin-dir == '' && steps.verify.outputs.server-major != '')",
      );
      expect(client?.with).toEqual({ major: ex('steps.verify.outputs.pg-dump-major') });
      expect(client?.if).toContain("inputs.setup-postgres && inputs.pg-bin-dir == ''");
      // verify-backup declares the outputs the steps read.
      const outputs = parse(read('actions/verify-backup/action.yml')).outputs as Record<string, unknown>;
      expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['server-major', 'pg-dump-major']));
    }
  });
});

describe("GitHub's workflow parser (lint:actions, beside actionlint)", () => {
  const caller = read('examples/drill-caller.yml');
  const lint = (text: string) => workflowParser(text, 'examples/drill-caller.yml');

  it('every workflow and example passes it', async () => {
    for (const f of ALL) expect(await workflowParser(read(f), f), f).toEqual([]);
  });

  it('a caller that misspells an input, or leaves a required one out, fails naming both', async () => {
    const problems = await lint(
      caller.replace('      database: app_production', '      databse: app_production'),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^examples\/drill-caller\.yml:\d+:\d+: Input database is required, but not provided while calling\. \[workflow-parser\]$/,
      ),
      expect.stringMatching(
        /^examples\/drill-caller\.yml:\d+:\d+: Invalid input, databse is not defined in the referenced workflow\./,
      ),
    ]);
  });

  it('a caller that passes a secret the workflow does not declare fails', async () => {
    const problems = await lint(
      caller.replace(
        '      SLACK_WEBHOOK_URL:',
        `      PRODUCTION_SUPERUSER_URL: ${ex('secrets.X')}\n      SLACK_WEBHOOK_URL:`,
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/Invalid secret, PRODUCTION_SUPERUSER_URL is not defined/),
    ]);
  });

  it("GitHub's schema: a key GitHub does not know fails", async () => {
    const problems = await lint(caller.replace('permissions: {}', 'permissions: {}\nconcurrence: x'));
    expect(problems.join('\n')).toMatch(/concurrence/);
  });

  it('a call to a workflow not in this repository is a problem, not a silent pass', async () => {
    const problems = await lint(
      caller.replace(
        'your-org/restorable/.github/workflows/drill.yml@v0',
        'other/tool/.github/workflows/x.yml@v1',
      ),
    );
    expect(problems).toEqual([
      'examples/drill-caller.yml:15:11: Unable to find reusable workflow [workflow-parser]',
    ]);
  });
});

/**
 * The inputs of pitr-restore that say where a backend's backups are: their description starts with
 * the backends they are for ("native: ...", "barman: ..."), so a backend added later is read too.
 */
const FOR_BACKENDS = new RegExp(`^(${BACKENDS.join('|')})(, (${BACKENDS.join('|')}))*:`);
const SOURCE_INPUTS = Object.entries(pitrInputs)
  .filter(([, spec]) => FOR_BACKENDS.test(spec.description))
  .map(([name]) => name);
/** Each step that recovers with pitr-restore (not the one that plants a marker), with its job's steps. */
const recoverSteps = (f: string) =>
  Object.entries(wf(f).jobs).flatMap(([id, job]) =>
    (job.steps ?? [])
      .map((step, i) => ({ id, job, step, i }))
      .filter((x) => x.step.uses?.endsWith('/pitr-restore') && x.step.with?.['plant-marker'] === undefined),
  );
const BACKEND_INPUT: Record<string, string> = {
  '.github/workflows/pitr.yml': 'backend',
  '.github/workflows/drill.yml': 'pitr-backend',
};

describe('every backend through the reusable workflows', () => {
  it('the spec’s backend inputs are found (the test reads them, it does not list them)', () => {
    expect(SOURCE_INPUTS).toEqual(
      expect.arrayContaining(['base-backups', 'stanza', 'barman-server', 'barman-config', 'barman-user']),
    );
  });

  it.each(Object.keys(BACKEND_INPUT))(
    '%s passes the backend and each of its inputs to every recovery',
    (f) => {
      const declared = call(wf(f)).inputs;
      const backend = BACKEND_INPUT[f] as string;
      for (const b of BACKENDS) expect(declared[backend]?.description, `${f}: ${backend}`).toContain(b);
      const steps = recoverSteps(f);
      expect(steps.length).toBeGreaterThan(0);
      for (const { id, step } of steps) {
        expect(step.with?.backend, `${f}: job ${id}`).toBe(ex(`inputs.${backend}`));
        for (const name of SOURCE_INPUTS) {
          expect(declared[name], `${f} declares ${name}`).toBeDefined();
          expect(step.with?.[name], `${f}: job ${id} passes ${name}`).toBe(ex(`inputs.${name}`));
        }
      }
    },
  );

  it.each(Object.keys(BACKEND_INPUT))(
    '%s sets WAL-G’s settings before every recovery with backend wal-g',
    (f) => {
      expect(call(wf(f)).inputs['walg-s3-prefix']).toBeDefined();
      for (const { id, job, i } of recoverSteps(f)) {
        const before = (job.steps ?? []).slice(0, i).find((s) => s.env?.WALG_S3_PREFIX !== undefined);
        expect(before?.if, `${f}: job ${id}`).toMatch(new RegExp(`inputs\\.${BACKEND_INPUT[f]} == 'wal-g'`));
        expect(before?.env).toEqual({
          WALG_S3_PREFIX: ex('inputs.walg-s3-prefix'),
          AWS_ENDPOINT: ex('inputs.s3-endpoint'),
          AWS_REGION: ex('inputs.s3-region'),
        });
      }
    },
  );

  it('the WAL-G settings step sets what is given, leaves the rest alone, and refuses a value that would add a variable', async () => {
    const [first] = recoverSteps('.github/workflows/pitr.yml');
    const script = (first?.job.steps ?? []).find((s) => s.env?.WALG_S3_PREFIX !== undefined)?.run as string;
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'walg-env-'));
    const envFile = path.join(dir, 'github-env');
    const step = async (env: Record<string, string>) => {
      fs.writeFileSync(envFile, '');
      const r = await run('bash', ['-e', '-c', script], {
        env: { GITHUB_ENV: envFile, WALG_S3_PREFIX: '', AWS_ENDPOINT: '', AWS_REGION: '', ...env },
      });
      return { code: r.code, out: r.stdout, written: fs.readFileSync(envFile, 'utf8') };
    };
    const r2 = await step({
      WALG_S3_PREFIX: 's3://pg-wal/app_production',
      AWS_ENDPOINT: 'https://acct.r2.cloudflarestorage.com',
      AWS_REGION: 'auto',
    });
    expect(r2).toMatchObject({ code: 0 });
    expect(r2.written).toBe(
      'WALG_S3_PREFIX=s3://pg-wal/app_production\nAWS_ENDPOINT=https://acct.r2.cloudflarestorage.com\nAWS_REGION=auto\nAWS_S3_FORCE_PATH_STYLE=true\n',
    );
    // Nothing given: the runner's own settings (its wal-g.env) are not overwritten with empty ones.
    expect(await step({})).toMatchObject({ code: 0, written: '' });
    const hostile = await step({ WALG_S3_PREFIX: 's3://x/y\nNODE_OPTIONS=--require=/tmp/evil.js' });
    expect(hostile.code).not.toBe(0);
    expect(hostile.written).toBe('');
    expect(hostile.out).toContain('::error::WALG_S3_PREFIX: holds a control character');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('actionlint', () => {
  it('every workflow, example and action file passes (action bundles aside: npm run build makes them)', async () => {
    const problems = (await lintAll()).filter((p) => !/does not exist \(npm run build\)/.test(p));
    expect(problems).toEqual([]);
  }, 60_000);
});

describe('docs/workflows.md', () => {
  it('documents each reusable workflow with tables generated from its file (npm run docs)', async () => {
    const { renderDoc, WORKFLOWS } = await import('../../scripts/docs.js');
    const page = read('docs/workflows.md');
    for (const name of WORKFLOWS) {
      for (const part of ['inputs', 'secrets', 'outputs', 'permissions']) {
        expect(page).toContain(`<!-- generated:workflow:${name}:${part} -->`);
      }
    }
    expect(page).toBe(renderDoc(page));
    expect(page).toContain('examples/fleet-drill.yml');
  });
});
