import { z } from 'zod';
import { SEVERITIES, type Severity } from '../report/findings.js';
import { parseDuration } from './duration.js';
import { UserError } from './errors.js';

/**
 * One input of an action (and flag of the CLI): its description and default (for action.yml, the
 * docs/ and `restorable help`), whether the CLI reads it as a switch, and the zod schema from its
 * text (undefined when not given) to its typed value: a schema with a default applies it (zod's
 * `default`), and the reader refuses a missing required input before its schema runs. A schema's
 * issues carry the problem as their message and the fix as `params.fix`; the reader prefixes the
 * input's name.
 */
export interface Input<T = unknown> {
  description: string;
  /** The default as action.yml and docs/ write it. */
  default?: string;
  required?: boolean;
  /** A switch on the command line: `--keep` alone is true, `--no-keep` false; it takes no value. */
  switch?: boolean;
  schema: z.ZodType<T, string | undefined>;
}

export type Inputs = Record<string, Input>;

/** The typed values of a set of inputs, as the reader returns them. */
export type Values<I extends Inputs> = { [K in keyof I]: z.output<I[K]['schema']> };

/** A problem with a value, as a zod issue: the message says what is wrong, `fix` how to fix it. */
function problem(ctx: z.core.$RefinementCtx, input: string, message: string, fix: string): never {
  ctx.issues.push({ code: 'custom', input, message, params: { fix } });
  return z.NEVER;
}

/**
 * A schema over a parser of this code base that throws a UserError (naming nothing: the reader names
 * the input): its problem and fix become the issue.
 */
function parsed<T>(parse: (text: string) => T) {
  return z.string().transform((text, ctx): T => {
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof UserError) return problem(ctx, text, e.problem, e.fix);
      throw e;
    }
  });
}

interface Given {
  default?: string;
  required?: boolean;
}

/** An input over a schema of its text: undefined when not given. */
function optional<T>(
  description: string,
  schema: z.ZodType<T, string>,
  asSwitch = false,
): Input<T | undefined> {
  return { description, ...(asSwitch ? { switch: true } : {}), schema: schema.optional() };
}

/** An input over a schema of its text, with a default. */
function defaulted<T>(
  description: string,
  schema: z.ZodType<T, string>,
  fallback: string,
  asSwitch = false,
): Input<T> {
  return {
    description,
    default: fallback,
    ...(asSwitch ? { switch: true } : {}),
    schema: z.string().optional().default(fallback).pipe(schema),
  };
}

/** An input over a schema of its text, with a default, required, or neither (by `o`). */
function input<T>(description: string, schema: z.ZodType<T, string>, o: Given): Input<T | undefined> {
  if (o.default !== undefined) return defaulted(description, schema, o.default);
  if (o.required) return { description, required: true, schema };
  return optional(description, schema);
}

/** Free text: a path, a URL, a name. */
export function text(description: string): Input<string | undefined>;
export function text(description: string, o: { default: string } | { required: true }): Input<string>;
export function text(description: string, o: Given = {}): Input<string | undefined> {
  return input(description, z.string(), o);
}

const TRUE = ['true', 'yes', '1', 'on'];
const FALSE = ['false', 'no', '0', 'off'];

/** The one boolean reader: true/false, yes/no, on/off, 1/0, any case. */
export const booleanSchema = z.string().transform((value, ctx) => {
  const word = value.trim().toLowerCase();
  if (TRUE.includes(word)) return true;
  if (FALSE.includes(word)) return false;
  return problem(ctx, value, `"${value}" is not true or false`, 'Write true or false');
});

/** A boolean with a default; a switch on the command line. */
export function flag(description: string, fallback: boolean): Input<boolean> {
  return defaulted(description, booleanSchema, String(fallback), true);
}

/** A boolean whose absence means something of its own (the description says what). */
export function optionalFlag(description: string): Input<boolean | undefined> {
  return optional(description, booleanSchema, true);
}

interface Choice {
  /** What the problem says instead of `"x" is not one of a, b`, and its fix. */
  problem?: (value: string) => string;
  fix?: string | ((value: string) => string);
}

/** One of a fixed set of words, any case. */
export function choice<const T extends string>(
  values: readonly T[],
  description: string,
  o: Choice & ({ default: T } | { required: true }),
): Input<T>;
export function choice<const T extends string>(
  values: readonly T[],
  description: string,
  o?: Choice,
): Input<T | undefined>;
export function choice<const T extends string>(
  values: readonly T[],
  description: string,
  o: Choice & Given = {},
): Input<T | undefined> {
  const list = values.join(', ');
  const schema = z.string().transform((value, ctx): T => {
    const word = values.find((v) => v === value.trim().toLowerCase());
    if (word !== undefined) return word;
    return problem(
      ctx,
      value,
      o.problem ? o.problem(value) : `"${value}" is not one of ${list}`,
      typeof o.fix === 'function' ? o.fix(value) : (o.fix ?? `Use one of: ${list}`),
    );
  });
  return input(description, schema, o);
}

