import { parseArgs as parseFlags } from 'node:util';
import { compareSpec } from '../compare/spec.js';
import { UserError } from '../core/errors.js';
import { booleanSchema } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';
import { drillSpec } from '../drill/spec.js';
import { migrateSpec } from '../migrate/spec.js';
import { pitrSpec } from '../pitr/spec.js';
import { verifySpec } from '../verify/spec.js';

export interface ParsedArgs {
  command: string | undefined;
  flags: Record<string, string>;
  /** Flags that belong to the command line itself, not to the command's inputs. */
  switches: Set<string>;
  positional: string[];
}

/** The commands that are rooms: their flags are their spec's inputs. */
export const COMMAND_SPECS: Record<string, ActionSpec> = {
  verify: verifySpec,
  drill: drillSpec,
  pitr: pitrSpec,
  compare: compareSpec,
  migrate: migrateSpec,
};

type Kind = 'string' | 'boolean';

/** Flags of the command line only: of a command, and of every command. */
const CLI_FLAGS: Record<string, Record<string, Kind>> = {
  drill: { 'write-reference': 'string' },
  clean: { root: 'string', all: 'boolean' },
};
const SWITCHES = ['json', 'help', 'quiet', 'version'];

function flagKinds(command: string | undefined): Record<string, Kind> {
  const spec = command ? COMMAND_SPECS[command] : undefined;
  return {
    ...Object.fromEntries(
      Object.entries(spec?.inputs ?? {}).map(([n, i]): [string, Kind] => [
        n,
        i.switch ? 'boolean' : 'string',
      ]),
    ),
    ...(command ? CLI_FLAGS[command] : {}),
  };
}

const noValue = (flag: string, word: string) =>
  new UserError(
    flag,
    `takes no value, but "${word}" follows it`,
    `Write ${flag} alone to turn it on (${flag}=false or --no-${flag.slice(2)} to turn it off), and give "${word}" to the flag it belongs to`,
  );

/**
 * `--name value`, `--name=value`, `--flag` (true) and `--no-flag` (false), by node:util's parseArgs
 * over the command's flags: a switch takes no value, so `--keep ./dir` is a mistake, not a folder
 * for keep. An unknown flag takes the next word, so that the command names it (with a guess).
 */
export function parseArgs(argv: string[]): ParsedArgs {
  const command = argv.find((a) => !a.startsWith('-'));
  const kinds = flagKinds(command);
  const options: Record<string, { type: Kind; short?: string }> = {
    ...Object.fromEntries(Object.entries(kinds).map(([n, type]) => [n, { type }])),
    ...Object.fromEntries(SWITCHES.map((n) => [n, { type: 'boolean' }])),
    help: { type: 'boolean', short: 'h' },
  };
  const { tokens } = parseFlags({
    args: argv,
    options,
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  const out: ParsedArgs = { command, flags: {}, switches: new Set(), positional: [] };
  let open: string | undefined;
  for (const [i, t] of tokens.entries()) {
    const previous = tokens[i - 1];
    if (t.kind === 'positional') {
      if (t.index === argv.indexOf(command ?? '') && t.value === command) continue;
      const afterSwitch =
        previous?.kind === 'option' && kinds[previous.name] === 'boolean' && !previous.inlineValue
          ? previous
          : undefined;
      if (open !== undefined) out.flags[open] = t.value;
      // `--keep false` reads as it always did; any other word after a switch is a mistake.
      else if (afterSwitch && booleanSchema.safeParse(t.value).success) out.flags[afterSwitch.name] = t.value;
      else if (afterSwitch) throw noValue(afterSwitch.rawName, t.value);
      else if (command === 'help' || command === 'fetch-postgres' || command === undefined)
        out.positional.push(t.value);
      else
        throw new UserError(
          t.value,
          `is not a flag of ${command}`,
          'Write flags as --name value or --name=value',
        );
      open = undefined;
      continue;
    }
    open = undefined;
    if (t.kind !== 'option') continue;
    if (SWITCHES.includes(t.name)) {
      if (!t.rawName.startsWith('--no-')) out.switches.add(t.name);
      continue;
    }
    const kind = kinds[t.name];
    if (kind === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))))
      throw new UserError(t.rawName, 'needs a value', `Write ${t.rawName} <value> or ${t.rawName}=<value>`);
    const negated = t.value === undefined && t.rawName.startsWith('--no-');
    if (t.value === undefined && kind === undefined && !negated) open = t.name;
    out.flags[t.name] = t.value ?? String(!negated);
  }
  return out;
}
