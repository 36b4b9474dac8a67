import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/**
 * Run a committed action bundle as the runner starts it: inputs as INPUT_*, saved state as STATE_*,
 * outputs, state and the job summary in files. Returns what the step printed, set and saved. With
 * RESTORABLE_TEST_CLI=source (as for the CLI), the action's sources run through tsx instead, for a
 * branch whose bundles are not rebuilt yet.
 */
export function runBundle(
  dir: string,
  bundle: string,
  inputs: Record<string, string>,
  state: Record<string, string> = {},
) {
  const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const summary = `${out}.md`;
  const stateFile = `${out}.state`;
  for (const f of [out, summary, stateFile]) fs.writeFileSync(f, '');
  const env: Record<string, string> = {
    GITHUB_OUTPUT: out,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_STATE: stateFile,
    RUNNER_TEMP: dir,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(state)) env[`STATE_${k}`] = v;
  const argv =
    process.env.RESTORABLE_TEST_CLI === 'source'
      ? ['--import', 'tsx', path.join(root, 'src/entries', `${bundle}.ts`)]
      : [path.join(root, 'dist', bundle, 'index.js')];
  const r = spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && !k.startsWith('STATE_')),
      ),
      ...env,
    },
  });
  const read = (file: string) => {
    const vals: Record<string, string> = {};
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
      vals[m[1] as string] = m[3] as string;
    return vals;
  };
  return {
    code: r.status,
    stdout: r.stdout,
    outputs: read(out),
    saved: read(stateFile),
    summary: fs.readFileSync(summary, 'utf8'),
  };
}
