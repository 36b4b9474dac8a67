import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { UserError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import type { BackupObject, BackupSource } from './types.js';

export interface S3Options {
  /** An S3-compatible endpoint (MinIO, R2, a local fake). Omit for AWS itself. */
  endpoint?: string;
  /** Defaults to AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1 (R2 accepts `auto`). */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`). Defaults to true when an endpoint is given. */
  forcePathStyle?: boolean;
  /**
   * Bytes per ranged GET when reading an object: default 4 MiB for `read` (which holds its parts in
   * memory), 16 MiB for `downloadTo` (which writes each part's bytes as they arrive, so a part's
   * size costs no memory, and fewer, longer GETs cost the store and this process less per byte).
   */
  partSize?: number;
  /** Ranged GETs in flight at once when reading an object. Default 3. */
  concurrency?: number;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). Default: the server's (1000). */
  pageSize?: number;
}

/** Where an S3 source points: a bucket and a key prefix ('' or ending in `/`). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/**
 * S3 could not be reached, or refused us (connection refused, access denied, no such bucket). The
 * message names the source and the endpoint, never a credential or a presigned query string.
 */
export class FetchError extends Error {
  constructor(
    message: string,
    /** The SDK's error name or the socket error code, e.g. `AccessDenied`, `ECONNREFUSED`. */
    readonly code?: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export const DEFAULT_PART_SIZE = 4 * 1024 * 1024;
export const DOWNLOAD_PART_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 3;
const DEFAULT_TEXT_LIMIT = 1024 * 1024;
/**
 * Objects up to this size are downloaded in one GET, held in memory and written with one call: for
 * the thousands of small files of a plain base backup, a file handle kept open across the body's
 * chunks cost more than the bytes. Memory stays bounded by this times the downloads in flight.
 */
export const SMALL_OBJECT = 256 * 1024;
/** Retries of one ranged GET after its first attempt fails. */
const PART_RETRIES = 3;
const RETRY_BASE_MS = 200;

// AWS rules (3-63 of a-z 0-9 . -), widened to what legacy us-east-1 buckets and S3-compatible
// stores accept (upper case, underscores, up to 255): we only read, so be lenient.
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

/**
 * Split `s3://bucket/prefix/...` into bucket and prefix. `input` names what the user gave (a flag, an
 * action input) for the error message. A non-empty prefix always ends with `/`: it names a folder.
 */
export function parseS3Url(input: string, url: string): S3Location {
  const value = url.trim();
  const example = 's3://bucket or s3://bucket/prefix, e.g. s3://my-backups/postgres/nightly';
  const fix = `Give it as ${example}`;
  const scheme = /^s3:\/\//i.exec(value);
  if (!scheme) {
    throw new UserError(input, `"${url}" is not an s3:// URL`, fix);
  }
  const rest = value.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  let prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') {
    throw new UserError(input, `"${url}" names no bucket`, fix);
  }
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    const hint = bucket.includes(':')
      ? 'A bucket name holds no host or port: pass the server as the S3 endpoint option, and'
      : 'Bucket names are 3-63 letters, digits, dots and hyphens, starting and ending with a letter or digit;';
    throw new UserError(
      input,
      `"${bucket}" in "${url}" is not a valid bucket name`,
      `${hint} give it as ${example}`,
    );
  }
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  return { bucket, prefix };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UserError(`S3 ${name}`, `${value} is not a positive whole number`, `Set ${name} to 1 or more`);
  }
  return value;
}

/** The s3-endpoint, s3-region and s3-force-path-style inputs (or flags), as S3Options. */
export function s3Options(v: {
  's3-endpoint'?: string | undefined;
  's3-region'?: string | undefined;
  's3-force-path-style'?: boolean | undefined;
}): S3Options {
  return {
    ...(v['s3-endpoint'] ? { endpoint: v['s3-endpoint'] } : {}),
    ...(v['s3-region'] ? { region: v['s3-region'] } : {}),
    ...(v['s3-force-path-style'] !== undefined ? { forcePathStyle: v['s3-force-path-style'] } : {}),
  };
}

/** A read-only view of the objects under one S3 prefix. */
export class S3Source implements BackupSource {
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly where: string;
  private readonly partSize: number;
  private readonly downloadPart: number;
  private readonly concurrency: number;
  private readonly pageSize: number | undefined;

