import { verifyFacts } from '../backup/facts.js';
import { ident } from '../postgres/client.js';
import type { DrillResult } from './run.js';

/** The facts that head a drill's summary: the backup, the target, the restore, what came back. */
export function drillFacts(r: DrillResult): [string, string][] {
  const rows: [string, string][] = [];
  rows.push([
    'tier',
    r.tier === 'full' ? 'full' : `${r.tier.toUpperCase()} (not checked: ${r.notChecked.join(', ')})`,
  ]);
  // A local backup's path is the source's; a download's (kept or removed) is news.
  const verify = verifyFacts({ ...r, command: 'verify', candidates: 0 }).filter(
    ([k]) => k !== 'local path' || r.backup?.download,
  );
  rows.push(...verify);
  if (r.target) {
    const settings = Object.entries(r.target.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    rows.push([
      'target',
      r.target.kind === 'scratch'
        ? `scratch PostgreSQL ${r.target.version}${r.target.source === 'embedded' ? ' (embedded build)' : ''}${r.target.rehearsalFrom ? `, an upgrade rehearsal of a PostgreSQL ${r.target.rehearsalFrom} dump` : ''}, database ${r.target.database}; tuned for a one-off load: ${settings}`
        : `existing server, PostgreSQL ${r.target.version}: database ${r.target.database}, created for this drill${r.target.url ? '' : ' and dropped after'} (its settings untouched)`,
    ]);
  }
  if (r.restore) {
    const jobs = r.restore.tool.startsWith('pg_restore') ? `, ${r.restore.jobs} job(s)` : '';
    rows.push(['restore', `${r.restore.tool}${jobs}, ${r.restore.seconds.toFixed(1)}s`]);
  }
  if (r.tables !== undefined)
    rows.push(['restored', `${r.tables} tables${r.rows !== undefined ? `, ${r.rows} rows` : ''}`]);
  if (r.smoke?.length)
    rows.push([
      'smoke queries',
      r.smoke.map((q) => `${q.name}: ${q.value ?? 'error'} (${q.expect})${q.ok ? '' : ' FAILED'}`).join('; '),
    ]);
  if (r.trend) rows.push(['trend', r.trend]);
  if (r.target?.url) {
    const h = r.target.handle ? (JSON.parse(r.target.handle) as { root?: string }) : {};
    const remove = h.root
      ? `remove it with: restorable clean --root ${h.root}`
      : `drop it when done: DROP DATABASE ${ident(r.target.database)} WITH (FORCE)`;
    rows.push(['kept', `${r.target.url} (${remove})`]);
  }
  return rows;
}
