/**
 * npm run home: the repository the kit is published from, as every `uses:` line in the README, the
 * pages under docs/ and the examples names it, and package.json's `repository`.
 *
 *   npm run home                      prints it
 *   npm run home -- --check OWNER/NAME  exit 1, one line, when the docs name another (the release
 *                                     workflow runs it with the repository it releases from)
 *   npm run home -- --set OWNER/NAME    rewrites package.json and every kit uses: line to name it
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
/** What a kit uses: line points at after the repository: an action, a reusable workflow, or the root. */
const KIT_PATH = String.raw`(?:/actions/[a-z-]+|/\.github/workflows/[a-z-]+\.yml)?@`;

const read = (root: string, f: string) => fs.readFileSync(path.join(root, f), 'utf8');

/** The files whose uses: lines a user copies. */
export function docFiles(root = ROOT): string[] {
  const under = (d: string, ext: string) =>
    fs
      .readdirSync(path.join(root, d))
      .filter((f) => f.endsWith(ext))
      .map((f) => `${d}/${f}`);
  return ['README.md', ...under('docs', '.md'), ...under('examples', '.yml')];
}

/** The home package.json names (`"repository": "github:OWNER/NAME"`). */
export function kitHome(root = ROOT): string {
  const repo = (JSON.parse(read(root, 'package.json')) as { repository?: unknown }).repository;
  const m = typeof repo === 'string' ? /^github:(.+)$/.exec(repo) : null;
  if (!m || !NAME.test(m[1] as string))
    throw new Error('package.json: "repository" must be "github:OWNER/NAME", the kit\'s home');
  return m[1] as string;
}

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every uses: line of the kit in the docs: file and the repository it names. */
export function kitUses(root = ROOT): { file: string; repo: string; line: string }[] {
  const re = new RegExp(`uses: ([A-Za-z0-9-]+/[A-Za-z0-9._-]+)${KIT_PATH}\\S*`, 'g');
  const home = kitHome(root);
  return docFiles(root).flatMap((file) =>
    [...read(root, file).matchAll(re)]
      // The root action is `uses: OWNER/NAME@ref`, as any other action is: only the home's counts.
      .filter((m) => m[0].includes('/actions/') || m[0].includes('/.github/') || m[1] === home)
      .map((m) => ({ file, repo: m[1] as string, line: m[0] })),
  );
}

/** What --check says: nothing when every uses: line and package.json name `want`. */
export function checkHome(want: string, root = ROOT): string | undefined {
  const home = kitHome(root);
  const other = kitUses(root).find((u) => u.repo !== want);
  if (home === want && !other) return undefined;
  return `the docs name ${other ? `${other.repo} (${other.file}: ${other.line})` : home}, not ${want}, the repository this runs in: a user's uses: line would not work. Run npm run home -- --set ${want}, commit, and tag again`;
}

/** Point package.json and every kit uses: line at `to`. */
export function setHome(to: string, root = ROOT): void {
  if (!NAME.test(to)) throw new Error(`--set: "${to}" is not OWNER/NAME, the repository on GitHub`);
  const from = kitHome(root);
  const re = new RegExp(`uses: ${literal(from)}(${KIT_PATH})`, 'g');
  for (const f of docFiles(root)) {
    const text = read(root, f);
    const next = text.replace(re, (_m, rest: string) => `uses: ${to}${rest}`);
    if (next !== text) fs.writeFileSync(path.join(root, f), next);
  }
  const pkg = read(root, 'package.json');
  fs.writeFileSync(
    path.join(root, 'package.json'),
    pkg.replace(`"repository": "github:${from}"`, `"repository": "github:${to}"`),
  );
}

function main(args: string[]): number {
  const [flag, value = ''] = args;
  if (flag === '--check') {
    const said = checkHome(value);
    if (said) process.stderr.write(`home: ${said}\n`);
    return said ? 1 : 0;
  }
  if (flag === '--set') {
    setHome(value);
    process.stdout.write(`home: the docs and package.json now name ${value}\n`);
    return 0;
  }
  process.stdout.write(`${kitHome()}\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`home: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  }
}