  constructor(
    location: S3Location,
    options: S3Options = {},
    private readonly log: Logger = silentLogger,
  ) {
    this.bucket = location.bucket;
    this.prefix =
      location.prefix === '' || location.prefix.endsWith('/') ? location.prefix : `${location.prefix}/`;
    this.description = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix.replace(/\/$/, '')}`}`;
    this.partSize = positiveInteger('partSize', options.partSize, DEFAULT_PART_SIZE);
    this.downloadPart = positiveInteger('partSize', options.partSize, DOWNLOAD_PART_SIZE);
    this.concurrency = positiveInteger('concurrency', options.concurrency, DEFAULT_CONCURRENCY);
    this.pageSize =
      options.pageSize === undefined ? undefined : positiveInteger('pageSize', options.pageSize, 0);
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.where = options.endpoint ? `at ${safeEndpoint(options.endpoint)}` : `in AWS region ${region}`;
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      const secret = process.env[name];
      if (secret) log.secret(secret);
    }
    // Credentials come only from the SDK's default chain (environment, profile, SSO, instance role).
    this.client = new S3Client({
      region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      // Fail in seconds when the endpoint is unreachable; parts have their own retries below.
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
      // We send no bodies; ranged GETs carry no whole-object checksum to validate.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Build a source from an `s3://` URL; `input` names where the URL came from, for errors. */
  static fromUrl(input: string, url: string, options: S3Options = {}, log: Logger = silentLogger): S3Source {
    return new S3Source(parseS3Url(input, url), options, log);
  }

  async list(): Promise<BackupObject[]> {
    const objects: BackupObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('list', this.description, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            ...(this.prefix ? { Prefix: this.prefix } : {}),
            ...(token ? { ContinuationToken: token } : {}),
            ...(this.pageSize ? { MaxKeys: this.pageSize } : {}),
          }),
        ),
      );
      for (const item of page.Contents ?? []) {
        const key = item.Key;
        if (key === undefined || key.endsWith('/') || !key.startsWith(this.prefix)) continue;
        objects.push({
          name: key.slice(this.prefix.length),
          size: item.Size ?? 0,
          modified: item.LastModified ?? new Date(0),
          kind: 'file',
        });
      }
      if (page.IsTruncated && !page.NextContinuationToken) {
        throw new FetchError(
          `could not list ${this.description} ${this.where}: the listing was truncated without a continuation token`,
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /**
   * The object's bytes in order, fetched with up to `concurrency` ranged GETs of `partSize` bytes in
   * flight. At most `concurrency` parts are in flight or waiting, plus the one the consumer holds.
   * Stopping the iteration early aborts the outstanding GETs and requests no more. With `knownSize`
   * (from the listing) there is no HEAD first: for many small objects (WAL segments) that halves the
   * requests, at the price of not pinning the parts to one ETag.
   */
  async *read(name: string, knownSize?: number): AsyncGenerator<Buffer, void, undefined> {
    const key = this.key(name);
    const what = this.objectUrl(name);
    const { size, etag } = await this.sizeOf(key, what, knownSize);
    if (size === 0) return;
    const parts = Math.ceil(size / this.partSize);
    const abort = new AbortController();
    const queue: Promise<Buffer>[] = [];
    let next = 0;
    const launch = () => {
      const start = next * this.partSize;
      const end = Math.min(size, start + this.partSize) - 1;
      const out = Buffer.allocUnsafe(end - start + 1);
      const part = this.fetchPart(key, what, next, start, end, etag, abort.signal, (chunk, offset) => {
        out.set(chunk, offset);
      }).then(() => out);
      next++;
      // Awaited in order below; this only keeps a rejection that is not awaited yet from being
      // reported as unhandled.
      part.catch(() => {});
      queue.push(part);
    };
    try {
      while (next < parts && queue.length < this.concurrency) launch();
      while (queue.length > 0) {
        const part = queue.shift() as Promise<Buffer>;
        const bytes = await part;
        if (next < parts) launch();
        yield bytes;
      }
    } finally {
      abort.abort();
    }
  }

  /**
   * The object into a local file, its ranged parts written where they belong as their bytes
   * arrive: no part is assembled in memory, so memory stays at the socket's chunks. For objects
   * read whole before use (WAL segments); `read` is for what is consumed as a stream, in order.
   * `written` hears how many bytes from the start are complete, each time that grows: a reader can
   * follow the download (see GrowingFile).
   */
  async downloadTo(
    name: string,
    file: string,
    knownSize?: number,
    written?: (bytes: number) => void,
  ): Promise<number> {
    const key = this.key(name);
    const what = this.objectUrl(name);
    const { size, etag } = await this.sizeOf(key, what, knownSize);
    const partSize = this.downloadPart;
    if (size <= SMALL_OBJECT && size <= partSize) {
      await fs.promises.writeFile(file, await this.smallObject(key, what, size, etag));
      written?.(size);
      return size;
    }
    const parts = Math.ceil(size / partSize);
    const abort = new AbortController();
    const handle = await fs.promises.open(file, 'w');
    const partEnd = (index: number) => Math.min(size, (index + 1) * partSize);
    // How far each part is written, as a file offset (a retried part starts over with the same
    // bytes), and the first part not yet whole: the complete front is where that part has reached.
    const reached = Array.from({ length: parts }, (_, index) => index * partSize);
    let whole = 0;
    let front = 0;
    const wrote = (index: number, upTo: number) => {
      reached[index] = Math.max(reached[index] ?? 0, upTo);
      while (whole < parts && reached[whole] === partEnd(whole)) whole++;
      const now = whole < parts ? (reached[whole] as number) : size;
      if (now > front) {
        front = now;
        written?.(front);
      }
    };
    let next = 0;
    // A local write that fails (a full disk) is this machine's, not the store's: no retry, and the
    // error as it is, so the caller can say what happened.
    let writeError: { error: unknown } | undefined;
    try {
      const worker = async () => {
        while (next < parts) {
          const index = next++;
          const start = index * partSize;
          await this.fetchPart(
            key,
            what,
            index,
            start,
            partEnd(index) - 1,
            etag,
            abort.signal,
            async (chunk, offset) => {
              try {
                await handle.write(chunk, 0, chunk.length, start + offset);
              } catch (e) {
                writeError ??= { error: e };
                abort.abort();
                throw e;
              }
              if (written) wrote(index, start + offset + chunk.length);
            },
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, Math.max(parts, 1)) }, worker));
    } catch (e) {
      abort.abort();
      throw writeError ? writeError.error : e;
    } finally {
      await handle.close();
    }
    return size;
  }

  /** A small object's bytes (`size` of them, as listed), in one ranged GET. */
  private async smallObject(
    key: string,
    what: string,
    size: number,
    etag: string | undefined,
  ): Promise<Buffer> {
    const out = Buffer.allocUnsafe(size);
    if (size === 0) return out;
    await this.fetchPart(key, what, 0, 0, size - 1, etag, new AbortController().signal, (chunk, offset) => {
      out.set(chunk, offset);
    });
    return out;
  }

  /** The object's size (and ETag, to pin ranged reads to one version): from the listing, or a HEAD. */
  private async sizeOf(
    key: string,
    what: string,
    knownSize: number | undefined,
  ): Promise<{ size: number; etag: string | undefined }> {
    if (knownSize !== undefined) return { size: knownSize, etag: undefined };
    const head = await this.call('read', what, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    if (head.ContentLength === undefined) {
      throw new FetchError(`could not read ${what} ${this.where}: the server did not give its size`);
    }
    return { size: head.ContentLength, etag: head.ETag };
  }

  async readText(name: string, maxBytes = DEFAULT_TEXT_LIMIT): Promise<string | undefined> {
    const what = this.objectUrl(name);
    let response: GetObjectCommandOutput;
    try {
      response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw this.fetchError('read', what, err);
    }
    if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
      destroy(response.Body);
      throw new FetchError(
        `${what} is ${response.ContentLength} bytes, more than the ${maxBytes} bytes read as text`,
      );
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of bodyStream(response.Body, what)) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        total += buf.length;
        if (total > maxBytes) {
          destroy(response.Body);
          throw new FetchError(`${what} is more than the ${maxBytes} bytes read as text`);
        }
        chunks.push(buf);
      }
    } catch (err) {
      if (err instanceof FetchError) throw err;
      throw this.fetchError('read', what, err);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }

  async metadata(name: string): Promise<Record<string, string>> {
    const head = await this.call('read metadata of', this.objectUrl(name), () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) })),
    );
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(head.Metadata ?? {})) {
      if (v !== undefined) out[k.toLowerCase()] = v;
    }
    return out;
  }

  localPath(_name: string): undefined {
    return undefined;
  }

  private key(name: string): string {
    return this.prefix + name.replace(/^\/+/, '');
  }

  private objectUrl(name: string): string {
    return `s3://${this.bucket}/${this.key(name)}`;
  }

  private async call<T>(verb: string, what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw this.fetchError(verb, what, err);
    }
  }

  private fetchError(verb: string, what: string, err: unknown): FetchError {
    if (err instanceof FetchError) return err;
    const { detail, code, status } = describe(err);
    const hint = hintFor(code, status);
    return new FetchError(
      redact(`could not ${verb} ${what} ${this.where}: ${detail}${hint ? ` (${hint})` : ''}`),
      code,
      status,
    );
  }

  /**
   * One ranged GET, its bytes handed to `sink` at their offset in the part, retried up to
   * PART_RETRIES times (a retry hands the part over again from offset 0).
   */
  private async fetchPart(
    key: string,
    what: string,
    index: number,
    start: number,
    end: number,
    etag: string | undefined,
    signal: AbortSignal,
    sink: (chunk: Uint8Array, offset: number) => void | Promise<void>,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.getRange(key, what, start, end, etag, signal, sink);
      } catch (err) {
        if (signal.aborted) throw err;
        const { status, code } = describe(err);
        const permanent =
          status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
        if (permanent || attempt >= PART_RETRIES) {
          const verb = `read bytes ${start}-${end} of`;
          if (code === 'PreconditionFailed' || status === 412) {
            throw new FetchError(
              `could not ${verb} ${what} ${this.where}: the object changed while it was being read`,
              code,
              status,
            );
          }
          throw this.fetchError(verb, what, err);
        }
        const delay = RETRY_BASE_MS * 2 ** attempt;
        this.log.debug(redact(`retrying part ${index} of ${what} in ${delay} ms: ${describe(err).detail}`));
        await sleep(delay, undefined, { signal });
      }
    }
  }

  private async getRange(
    key: string,
    what: string,
    start: number,
    end: number,
    etag: string | undefined,
    signal: AbortSignal,
    sink: (chunk: Uint8Array, offset: number) => void | Promise<void>,
  ): Promise<void> {
    const response = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Range: `bytes=${start}-${end}`,
        ...(etag ? { IfMatch: etag } : {}),
      }),
      { abortSignal: signal },
    );
    const length = end - start + 1;
    if (response.ContentLength !== undefined && response.ContentLength !== length) {
      destroy(response.Body);
      throw new Error(
        `asked for ${length} bytes at offset ${start}, the server sent ${response.ContentLength} (is Range supported?)`,
      );
    }
    const stream = bodyStream(response.Body, what);
    const onAbort = () => destroy(stream);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      let filled = 0;
      for await (const chunk of stream) {
        const buf = chunk as Uint8Array;
        if (filled + buf.length > length) {
          destroy(stream);
          throw new Error(`the server sent more than the ${length} bytes asked for at offset ${start}`);
        }
        await sink(buf, filled);
        filled += buf.length;
      }
      if (filled !== length) {
        throw new Error(`the response ended after ${filled} of ${length} bytes at offset ${start}`);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

function bodyStream(body: unknown, what: string): AsyncIterable<unknown> {
  if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return body as AsyncIterable<unknown>;
  }
  throw new FetchError(`could not read ${what}: the response had no readable body`);
}

