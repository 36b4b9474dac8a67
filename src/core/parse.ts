import os from 'node:os';
import { z } from 'zod';
import { SEVERITIES, type Severity } from '../report/findings.js';
import { UserError } from './errors.js';
import { isRoot } from './exec.js';

const bool = z.enum(['true', 'false', 'yes', 'no', '1', '0', 'on', 'off']);

/** Parse a boolean input; the message names the input. */
export function parseBool(input: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const r = bool.safeParse(value.trim().toLowerCase());
  if (!r.success) throw new UserError(input, `"${value}" is not true or false`, 'Write true or false');
  return ['true', 'yes', '1', 'on'].includes(r.data);
}

export function parseSeverity(input: string, value: string | undefined): Severity {
  const r = z.enum(SEVERITIES).safeParse((value ?? 'high').trim().toLowerCase());
  if (!r.success)
    throw new UserError(input, `"${value}" is not a severity`, `Use one of ${SEVERITIES.join(', ')}`);
  return r.data;
}

/** One of a fixed set of words (case-insensitive); the message lists them. */
export function oneOf<T extends string>(input: string, value: string, options: readonly T[]): T {
  const v = value.trim().toLowerCase() as T;
  if (!options.includes(v))
    throw new UserError(
      input,
      `"${value}" is not one of ${options.join(', ')}`,
      `Use one of: ${options.join(', ')}`,
    );
  return v;
}

/**
 * The OS user to run server binaries as. Only root can switch users: another user may name only
 * itself, and anything else is a mistake to say, not a setting to drop silently.
 */
export function parseOsUser(input: string, value: string | undefined): string | undefined {
  const user = value?.trim();
  if (!user) return undefined;
  const me = os.userInfo().username;
  if (!isRoot() && user !== me) {
    throw new UserError(
      input,
      `the server cannot run as "${user}": only root can switch users, and this runs as "${me}"`,
      `Run Restorable as root or as ${user}, or leave ${input} out to run the server as ${me}`,
    );
  }
  return user;
}
