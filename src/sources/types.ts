/** One backup, or one file beside it, under a source. Sources are read-only by construction. */
export interface BackupObject {
  /** Path under the source root, `/`-separated (an S3 key less the prefix). */
  name: string;
  size: number;
  modified: Date;
  /** `directory`: a directory-format dump (a folder holding toc.dat); local sources only. */
  kind: 'file' | 'directory';
}

/**
 * Where backups live. There is deliberately no verb here that writes, deletes or tags anything at
 * the origin.
 */
export interface BackupSource {
  /** What to call the source in messages and reports (never holds a secret). */
  readonly description: string;
  /** Set when the source names one backup (a file, or a directory dump): its name. */
  readonly single?: string;
  /** Every object under the root, recursively. */
  list(): Promise<BackupObject[]>;
  /**
   * The bytes of one object, in order. S3 fetches them with parallel ranged GETs; `knownSize` (from
   * the listing) spares it a HEAD request.
   */
  read(name: string, knownSize?: number): AsyncIterable<Buffer>;
  /**
   * Where a source can do better than streaming for an object read whole (S3: parts written
   * straight into the file as they arrive): the object into `file`, returning its size. `written`
   * hears how many bytes from the start are complete, as that grows.
   */
  downloadTo?(
    name: string,
    file: string,
    knownSize?: number,
    written?: (bytes: number) => void,
  ): Promise<number>;
  /** A small object (a checksum sidecar) as text, or undefined when there is none. */
  readText(name: string, maxBytes?: number): Promise<string | undefined>;
  /** User metadata of an object (S3 `x-amz-meta-*`, keys lower-cased); empty for local files. */
  metadata(name: string): Promise<Record<string, string>>;
  /** Where the object already sits on this machine, when it does (local sources). */
  localPath(name: string): string | undefined;
}
