import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Bottleneck from 'bottleneck';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { octokitClient } from '../../src/actions/octokit.js';
import { type Logger, memoryLogger } from '../../src/core/log.js';
import { runReport } from '../../src/github/run.js';

/** A local stand-in for the GitHub API (and a chat webhook, and Telegram): it records every call. */
interface Call {
  method: string;
  path: string;
  body: unknown;
  auth: string;
}
interface FakeIssue {
  number: number;
  state: string;
  title: string;
  body: string;
  labels: string[];
  comments: { id: number; body: string; user?: { login: string; type: string } }[];
  /** A pull request (the issues list returns those too). */
  pull?: boolean;
}
const BOT = { login: 'github-actions[bot]', type: 'Bot' };

let server: http.Server;
let base: string;
let calls: Call[];
let issues: FakeIssue[];
let labels: Set<string>;
let runs: {
  id: number;
  event: string;
  status: string;
  conclusion: string | null;
  jobs: { name: string; conclusion: string }[];
}[];
let nextId: number;
let webhookStatus: number;
/** Answers given before any route's, one a request: a 5xx, a rate limit. */
let faults: { status: number; body: unknown; headers?: Record<string, string> }[];
/** Environments of acme/shop, by name, as GET /repos/{owner}/{repo}/environments/{name} returns them. */
let environments: Record<string, unknown>;
/** Each environment's custom deployment branch policies, by environment name. */
let branchPolicies: Record<string, { name: string; type: string }[]>;

function reset() {
  calls = [];
  issues = [];
  labels = new Set();
  runs = [];
  nextId = 100;
  webhookStatus = 200;
  environments = {};
  branchPolicies = {};
  faults = [];
}

/** One page of a list as GitHub serves it: `per_page` and `page` read, a Link to the next page. */
function paged(url: URL, items: unknown[]): [number, unknown, Record<string, string>] {
  const per = Number(url.searchParams.get('per_page') ?? 30);
  const page = Number(url.searchParams.get('page') ?? 1);
  const next = new URL(url);
  next.searchParams.set('page', String(page + 1));
  const more = page * per < items.length;
  return [200, items.slice((page - 1) * per, page * per), more ? { link: `<${next}>; rel="next"` } : {}];
}

