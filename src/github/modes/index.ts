import type { ReportMode } from '../spec.js';
import { dispatch } from './dispatch.js';
import { drillIssue } from './drill-issue.js';
import { environmentCheck } from './environment-check.js';
import { guard } from './guard.js';
import { incident } from './incident.js';
import { lastArtifact } from './last-artifact.js';
import type { ModeHandler } from './mode.js';
import { notifyMode } from './notify.js';
import { pitrRequest } from './pitr-request.js';
import { prComment } from './pr-comment.js';

/** github-report's modes, one handler each. */
export const MODES: Record<ReportMode, ModeHandler> = {
  guard,
  dispatch,
  'drill-issue': drillIssue,
  'pr-comment': prComment,
  'pitr-request': pitrRequest,
  'environment-check': environmentCheck,
  incident,
  notify: notifyMode,
  'last-artifact': lastArtifact,
};
