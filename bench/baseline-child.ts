/**
 * One runVerify of a tree's own src/ (this one's, or a baseline commit's unpacked by bench/baseline.ts),
 * in a process of its own: `tsx bench/baseline-child.ts ROOT FILE WORKDIR`. The last stdout line is
 * `RESULT {"seconds":…,"cpuSeconds":…,"verdict":…}`: the second runVerify in the process (the first loads
 * the modules), wall and CPU (all threads).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type Verify = (opts: unknown, log: unknown) => Promise<{ verdict: string }>;
type Parse = (raw: Record<string, string>, how: string) => unknown;

async function load(root: string, rels: string[], name: string): Promise<unknown> {
  for (const rel of rels) {
    const file = path.join(root, rel);
    if (fs.existsSync(file))
      return ((await import(pathToFileURL(file).href)) as Record<string, unknown>)[name];
  }
  throw new Error(`${root}: none of ${rels.join(', ')} exists`);
}

async function main(): Promise<void> {
  const [root = '', file = '', workDir = ''] = process.argv.slice(2);
  // parseVerifyOptions moved from src/verify/ to src/backup/ after issue 17 began.
  const parse = (await load(
    root,
    ['src/backup/options.ts', 'src/verify/options.ts'],
    'parseVerifyOptions',
  )) as Parse;
  const runVerify = (await load(root, ['src/verify/run.ts'], 'runVerify')) as Verify;
  const log = await load(root, ['src/core/log.ts'], 'silentLogger');
  const opts = parse(
    { source: file, 'schema-check': 'false', checksum: 'skip', 'max-age': '1000d', 'work-dir': workDir },
    'input',
  );
  // A first run loads (and tsx compiles) the modules: the second is the one measured.
  await runVerify(opts, log);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const r = await runVerify(opts, log);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  process.stdout.write(`RESULT ${JSON.stringify({ seconds, cpuSeconds, verdict: r.verdict })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`baseline child failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