function answer(req: http.IncomingMessage, body: unknown): [number, unknown, Record<string, string>?] {
  const fault = faults.shift();
  if (fault) return [fault.status, fault.body, fault.headers];
  const url = new URL(req.url ?? '/', base);
  const p = url.pathname;
  const m = req.method;
  const repo = '/repos/acme/shop';
  const issueJson = (i: FakeIssue) => ({
    number: i.number,
    title: i.title,
    html_url: `https://gh/issues/${i.number}`,
    state: i.state,
  });
  const at = (re: string) => new RegExp(`^${repo}${re}$`).exec(p);
  const labelM = at('/labels/(.+)');
  const commentsM = at('/issues/(\\d+)/comments');
  const commentM = at('/issues/comments/(\\d+)');
  const issueM = at('/issues/(\\d+)');
  const jobsM = at('/actions/runs/(\\d+)/jobs');
  const envM = at('/environments/([^/]+)');
  const policiesM = at('/environments/([^/]+)/deployment-branch-policies');
  if (p.startsWith('/hooks/')) return [webhookStatus, { ok: webhookStatus === 200 }];
  if (p.startsWith('/bot')) return [200, { ok: true }];
  if (m === 'GET' && p === `${repo}/issues`) {
    const label = url.searchParams.get('labels');
    const open = issues.filter((i) => i.state === 'open' && i.labels.includes(label ?? ''));
    return paged(
      url,
      open.map((i) => ({ ...issueJson(i), ...(i.pull ? { pull_request: {} } : {}) })),
    );
  }
  if (m === 'GET' && labelM) {
    return labels.has(decodeURIComponent(labelM[1] as string)) ? [200, {}] : [404, { message: 'Not Found' }];
  }
  if (m === 'POST' && p === `${repo}/labels`) {
    labels.add((body as { name: string }).name);
    return [201, {}];
  }
  if (m === 'POST' && p === `${repo}/issues`) {
    const b = body as { title: string; body: string; labels: string[] };
    const i = {
      number: issues.length + 1,
      state: 'open',
      title: b.title,
      body: b.body,
      labels: b.labels,
      comments: [],
    };
    issues.push(i);
    return [201, issueJson(i)];
  }
  if (commentsM) {
    const i = issues.find((x) => x.number === Number(commentsM[1]));
    if (!i) return [404, { message: 'Not Found' }];
    if (m === 'GET') {
      return paged(
        url,
        i.comments.map((c) => ({
          id: c.id,
          body: c.body,
          user: c.user ?? { login: 'someone', type: 'User' },
          html_url: `https://gh/c/${c.id}`,
        })),
      );
    }
    const c = { id: nextId++, body: (body as { body: string }).body, user: BOT };
    i.comments.push(c);
    return [201, { id: c.id, html_url: `https://gh/c/${c.id}` }];
  }
  if (m === 'PATCH' && commentM) {
    for (const i of issues) {
      const c = i.comments.find((x) => x.id === Number(commentM[1]));
      if (c) {
        c.body = (body as { body: string }).body;
        return [200, { id: c.id, html_url: `https://gh/c/${c.id}` }];
      }
    }
    return [404, { message: 'Not Found' }];
  }
  if (m === 'PATCH' && issueM) {
    const i = issues.find((x) => x.number === Number(issueM[1]));
    if (!i) return [404, {}];
    i.state = (body as { state: string }).state;
    return [200, issueJson(i)];
  }
  if (m === 'GET' && p === `${repo}/actions/runs/7/approvals`) {
    return [
      200,
      [
        {
          state: 'approved',
          comment: 'restore to 14:30',
          user: { login: 'lead-dba' },
          environments: [{ name: 'production-restore' }],
        },
      ],
    ];
  }
  if (m === 'GET' && p === `${repo}/actions/runs/7`) {
    return [
      200,
      {
        id: 7,
        created_at: '2026-04-29T14:34:00Z',
        actor: { login: 'first-oncall' },
        triggering_actor: { login: 'oncall' },
      },
    ];
  }
  if (m === 'GET' && policiesM) {
    const list = branchPolicies[decodeURIComponent(policiesM[1] as string)] ?? [];
    return [200, { total_count: list.length, branch_policies: list.map((b, k) => ({ id: k + 1, ...b })) }];
  }
  if (m === 'GET' && envM) {
    const name = decodeURIComponent(envM[1] as string);
    if (name === 'forbidden') return [403, { message: 'Resource not accessible by integration' }];
    return name in environments ? [200, environments[name]] : [404, { message: 'Not Found' }];
  }
  if (m === 'GET' && p === `${repo}/actions/workflows/monthly-drill.yml/runs`) {
    return [
      200,
      {
        total_count: runs.length,
        workflow_runs: runs.map((r) => ({
          ...r,
          created_at: '2026-11-01T06:00:00Z',
          html_url: `https://gh/runs/${r.id}`,
        })),
      },
    ];
  }
  if (m === 'GET' && jobsM) {
    const jobs = runs.find((r) => r.id === Number(jobsM[1]))?.jobs ?? [];
    return [200, { total_count: jobs.length, jobs }];
  }
  if (m === 'POST' && p === `${repo}/actions/workflows/monthly-drill.yml/dispatches`) return [204, undefined];
  if (m === 'GET' && p === `${repo}/actions/artifacts`) {
    return [
      200,
      {
        total_count: 3,
        artifacts: [
          { expired: false, created_at: '2026-10-04T06:30:00Z', workflow_run: { id: 41 } },
          { expired: false, created_at: '2026-11-01T06:30:00Z', workflow_run: { id: 55 } },
          { expired: true, created_at: '2026-11-02T06:30:00Z', workflow_run: { id: 60 } },
        ],
      },
    ];
  }
  return [404, { message: `no route ${m} ${p}` }];
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      const body = data ? JSON.parse(data) : undefined;
      calls.push({
        method: req.method ?? '',
        path:
          new URL(req.url ?? '/', base).pathname +
          (req.url?.includes('?') ? `?${req.url.split('?')[1]}` : ''),
        body,
        auth: String(req.headers.authorization ?? ''),
      });
      const [status, out, headers = {}] = answer(req, body);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(out === undefined ? '' : JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(reset);

const TOKEN = 'ghs_test_token_never_printed';
/**
 * The adapter's Octokit (retry and throttling plugins) against the local server. Its waits are
 * real, at 1 ms a second, and writes are not spaced apart (a second, three for those that notify:
 * GitHub asks that of real callers; here it would only slow the suite).
 */
const unspaced = () => new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 });
const client = (log: Logger) =>
  octokitClient({
    apiUrl: base,
    token: TOKEN,
    log,
    msPerSecond: 1,
    throttle: { write: unspaced(), notifications: unspaced() },
  });
const HOOK_SECRET = 'T000-B000-XXXXsecretXXXX';
const TG_TOKEN = '123456:AAtelegram-secret-token';
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-gh-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function report(dir: string, name: string, command: string, verdict: string, findings: unknown[] = []) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, name),
    JSON.stringify({
      tool: 'restorable',
      version: '0',
      command,
      verdict,
      totalSeconds: 12.5,
      failOn: 'high',
      stages: [],
      findings,
    }),
  );
  return dir;
}
const FAILING = [
  {
    rule: 'CHECKSUM_MISMATCH',
    severity: 'critical',
    stage: 'checksum',
    message: 'sha256 differs',
    fix: 'Use an earlier backup.',
  },
];

