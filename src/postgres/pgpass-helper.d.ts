/** pgpass's line parser and matcher (the package ships no types). */
declare module 'pgpass/lib/helper.js' {
  interface PassEntry {
    host: string;
    port: string;
    database: string;
    user: string;
    password: string;
  }
  export function parseLine(line: string): PassEntry | null;
  export function isValidEntry(entry: PassEntry): boolean;
  export function match(
    conn: { host: string; port: number; database: string; user: string },
    entry: PassEntry,
  ): boolean;
}