function destroy(body: unknown): void {
  const stream = body as Partial<Readable> | undefined;
  if (stream && typeof stream.destroy === 'function') stream.destroy();
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

function describe(err: unknown): { detail: string; code?: string; status?: number } {
  if (!(err instanceof Error)) return { detail: String(err) };
  const e = err as Error & SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined);
  let message = e.message;
  // Node's happy-eyeballs connect gives an AggregateError with an empty message.
  if (!message && Array.isArray(e.errors) && e.errors[0] instanceof Error) message = e.errors[0].message;
  if (!message || message === 'UnknownError') message = code ?? 'unknown error';
  const parts: string[] = [];
  if (code && !message.includes(code)) parts.push(code);
  if (status !== undefined) parts.push(`HTTP ${status}`);
  const detail = parts.length > 0 ? `${message} [${parts.join(', ')}]` : message;
  return { detail, ...(code ? { code } : {}), ...(status !== undefined ? { status } : {}) };
}

function hintFor(code: string | undefined, status: number | undefined): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'TimeoutError':
      return 'check the endpoint and that the network can reach it';
    case 'CredentialsProviderError':
      return 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role';
    case 'NoSuchBucket':
      return 'check the bucket name';
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
      return 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return "set the region to the bucket's region";
  }
  if (code === 'AccessDenied' || status === 403) {
    return 'the credentials need s3:ListBucket on the bucket and s3:GetObject on the objects';
  }
  return undefined;
}

/** Strip anything signature-like from a message, and the values of credentials in the environment. */
function redact(message: string): string {
  let out = message.replace(
    /(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId)=[^&\s"']+/gi,
    '$1=REDACTED',
  );
  out = out.replace(/(https?:\/\/)[^/\s@]+@/gi, '$1');
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const secret = process.env[name];
    if (secret && secret.length >= 8) out = out.split(secret).join('***');
  }
  return out;
}

/** The endpoint without user info, query or fragment. */
function safeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return endpoint.replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}

function isMissingKey(err: unknown): boolean {
  const { code, status } = describe(err);
  if (code === 'NoSuchKey' || code === 'NotFound') return true;
  return status === 404 && code !== 'NoSuchBucket';
}