async function report_(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  now = '2026-11-01T06:30:00Z',
) {
  const log = memoryLogger();
  const result = await runReport(inputs, {
    client: () => client(log),
    log,
    env: {
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: '7',
      GITHUB_SERVER_URL: 'https://gh',
      GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/monthly-drill.yml@refs/heads/main',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_EVENT_NAME: 'schedule',
      GITHUB_ACTOR: 'oncall',
      ...env,
    },
    now: new Date(now),
  });
  return { result, log };
}

describe('the drill issue', () => {
  it('opens one on a failure, comments on it after that, closes it on a pass, then stays quiet', async () => {
    const failed = report(path.join(tmp, 'fail'), '2-drill.json', 'drill', 'fail', FAILING);
    const first = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: failed,
      label: 'restorable-drill shop',
    });
    expect(first.result.outputs).toMatchObject({
      verdict: 'fail',
      action: 'opened',
      'issue-url': 'https://gh/issues/1',
    });
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/labels/restorable-drill%20shop',
      'POST /repos/acme/shop/labels',
      'POST /repos/acme/shop/issues',
    ]);
    expect(calls[0]?.path).toContain('state=open&labels=restorable-drill%20shop');
    expect(calls[3]?.body).toMatchObject({
      labels: ['restorable-drill shop'],
      title: 'Restore drill failed: shop',
    });
    expect((calls[3]?.body as { body: string } | undefined)?.body).toContain(
      '| drill | checksum'.slice(0, 8),
    );
    expect((calls[3]?.body as { body: string } | undefined)?.body).toContain(
      '`CHECKSUM_MISMATCH` | sha256 differs | Use an earlier backup. |',
    );
    expect(calls.every((c) => c.auth === `token ${TOKEN}`)).toBe(true);

    calls = [];
    const second = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: failed,
      label: 'restorable-drill shop',
    });
    expect(second.result.outputs.action).toBe('commented');
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/issues',
      'POST /repos/acme/shop/issues/1/comments',
    ]);
    expect(issues).toHaveLength(1);

    calls = [];
    const passed = report(path.join(tmp, 'pass'), '2-drill.json', 'drill', 'pass');
    const third = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: passed,
      label: 'restorable-drill shop',
    });
    expect(third.result.outputs).toMatchObject({ verdict: 'pass', action: 'closed' });
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/issues',
      'POST /repos/acme/shop/issues/1/comments',
      'PATCH /repos/acme/shop/issues/1',
    ]);
    expect(calls[2]?.body).toEqual({ state: 'closed', state_reason: 'completed' });

    calls = [];
    const fourth = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: passed,
      label: 'restorable-drill shop',
    });
    expect(fourth.result.outputs.action).toBe('none');
    expect(calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('a drill job that ended without a report could not verify: an issue says so', async () => {
    const { result } = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: path.join(tmp, 'nothing-here'),
      'job-result': 'cancelled',
    });
    expect(result.outputs.verdict).toBe('could-not-verify');
    expect(issues[0]?.body).toContain('No report was written: the drill job ended `cancelled`');
    expect(issues[0]?.labels).toEqual(['restorable-drill']);
  });

  it('a fleet: one summary issue with a row per database', async () => {
    const dir = path.join(tmp, 'fleet');
    report(path.join(dir, 'restorable-drill-billing'), '2-drill.json', 'drill', 'pass');
    report(path.join(dir, 'restorable-drill-catalog'), '2-drill.json', 'drill', 'fail', FAILING);
    const { result } = await report_({ mode: 'drill-issue', fleet: 'true', database: 'fleet', reports: dir });
    expect(result.outputs.verdict).toBe('fail');
    expect(issues[0]?.labels).toEqual(['restorable-fleet']);
    expect(issues[0]?.body).toContain('| billing | ✅ PASS | drill pass | — |');
    expect(issues[0]?.body).toContain('| catalog | ❌ FAIL | drill fail | `CHECKSUM_MISMATCH` |');
  });
});

