import { UserError } from '../../core/errors.js';
import { dispatchWorkflow, drillMonthState, workflowFile } from '../runs.js';
import { decideCatchUp } from '../schedule.js';
import type { ModeRun, ReportResult } from './mode.js';

/** The catch-up dispatch: looks again that no drill passed this month, then dispatches the workflow. */
export async function dispatch({ i, deps, ctx }: ModeRun): Promise<ReportResult> {
  const workflow = workflowFile(deps.env.GITHUB_WORKFLOW_REF);
  const ref = deps.env.GITHUB_REF ?? '';
  if (!ref) throw new UserError('GITHUB_REF', 'is not set', 'Run inside GitHub Actions');
  // Look again just before: another leg of a fleet may have dispatched one meanwhile.
  const again = decideCatchUp(
    await drillMonthState(deps.client(), ctx.repo(), {
      workflow,
      drillJob: i['drill-job'],
      now: deps.now,
      currentRunId: ctx.runId,
    }),
  );
  if (!again.dispatch) {
    deps.log.info(again.reason);
    return {
      outputs: { action: 'none', reason: again.reason },
      summary: `### Restorable catch-up\n\n${again.reason}\n`,
    };
  }
  await dispatchWorkflow(deps.client(), ctx.repo(), workflow, ref);
  deps.log.info(`dispatched ${workflow} on ${ref}`);
  return {
    outputs: { action: 'dispatched' },
    summary: `### Restorable catch-up\n\nNo drill passed this month: dispatched \`${workflow}\` on \`${ref}\`.\n`,
  };
}
