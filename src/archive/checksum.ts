import { UserError } from '../core/errors.js';
import type { BackupSource } from '../sources/types.js';

export type ChecksumMode = { mode: 'auto' | 'required' | 'skip' } | { mode: 'literal'; sha256: string };

export interface ExpectedChecksum {
  algorithm: 'sha256' | 'md5';
  value: string;
  /** Where it came from: a sidecar's name, `object metadata`, or `the checksum input`. */
  from: string;
}

export function parseChecksumInput(input: string, value: string): ChecksumMode {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'auto') return { mode: 'auto' };
  if (v === 'required' || v === 'skip') return { mode: v };
  const hex = v.replace(/^sha256:/, '');
  if (/^[0-9a-f]{64}$/.test(hex)) return { mode: 'literal', sha256: hex };
  throw new UserError(
    input,
    `"${value}" is neither auto, required, skip nor a SHA-256 (64 hex digits)`,
    'Give auto, required, skip, or the 64-hex-digit output of sha256sum',
  );
}

/** The first hex digest of the right length in a sha256sum/md5sum-style file, or undefined. */
export function digestInSidecar(
  text: string,
  algorithm: 'sha256' | 'md5',
  fileName: string,
): string | undefined {
  const len = algorithm === 'sha256' ? 64 : 32;
  const base = fileName.split('/').pop() as string;
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const re = new RegExp(`^([0-9a-fA-F]{${len}})(?:\\s+\\*?(.+))?$`);
  const parsed = lines.map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  // A sums file may list several files: take the line that names ours, else a lone digest.
  const named = parsed.find((m) => m[2] && m[2].split('/').pop() === base);
  const chosen = named ?? (parsed.length === 1 ? parsed[0] : undefined);
  return chosen?.[1]?.toLowerCase();
}

/** Find what the backup's checksum should be: sidecar files first, then object metadata. */
export async function findExpectedChecksum(
  source: BackupSource,
  name: string,
  names: Set<string>,
): Promise<ExpectedChecksum | undefined> {
  for (const [suffix, algorithm] of [
    ['.sha256', 'sha256'],
    ['.sha256sum', 'sha256'],
    ['.md5', 'md5'],
    ['.md5sum', 'md5'],
  ] as const) {
    const sidecar = name + suffix;
    if (!names.has(sidecar)) continue;
    const text = await source.readText(sidecar);
    const value = text === undefined ? undefined : digestInSidecar(text, algorithm, name);
    if (value) return { algorithm, value, from: sidecar };
  }
  const meta = await source.metadata(name);
  for (const algorithm of ['sha256', 'md5'] as const) {
    const v = meta[algorithm]?.trim().toLowerCase();
    if (v && /^[0-9a-f]+$/.test(v)) return { algorithm, value: v, from: `object metadata "${algorithm}"` };
  }
  return undefined;
}