describe('the API client: retries, rate limits, every page', () => {
  const drillIssue = () =>
    report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: report(path.join(tmp, 'client-fail'), '2-drill.json', 'drill', 'fail', FAILING),
    });
  const routes = () => calls.map((c) => `${c.method} ${c.path.split('?')[0]}`);

  it('a 5xx is retried (1, 4, 9 s apart) and the call goes through', async () => {
    faults = [
      { status: 502, body: { message: 'Bad Gateway' } },
      { status: 503, body: { message: 'Service Unavailable' } },
    ];
    const { result } = await drillIssue();
    expect(result.outputs.action).toBe('opened');
    expect(routes().slice(0, 3)).toEqual([
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/issues',
      'GET /repos/acme/shop/issues',
    ]);
    expect(issues).toHaveLength(1);
  });

  it('a 5xx that lasts fails after three retries, naming the status', async () => {
    faults = Array.from({ length: 4 }, () => ({ status: 500, body: { message: 'Server Error' } }));
    await expect(drillIssue()).rejects.toMatchObject({ status: 500 });
    expect(routes()).toEqual(Array.from({ length: 4 }, () => 'GET /repos/acme/shop/issues'));
    expect(issues).toEqual([]);
  });

  it('a secondary rate limit waits for retry-after, says so, and goes on', async () => {
    faults = [
      {
        status: 403,
        body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes.' },
        headers: { 'retry-after': '7' },
      },
    ];
    const { result, log } = await drillIssue();
    expect(result.outputs.action).toBe('opened');
    expect(routes()[0]).toBe(routes()[1]);
    expect(log.lines.join('\n')).toMatch(
      /warning: GitHub API secondary rate limit on GET \/repos\/acme\/shop\/issues: retrying in 7s \(1 of 3\)/,
    );
  });

  it('a primary rate limit that resets in an hour is not waited for', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    faults = [
      {
        status: 403,
        body: { message: 'API rate limit exceeded' },
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
      },
    ];
    await expect(drillIssue()).rejects.toMatchObject({ status: 403 });
    expect(calls).toHaveLength(1);
  });

  it('reads every page: the open issue past page 10, the marked comment past page 30', async () => {
    for (let n = 1; n <= 1000; n++) {
      issues.push({
        number: n,
        state: 'open',
        title: 'a PR',
        body: '',
        labels: ['restorable-drill'],
        comments: [],
        pull: true,
      });
    }
    issues.push({
      number: 1001,
      state: 'open',
      title: 'drill',
      body: '',
      labels: ['restorable-drill'],
      comments: [],
    });
    const { result } = await drillIssue();
    expect(result.outputs.action).toBe('commented');
    expect(issues).toHaveLength(1001);
    expect(issues[1000]?.comments).toHaveLength(1);
    expect(calls.filter((c) => c.path.startsWith('/repos/acme/shop/issues?'))).toHaveLength(11);

    const marker = '<!-- restorable:migrate-check -->';
    const busy = {
      number: 2000,
      state: 'open',
      title: 'busy PR',
      body: '',
      labels: [],
      comments: Array.from({ length: 3000 }, (_, k) => ({ id: k + 1, body: `review ${k}` })),
      pull: true,
    };
    busy.comments.push({ id: 5000, body: `${marker}\nold`, user: BOT } as (typeof busy.comments)[number]);
    issues.push(busy);
    const pr = await report_({ mode: 'pr-comment', 'pr-number': '2000', body: `${marker}\nnew` });
    expect(pr.result.outputs.action).toBe('updated');
    expect(busy.comments).toHaveLength(3001);
    expect(busy.comments[3000]?.body).toBe(`${marker}\nnew`);
  });
});

