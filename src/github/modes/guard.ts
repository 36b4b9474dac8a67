import { drillMonthState, workflowFile } from '../runs.js';
import { decideCatchUp, decideSchedule } from '../schedule.js';
import type { ModeRun, ReportResult } from './mode.js';

/**
 * The schedule guard: whether this run drills, and, when the month has no passing drill yet, whether
 * to dispatch one.
 */
export async function guard({ i, deps, ctx }: ModeRun): Promise<ReportResult> {
  const decision = decideSchedule({
    now: deps.now,
    event: deps.env.GITHUB_EVENT_NAME ?? '',
    guard: i.guard,
    catchUp: i['catch-up'],
  });
  let dispatch = false;
  let reason = decision.reason;
  if (decision.checkCatchUp) {
    const state = await drillMonthState(deps.client(), ctx.repo(), {
      workflow: workflowFile(deps.env.GITHUB_WORKFLOW_REF),
      drillJob: i['drill-job'],
      now: deps.now,
      currentRunId: ctx.runId,
    });
    const c = decideCatchUp(state);
    dispatch = c.dispatch;
    reason = `${decision.reason}: ${c.reason}`;
  }
  deps.log.info(reason);
  return {
    outputs: { run: String(decision.run), dispatch: String(dispatch), reason },
    summary: `### Restorable schedule guard\n\n${decision.run ? '▶️ drill' : dispatch ? '↪️ catch-up dispatch' : '⏭️ skipped (not a failure)'}: ${reason}\n`,
  };
}
