/**
 * restorable.yml: its schema and reader, and the tolerances and expectations it holds. Every
 * pipeline that takes `config` (drill, compare, migrate, pitr) and the checks read it from here.
 */
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { RULES } from '../report/findings.js';

const tolerance = z
  .string()
  .or(z.number())
  .transform((v, ctx) => {
    const t = parseTolerance(String(v));
    if (!t) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a tolerance: write 0, 1000 (rows) or 2% (a share)`,
      });
      return z.NEVER;
    }
    return t;
  });

export type Tolerance = { kind: 'rows'; value: number } | { kind: 'percent'; value: number };

export function parseTolerance(text: string): Tolerance | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (!m) return undefined;
  return m[2] ? { kind: 'percent', value: Number(m[1]) } : { kind: 'rows', value: Number(m[1]) };
}

const expectation = z.string().refine((s) => parseExpectation(s) !== undefined, {
  message: 'is not an expectation: write "> 0", ">= 10", "== 0", "!= 0", "< 5" or "between 1 and 10"',
});

export type Expectation =
  | { op: '>' | '>=' | '==' | '!=' | '<' | '<='; value: number }
  | { op: 'between'; lo: number; hi: number };

export function parseExpectation(text: string): Expectation | undefined {
  const between = /^\s*between\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)\s*$/i.exec(text);
  if (between) return { op: 'between', lo: Number(between[1]), hi: Number(between[2]) };
  const m = /^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  return m ? { op: m[1] as Exclude<Expectation['op'], 'between'>, value: Number(m[2]) } : undefined;
}

export function meets(value: number, e: Expectation): boolean {
  switch (e.op) {
    case 'between':
      return value >= e.lo && value <= e.hi;
    case '>':
      return value > e.value;
    case '>=':
      return value >= e.value;
    case '==':
      return value === e.value;
    case '!=':
      return value !== e.value;
    case '<':
      return value < e.value;
    case '<=':
      return value <= e.value;
  }
}

export const configSchema = z
  .object({
    structure: z
      .object({ reference: z.string().min(1) })
      .strict()
      .optional(),
    volume: z
      .object({
        tables: z.record(z.string(), z.object({ min: z.number().int().nonnegative() }).strict()).optional(),
        tolerance: tolerance.optional(),
      })
      .strict()
      .optional(),
    semantics: z
      .array(z.object({ name: z.string().min(1), sql: z.string().min(1), expect: expectation }).strict())
      .optional(),
    integrity: z
      .object({
        sequences: z.boolean().optional(),
        collation: z.boolean().optional(),
        amcheck: z.boolean().optional(),
        'validate-constraints': z.boolean().optional(),
      })
      .strict()
      .optional(),
    compare: z
      .object({
        tables: z.record(z.string(), z.object({ tolerance }).strict()).optional(),
      })
      .strict()
      .optional(),
    pitr: z
      .object({
        /** What `confirm` may equal for an in-place restore, besides the system identifier. */
        name: z.string().min(1).optional(),
        /** Checks against the recovered server; `asserts` marks the ones that prove the target. */
        checks: z
          .array(
            z
              .object({
                name: z.string().min(1),
                sql: z.string().min(1),
                expect: expectation,
                asserts: z.enum(['before-target', 'after-target']).optional(),
                /** The database of the recovered server to run it in (default: postgres). */
                database: z.string().min(1).optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .optional(),
    ignore: z
      .array(
        z
          .object({
            rule: z.string().refine((r) => r in RULES, { message: 'is not a rule Restorable raises' }),
            reason: z.string().trim().min(1, 'needs a written reason'),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type DrillConfig = z.infer<typeof configSchema>;

/** Read and validate restorable.yml; an unknown key, a bad value or bad YAML is one clear line. */
export function loadConfig(input: string, file: string | undefined): DrillConfig {
  if (!file) return {};
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(
      input,
      `"${file}" cannot be read`,
      'Give the path of your restorable.yml, or leave config empty',
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (e) {
    throw new UserError(
      input,
      `${file} is not valid YAML (${(e as Error).message.split('\n')[0]})`,
      'Fix the YAML syntax',
    );
  }
  const r = configSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  const where = issue.path.join('.') || '(top level)';
  const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  if (keys.length) {
    throw new UserError(
      input,
      `${file}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')} at ${where}`,
      'Check the spelling against restorable.yml in docs/restore-drill.md',
    );
  }
  throw new UserError(
    input,
    `${file}: ${where} ${issue.message}`,
    'See restorable.yml in docs/restore-drill.md',
  );
}