describe('the PR comment', () => {
  it('is created once, then edited in place on the next push (found by its hidden marker)', async () => {
    issues.push({
      number: 12,
      state: 'open',
      title: 'PR',
      body: '',
      labels: [],
      comments: [{ id: 5, body: 'LGTM' }],
    });
    const marker = '<!-- restorable:migrate-check -->';
    const env = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path.join(tmp, 'event.json') };
    fs.writeFileSync(env.GITHUB_EVENT_PATH, JSON.stringify({ pull_request: { number: 12 } }));
    const one = await report_(
      { mode: 'pr-comment', body: `${marker}\n## Migration check: ✅ first push` },
      env,
    );
    expect(one.result.outputs.action).toBe('created');
    const two = await report_(
      { mode: 'pr-comment', body: `${marker}\n## Migration check: ❌ second push` },
      env,
    );
    expect(two.result.outputs.action).toBe('updated');
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/issues/12/comments',
      'POST /repos/acme/shop/issues/12/comments',
      'GET /repos/acme/shop/issues/12/comments',
      `PATCH /repos/acme/shop/issues/comments/${one.result.outputs['comment-url']?.split('/').pop()}`,
    ]);
    const comments = issues[0]?.comments ?? [];
    expect(comments).toHaveLength(2);
    expect(comments[1]?.body).toBe(`${marker}\n## Migration check: ❌ second push`);
  });

  it('one comment per database: two markers on one PR never overwrite each other', async () => {
    issues.push({ number: 20, state: 'open', title: 'PR', body: '', labels: [], comments: [] });
    const generic = '<!-- restorable:migrate-check -->';
    const marker = (db: string) => `<!-- restorable:migrate-check:${db} -->`;
    const post = (db: string, text: string) =>
      report_({ mode: 'pr-comment', 'pr-number': '20', marker: marker(db), body: `${generic}\n## ${text}` });
    expect((await post('billing', 'billing 1')).result.outputs.action).toBe('created');
    expect((await post('catalog', 'catalog 1')).result.outputs.action).toBe('created');
    expect((await post('billing', 'billing 2')).result.outputs.action).toBe('updated');
    expect((await post('catalog', 'catalog 2')).result.outputs.action).toBe('updated');
    const bodies = issues[0]?.comments.map((c) => c.body);
    expect(bodies).toEqual([
      `${marker('billing')}\n${generic}\n## billing 2`,
      `${marker('catalog')}\n${generic}\n## catalog 2`,
    ]);
  });

  it("only a bot's comment that starts with the marker is edited: a person quoting it is left alone", async () => {
    const marker = '<!-- restorable:migrate-check:shop -->';
    issues.push({
      number: 21,
      state: 'open',
      title: 'PR',
      body: '',
      labels: [],
      comments: [
        { id: 1, body: `${marker}\nI copied the bot's comment here`, user: { login: 'dev', type: 'User' } },
        { id: 2, body: `> quoting\n${marker}`, user: BOT },
      ],
    });
    const { result } = await report_({ mode: 'pr-comment', 'pr-number': '21', marker, body: 'result' });
    expect(result.outputs.action).toBe('created');
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
    expect(issues[0]?.comments.map((c) => c.body)).toEqual([
      `${marker}\nI copied the bot's comment here`,
      `> quoting\n${marker}`,
      `${marker}\nresult`,
    ]);
  });

  it('a marker that is not one hidden HTML comment is refused', async () => {
    await expect(
      report_({ mode: 'pr-comment', 'pr-number': '1', marker: 'restorable', body: 'x' }),
    ).rejects.toThrow(/marker: "restorable" is not one hidden HTML comment/);
    expect(calls).toEqual([]);
  });

  it('when the restore failed before the migration ran, the comment says so', async () => {
    issues.push({ number: 3, state: 'open', title: 'PR', body: '', labels: [], comments: [] });
    const failed = report(path.join(tmp, 'pr-fail'), '2-drill.json', 'drill', 'fail', FAILING);
    const { result } = await report_({
      mode: 'pr-comment',
      'pr-number': '3',
      reports: failed,
      'job-result': 'failure',
    });
    expect(result.outputs).toMatchObject({ action: 'created', verdict: 'fail' });
    expect(issues[0]?.comments[0]?.body).toMatch(
      /^<!-- restorable:migrate-check -->\n## Migration check: not run/,
    );
  });
});

describe('the environment the restore waits on', () => {
  const check = (environment: string, mode = 'in-place') =>
    report_({ mode: 'environment-check', environment, 'restore-mode': mode });
  const REVIEWED = {
    name: 'production-restore',
    can_admins_bypass: false,
    deployment_branch_policy: { protected_branches: true, custom_branch_policies: false },
    html_url: 'https://gh/acme/shop/deployments/activity_log?environments_filter=production-restore',
    protection_rules: [
      { id: 1, type: 'wait_timer', wait_timer: 0 },
      {
        id: 2,
        type: 'required_reviewers',
        prevent_self_review: true,
        reviewers: [
          { type: 'User', reviewer: { login: 'lead-dba' } },
          { type: 'Team', reviewer: { slug: 'dba' } },
        ],
      },
    ],
  };

  it('passes when it exists with required reviewers, naming them', async () => {
    environments['production-restore'] = REVIEWED;
    const { result } = await check('production-restore');
    expect(result.outputs.reviewers).toBe('lead-dba,dba');
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /repos/acme/shop/environments/production-restore',
    ]);
    expect(calls[0]?.auth).toBe(`token ${TOKEN}`);
  });

  it('refuses a mistyped name (no such environment): the restore would run with no sign-off', async () => {
    environments['production-restore'] = REVIEWED;
    await expect(check('prodution-restore', 'side-by-side')).rejects.toThrow(
      /environment: "prodution-restore" does not exist in acme\/shop, so the restore would run with no sign-off\. Create it under Settings → Environments/,
    );
  });

  it('refuses an environment without required reviewers', async () => {
    environments['production-restore'] = { name: 'production-restore', protection_rules: [] };
    await expect(check('production-restore')).rejects.toThrow(
      /"production-restore" in acme\/shop has no required reviewers.*Add the lead as a required reviewer/,
    );
    environments['production-restore'] = {
      name: 'production-restore',
      protection_rules: [{ type: 'branch_policy' }],
    };
    await expect(check('production-restore')).rejects.toThrow(/has no required reviewers/);
  });

  const reviewRule = (prevent: boolean | undefined) => ({
    id: 2,
    type: 'required_reviewers',
    ...(prevent === undefined ? {} : { prevent_self_review: prevent }),
    reviewers: [{ type: 'User', reviewer: { login: 'lead-dba' } }],
  });

  it('refuses reviewers without prevent self-review: whoever starts the restore could approve it', async () => {
    for (const prevent of [false, undefined]) {
      environments['production-restore'] = { ...REVIEWED, protection_rules: [reviewRule(prevent)] };
      await expect(check('production-restore')).rejects.toThrow(
        /"production-restore" in acme\/shop lets whoever starts the restore approve it \(prevent self-review is off\)\. Tick "Prevent self-review"/,
      );
    }
    environments['production-restore'] = { ...REVIEWED, protection_rules: [reviewRule(true)] };
    expect((await check('production-restore')).result.outputs.reviewers).toBe('lead-dba');
  });

  it('refuses an environment administrators may bypass (GitHub allows it unless told not to)', async () => {
    for (const bypass of [true, undefined]) {
      const { can_admins_bypass: _, ...rest } = REVIEWED;
      environments['production-restore'] =
        bypass === undefined ? rest : { ...rest, can_admins_bypass: bypass };
      await expect(check('production-restore')).rejects.toThrow(
        /lets administrators skip the review \(admin bypass is on\)\. Untick "Allow administrators to bypass configured protection rules"/,
      );
    }
  });

  it('refuses an environment any branch may use; names the branches a policy allows', async () => {
    environments['production-restore'] = { ...REVIEWED, deployment_branch_policy: null };
    await expect(check('production-restore')).rejects.toThrow(
      /may be used from any branch, so a workflow pushed to any branch could ask for it and its secrets\. Under .*"Protected branches only"/,
    );
    const custom = { protected_branches: false, custom_branch_policies: true };
    environments['production-restore'] = { ...REVIEWED, deployment_branch_policy: custom };
    await expect(check('production-restore')).rejects.toThrow(/allows selected branches but names none/);
    branchPolicies['production-restore'] = [
      { name: 'main', type: 'branch' },
      { name: 'v*', type: 'tag' },
    ];
    calls = [];
    const { result } = await check('production-restore');
    expect(result.summary).toContain('usable from `main`, `tag v*`');
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/environments/production-restore',
      'GET /repos/acme/shop/environments/production-restore/deployment-branch-policies',
    ]);
  });

  it('says which permission is missing when the token may not read it', async () => {
    await expect(check('forbidden')).rejects.toThrow(/HTTP 403.*Grant `actions: read`/);
  });

  it('a drill is not checked: no API call', async () => {
    const { result } = await check('anything', 'drill');
    expect(result.outputs.reviewers).toBe('');
    expect(calls).toEqual([]);
  });
});

