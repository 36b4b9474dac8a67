import { formatBytes } from '../core/duration.js';
import type { VerifyResult } from './context.js';

/** The facts about a verified backup that head the summary and the console report. */
export function verifyFacts(r: VerifyResult): [string, string][] {
  const b = r.backup;
  const rows: [string, string][] = [['source', r.source]];
  if (!b) return rows;
  rows.push(
    ['backup', b.name],
    [
      'taken',
      `${b.time} (from its ${b.timeFrom === 'name' ? 'name' : 'modification time'}), ${b.ageHours} h ago`,
    ],
  );
  rows.push(['size', `${formatBytes(b.sizeBytes)} (${b.sizeBytes} bytes)`]);
  if (b.format) {
    const parts = [
      b.format,
      b.wrapper ? `inside ${b.wrapper}` : '',
      b.compression ? `${b.compression} blocks` : '',
    ];
    rows.push([
      'format',
      parts.filter(Boolean).join(', ') + (b.archiveVersion ? `; archive ${b.archiveVersion}` : ''),
    ]);
  }
  if (b.serverVersion)
    rows.push([
      'dumped from',
      `PostgreSQL ${b.serverVersion}${b.database ? `, database ${b.database}` : ''}`,
    ]);
  if (b.pgDumpVersion) rows.push(['pg_dump', b.pgDumpVersion]);
  if (b.tables !== undefined) rows.push(['tables', String(b.tables)]);
  if (b.tocEntries) {
    const types = Object.entries(b.tocEntries).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    const total = types.reduce((n, [, c]) => n + c, 0);
    rows.push(['contents', `${total} entries: ${types.map(([t, c]) => `${c} ${t}`).join(', ')}`]);
  }
  if (b.extensions?.length) rows.push(['extensions', b.extensions.join(', ')]);
  if (b.dataBlocks !== undefined && b.format !== 'plain') {
    rows.push(['data walked', `${b.dataBlocks} blocks, ${formatBytes(b.dataBytes ?? 0)} decompressed`]);
  }
  if (b.sha256) rows.push(['sha256', b.sha256]);
  if (b.checksum)
    rows.push([
      'checksum',
      `${b.checksum.algorithm} from ${b.checksum.from}: ${b.checksum.matched ? 'matches' : 'DIFFERS'}`,
    ]);
  if (r.schema)
    rows.push(['schema replay', `${r.schema.tool} into PostgreSQL ${r.schema.server}, ${r.schema.seconds}s`]);
  if (b.localPath)
    rows.push(['local path', b.download ? `${b.localPath} (the download, kept)` : b.localPath]);
  else if (b.download) rows.push(['download', `${b.download.path}: removed at the end of the run`]);
  return rows;
}