/** The lowest severity that fails. */
export function severity(description: string): Input<Severity> {
  return choice(SEVERITIES, description, {
    default: 'high',
    problem: (v) => `"${v}" is not a severity`,
    fix: `Use one of ${SEVERITIES.join(', ')}`,
  });
}

/** An input read by a parser of this code base (see `parsed`), with a default or undefined without. */
export function custom<T>(description: string, parse: (text: string) => T): Input<T | undefined>;
export function custom<T>(description: string, parse: (text: string) => T, fallback: string): Input<T>;
export function custom<T>(
  description: string,
  parse: (text: string) => T,
  fallback?: string,
): Input<T | undefined> {
  return fallback === undefined
    ? optional(description, parsed(parse))
    : defaulted(description, parsed(parse), fallback);
}

/** A duration (26h, 90m, 1h30m) in seconds. */
export function duration(description: string): Input<number | undefined>;
export function duration(description: string, fallback: string): Input<number>;
export function duration(description: string, fallback?: string): Input<number | undefined> {
  const parse = (t: string) => parseDuration('', t);
  return fallback === undefined ? custom(description, parse) : custom(description, parse, fallback);
}

interface Whole {
  min: number;
  /** With a maximum, the problem says `"x" is not <what>` and the fix gives the range. */
  max?: number;
  what?: string;
}

/** A whole number in a range. */
export function integer(description: string, o: Whole): Input<number | undefined>;
export function integer(description: string, o: Whole & { default: number }): Input<number>;
export function integer(description: string, o: Whole & { default?: number }): Input<number | undefined> {
  const { min, max, what } = o;
  const schema = z.string().transform((value, ctx): number => {
    const n = Number(value);
    if (Number.isInteger(n) && n >= min && (max === undefined || n <= max)) return n;
    return max === undefined
      ? problem(
          ctx,
          value,
          `"${value}" is not a whole number of at least ${min}`,
          `Give a whole number, e.g. ${o.default}`,
        )
      : problem(ctx, value, `"${value}" is not ${what}`, `Give a whole number from ${min} to ${max}`);
  });
  return o.default === undefined
    ? optional(description, schema)
    : defaulted(description, schema, String(o.default));
}

/** Some of another set of inputs, by name, so that a shared input reads the same everywhere. */
export function pick<I extends Inputs, const K extends keyof I & string>(inputs: I, names: readonly K[]) {
  return Object.fromEntries(names.map((n) => [n, inputs[n]])) as Pick<I, K>;
}

/** Another set of inputs without some of them. */
export function omit<I extends Inputs, const K extends keyof I & string>(inputs: I, names: readonly K[]) {
  return Object.fromEntries(
    Object.entries(inputs).filter(([n]) => !(names as readonly string[]).includes(n)),
  ) as Omit<I, K>;
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known name nearest a typo, when it is near enough to be what was meant. */
function closest(word: string, options: string[]): string | undefined {
  const best = options.map((o) => ({ o, d: distance(word, o) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.o : undefined;
}

export type How = 'input' | 'flag';

/** How the user knows an input: `keep` in `with:`, `--keep` on the command line. */
export const nameFor = (how: How) => (n: string) => (how === 'flag' ? `--${n}` : n);

/** Unknown names are a user error, with the nearest known one when there is one. */
function checkNames(command: string, known: string[], given: string[], how: How): void {
  const show = nameFor(how);
  for (const key of given) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw new UserError(
      show(key),
      `${command} has no such ${how}`,
      guess ? `Did you mean ${show(guess)}?` : `Known ${how}s: ${known.map(show).join(', ')}`,
    );
  }
}

/**
 * Read raw inputs (from `with:` or from flags) against their specs: unknown names and missing
 * required ones are user errors, empty is absent, defaults fill the rest, and each value is parsed
 * by its schema; a bad value is a UserError naming the input.
 */
export function readInputs<I extends Inputs>(
  command: string,
  inputs: I,
  raw: Record<string, string | undefined>,
  how: How,
): Values<I> {
  const show = nameFor(how);
  checkNames(command, Object.keys(inputs), Object.keys(raw), how);
  const out: Record<string, unknown> = {};
  for (const [name, input] of Object.entries(inputs)) {
    // Empty is absent: the schema applies the default.
    const value = raw[name] === '' ? undefined : raw[name];
    if (input.required && value === undefined)
      throw new UserError(show(name), 'is required', `Set ${show(name)}: ${input.description}`);
    const r = input.schema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      const fix = issue?.code === 'custom' ? issue.params?.fix : undefined;
      throw new UserError(show(name), issue?.message ?? 'is not valid', String(fix ?? input.description));
    }
    out[name] = r.data;
  }
  return out as Values<I>;
}