describe('the PITR request the approver reads', () => {
  const request = (extra: Record<string, string>) =>
    report_(
      {
        mode: 'pitr-request',
        database: 'app_production',
        'target-time': '2026-04-29 16:30:00+02:00',
        reason: 'INC-42',
        ...extra,
      },
      {
        GITHUB_EVENT_NAME: 'workflow_dispatch',
        GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/pitr-caller.yml@refs/heads/main',
        GITHUB_SHA: 'a'.repeat(40),
      },
      '2026-04-29T15:00:00Z',
    );

  it('in place: the summary shows the target, the mode, the data directory, both commands and the caller', async () => {
    const { result } = await request({
      'restore-mode': 'in-place',
      confirm: '7301234567890123456',
      'data-directory': '/var/lib/postgresql/16/main',
      'stop-command': 'systemctl stop app postgresql@16-main',
      'start-command': 'systemctl start postgresql@16-main app',
    });
    const s = result.summary;
    expect(s).toContain('| target time | ` 2026-04-29T14:30:00.000Z ` |');
    expect(s).toContain('| mode | ` in-place ` |');
    expect(s).toContain('| data directory (replaced) | ` /var/lib/postgresql/16/main ` |');
    expect(s).toContain('| stop command | ` systemctl stop app postgresql@16-main ` |');
    expect(s).toContain('| start command | ` systemctl start postgresql@16-main app ` |');
    expect(s).toContain('| caller | ` acme/shop/.github/workflows/pitr-caller.yml@refs/heads/main ` |');
    expect(s).toContain('| caller ref | ` refs/heads/main ` |');
    expect(s).toContain(`| caller commit | \` ${'a'.repeat(40)} \` |`);
    expect(calls).toEqual([]);
  });

  it('a command cannot hide itself: backticks, pipes and lines stay inside their code', async () => {
    const sneaky = 'pg_ctl stop ``` | x\n```\n**approved by the lead**';
    const { result } = await request({
      'restore-mode': 'in-place',
      confirm: '7301234567890123456',
      'stop-command': sneaky,
      'start-command': 'echo `date` | logger',
    });
    const s = result.summary;
    expect(s).toContain('| start command | `` echo `date` \\| logger `` |');
    expect(s).toContain('| stop command | ```` pg_ctl stop ``` \\| x … (in full below) ```` |');
    expect(s).toContain(`**stop command**\n\n\`\`\`\`sh\n${sneaky}\n\`\`\`\`\n`);
  });

  it('side-by-side and drill show no in-place rows', async () => {
    const { result } = await request({ 'restore-mode': 'side-by-side', 'stop-command': 'x' });
    expect(result.summary).toContain('| mode | ` side-by-side ` |');
    expect(result.summary).not.toContain('stop command');
  });
});

