import { UserError } from '../core/errors.js';

export interface ParsedArgs {
  command: string | undefined;
  flags: Record<string, string>;
  /** Flags that belong to the command line itself, not to the command's inputs. */
  switches: Set<string>;
  positional: string[];
}

const SWITCHES = new Set(['json', 'help', 'quiet']);

/** `--name value`, `--name=value`, `--flag` (true) and `--no-flag` (false). */
export function parseArgs(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { command: undefined, flags: {}, switches: new Set(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-h') {
      out.switches.add('help');
      continue;
    }
    if (!a.startsWith('--')) {
      if (out.command === undefined) out.command = a;
      else out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = (eq === -1 ? a.slice(2) : a.slice(2, eq)).trim();
    if (!name) throw new UserError(a, 'is not a flag', 'Write flags as --name value or --name=value');
    if (SWITCHES.has(name)) {
      out.switches.add(name);
      continue;
    }
    if (eq !== -1) out.flags[name] = a.slice(eq + 1);
    else if (name.startsWith('no-')) out.flags[name.slice(3)] = 'false';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) out.flags[name] = 'true';
      else {
        out.flags[name] = next;
        i++;
      }
    }
  }
  return out;
}
