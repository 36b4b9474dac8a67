import os from 'node:os';
import { UserError } from './errors.js';
import { isRoot } from './exec.js';
import { booleanSchema } from './inputs.js';

/** Parse a boolean input with the one boolean reader (`booleanSchema`); the message names the input. */
export function parseBool(input: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const r = booleanSchema.safeParse(value);
  if (!r.success) throw new UserError(input, `"${value}" is not true or false`, 'Write true or false');
  return r.data;
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