describe('the incident record', () => {
  it("takes the verification from the restore job's verify-* outputs (the checks run where the server is)", async () => {
    await report_(
      {
        mode: 'incident',
        database: 'app_production',
        'target-time': '2026-04-29T14:30:00.000Z',
        'restore-mode': 'in-place',
        reason: 'INC-43',
        plan: JSON.stringify({ 'finished-at': '2026-04-29T14:36:00Z' }),
        restore: JSON.stringify({
          'started-at': '2026-04-29T14:45:00Z',
          'finished-at': '2026-04-29T15:03:00Z',
          verdict: 'pass',
          'recovered-to': '2026-04-29T14:29:58Z',
          'verify-finished-at': '2026-04-29T15:07:30Z',
          'verify-verdict': 'could-not-verify',
          'verify-detail': 'in-place without CHECK_DATABASE_URL: the checks did not run',
        }),
      },
      { GITHUB_EVENT_NAME: 'workflow_dispatch' },
    );
    const body = issues[0]?.body ?? '';
    expect(body).toContain(
      '| verification | could-not-verify: in-place without CHECK_DATABASE_URL: the checks did not run |',
    );
    expect(body).toContain('| Verification | 10m00s | 4m30s | ✅ |');
    expect(issues[0]?.title).toContain('restore FAILED');
  });

  it('reads the run approvals and names the approver', async () => {
    const { result } = await report_(
      {
        mode: 'incident',
        database: 'app_production',
        'target-time': '2026-04-29T14:30:00.000Z',
        'restore-mode': 'side-by-side',
        reason: 'INC-42',
        plan: JSON.stringify({ 'finished-at': '2026-04-29T14:36:00Z', 'estimated-seconds': '900' }),
        restore: JSON.stringify({
          'started-at': '2026-04-29T14:45:00Z',
          'finished-at': '2026-04-29T15:03:00Z',
          verdict: 'pass',
          'recovered-to': '2026-04-29T14:29:58Z',
          'total-seconds': '1080',
        }),
        verify: JSON.stringify({ 'finished-at': '2026-04-29T15:08:00Z', verdict: 'pass' }),
      },
      { GITHUB_EVENT_NAME: 'workflow_dispatch' },
    );
    expect(calls.map((c) => `${c.method} ${c.path.split('?')[0]}`)).toEqual([
      'GET /repos/acme/shop/actions/runs/7/approvals',
      'GET /repos/acme/shop/actions/runs/7',
      'GET /repos/acme/shop/labels/restorable-incident',
      'POST /repos/acme/shop/labels',
      'POST /repos/acme/shop/issues',
    ]);
    expect(result.outputs).toMatchObject({ verdict: 'pass', action: 'opened' });
    const body = issues[0]?.body ?? '';
    expect(body).toContain('| signed off by | @lead-dba (production-restore): "restore to 14:30" |');
    // The run's triggering actor (who dispatched or re-ran it), not the first run's actor.
    expect(body).toContain('| requested by | @oncall at 2026-04-29T14:34:00Z |');
    expect(body).toContain(
      '| Decision (approval wait) | 10m00s | 9m00s (plan done to restore started, runner queue included) | ✅ |',
    );
    expect(issues[0]?.title).toBe(
      'Incident record: app_production side-by-side to 2026-04-29T14:30:00.000Z: restored (INC-42)',
    );
  });
});

