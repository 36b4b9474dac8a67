import picomatch from 'picomatch';
import { UserError } from './errors.js';

/**
 * How globs read everywhere: `*` and `?` stay within a folder, `**` crosses folders, `{a,b}`,
 * `[0-9]` and `[!0-9]` work, `*` matches dot files too, a backslash makes the next character literal
 * (`a\*b`), and a leading `!` is a plain character. Unbalanced brackets are an error, not a silent
 * no-match.
 */
const OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  nonegate: true,
  noextglob: true,
  posix: true,
  windows: false,
  strictBrackets: true,
  debug: true,
};

/** The glob as an anchored RegExp; a pattern picomatch cannot read is the user's mistake in `input`. */
export function globRegExp(pattern: string, input: string): RegExp {
  try {
    return picomatch.makeRe(pattern, OPTIONS);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e))
      .replace(/ - use .*$/, '')
      .replace(/^Invalid regular expression: \/.*\/: /, '');
    throw new UserError(
      input,
      `"${pattern}" is not a valid glob (${why})`,
      'Put a backslash before a literal { } [ ] ( ) or *, e.g. backup\\{1.dump',
    );
  }
}

/** A test of whole strings against the glob. */
export function globMatcher(pattern: string, input: string): (s: string) => boolean {
  const re = globRegExp(pattern, input);
  return (s) => re.test(s);
}