describe('the schedule guard and its catch-up', () => {
  it('the first Sunday drills without asking the API', async () => {
    const { result } = await report_({ mode: 'guard' }, {}, '2026-11-01T06:00:00Z');
    expect(result.outputs).toMatchObject({ run: 'true', dispatch: 'false' });
    expect(calls).toEqual([]);
  });
  it('a later Sunday with no drill passed this month asks for a dispatch; dispatch starts one', async () => {
    runs = [
      {
        id: 50,
        event: 'schedule',
        status: 'completed',
        conclusion: 'failure',
        jobs: [{ name: 'drill / restorable drill (shop)', conclusion: 'failure' }],
      },
    ];
    const { result } = await report_(
      { mode: 'guard', 'drill-job': 'restorable drill (shop)' },
      {},
      '2026-11-08T06:00:00Z',
    );
    expect(result.outputs).toMatchObject({ run: 'false', dispatch: 'true' });
    expect(calls[0]?.path).toContain('/actions/workflows/monthly-drill.yml/runs?created=%3E%3D2026-11-01');
    calls = [];
    const d = await report_(
      { mode: 'dispatch', 'drill-job': 'restorable drill (shop)' },
      {},
      '2026-11-08T06:00:00Z',
    );
    expect(d.result.outputs.action).toBe('dispatched');
    const post = calls.find((c) => c.method === 'POST');
    expect(post).toMatchObject({
      path: '/repos/acme/shop/actions/workflows/monthly-drill.yml/dispatches',
      body: { ref: 'refs/heads/main' },
    });
  });
  it('no dispatch when a drill passed this month, or one is on its way', async () => {
    runs = [
      {
        id: 51,
        event: 'schedule',
        status: 'completed',
        conclusion: 'success',
        jobs: [{ name: 'drill / restorable drill (shop)', conclusion: 'success' }],
      },
    ];
    const passed = await report_(
      { mode: 'guard', 'drill-job': 'restorable drill (shop)' },
      {},
      '2026-11-08T06:00:00Z',
    );
    expect(passed.result.outputs).toMatchObject({ run: 'false', dispatch: 'false' });
    expect(passed.result.outputs.reason).toContain('a drill passed this month (https://gh/runs/51)');
    runs = [{ id: 52, event: 'workflow_dispatch', status: 'queued', conclusion: null, jobs: [] }];
    const pending = await report_(
      { mode: 'dispatch', 'drill-job': 'restorable drill (shop)' },
      {},
      '2026-11-08T06:00:00Z',
    );
    expect(pending.result.outputs.action).toBe('none');
    expect(calls.some((c) => c.path.endsWith('/dispatches'))).toBe(false);
  });
  it('reads its booleans as every input does: yes, no, on, off', async () => {
    const on = await report_({ mode: 'guard', guard: 'yes', 'catch-up': 'off' }, {}, '2026-11-08T06:00:00Z');
    expect(on.result.outputs).toMatchObject({ run: 'false', dispatch: 'false' });
    const off = await report_({ mode: 'guard', guard: 'no' }, {}, '2026-11-08T06:00:00Z');
    expect(off.result.outputs).toMatchObject({ run: 'true', dispatch: 'false' });
    expect(off.result.outputs.reason).toContain('the guard is off');
    expect(calls).toEqual([]);
    await expect(report_({ mode: 'guard', guard: 'maybe' })).rejects.toThrow(
      'guard: "maybe" is not true or false. Write true or false',
    );
  });
  it('finds the run of the newest unexpired history artifact', async () => {
    const { result } = await report_({ mode: 'last-artifact', artifact: 'restorable-history-shop' });
    expect(result.outputs['run-id']).toBe('55');
    expect(calls[0]?.path).toContain('name=restorable-history-shop');
  });
});

describe('notifications', () => {
  it('posts to the webhook and to Telegram; the URL and the token appear in no log, output or summary', async () => {
    const failed = report(path.join(tmp, 'notify'), '2-drill.json', 'drill', 'fail', FAILING);
    const { result, log } = await report_({
      mode: 'drill-issue',
      database: 'shop',
      reports: failed,
      'webhook-url': `${base}/hooks/${HOOK_SECRET}`,
      'telegram-token': TG_TOKEN,
      'telegram-chat-id': '-100200',
      'telegram-api-url': base,
    });
    const hook = calls.find((c) => c.path.startsWith('/hooks/'));
    expect((hook?.body as { text: string } | undefined)?.text).toMatch(
      /^❌ FAIL restore drill of shop .*CHECKSUM_MISMATCH/,
    );
    const tg = calls.find((c) => c.path.startsWith('/bot'));
    expect(tg?.path).toBe(`/bot${TG_TOKEN}/sendMessage`);
    expect(tg?.body).toMatchObject({ chat_id: '-100200' });
    expect(log.secrets).toEqual(expect.arrayContaining([`${base}/hooks/${HOOK_SECRET}`, TG_TOKEN]));
    const printed = [...log.lines, JSON.stringify(result)].join('\n');
    for (const s of [HOOK_SECRET, TG_TOKEN, TOKEN]) expect(printed).not.toContain(s);
    expect(log.lines).toContain('notified by webhook (HTTP 200)');
  });

  it('a failing webhook is a warning that names the channel and status, never the URL', async () => {
    webhookStatus = 500;
    const { result, log } = await report_({
      mode: 'notify',
      body: 'pg backup uploaded',
      'webhook-url': `${base}/hooks/${HOOK_SECRET}`,
    });
    expect(result.outputs.action).toBe('failed');
    expect(log.lines).toContain('warning: the webhook notification failed: HTTP 500');
    expect([...log.lines, JSON.stringify(result)].join('\n')).not.toContain(HOOK_SECRET);
  });

  it('an unreachable webhook: the error is scrubbed of the URL', async () => {
    const { log } = await report_({
      mode: 'notify',
      body: 'x',
      'webhook-url': `http://127.0.0.1:1/hooks/${HOOK_SECRET}`,
    });
    expect(log.lines.join('\n')).toMatch(/the webhook notification failed/);
    expect(log.lines.join('\n')).not.toContain(HOOK_SECRET);
  });
});
