import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** The part of s3rver 3.7.1 we use (it ships no types). */
interface S3rverOptions {
  address?: string;
  port?: number;
  silent?: boolean;
  directory?: string;
  resetOnClose?: boolean;
}
interface S3rverServer {
  /** Starts listening; resolves to `httpServer.address()`. */
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Set by run(). */
  httpServer: http.Server;
}
type S3rverConstructor = new (options: S3rverOptions) => S3rverServer;

// s3rver is CommonJS without type declarations; load it through require so the harness type-checks.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+) no
 * longer offers: every listing with a second page fails with a 500. Triple DES with the same key three
 * times is exactly single DES, and is still offered, so map `des` onto it. Test-only; `des` would throw
 * otherwise, and no other algorithm is touched.
 */
function shimSingleDes(): void {
  const marker = Symbol.for('restorable.s3rver-des-shim');
  const patched = crypto as typeof crypto & { [marker]?: true };
  if (patched[marker]) return;
  patched[marker] = true;
  const triple = (key: crypto.CipherKey) => {
    const k = Buffer.from(key as Uint8Array);
    return k.length === 8 ? Buffer.concat([k, k, k]) : k;
  };
  const { createCipheriv, createDecipheriv } = crypto;
  const cipher = ((
    algorithm: string,
    key: crypto.CipherKey,
    iv: crypto.BinaryLike | null,
    options?: object,
  ) =>
    algorithm.toLowerCase() === 'des'
      ? createCipheriv('des-ede3-cbc', triple(key), iv, options as undefined)
      : createCipheriv(algorithm, key, iv, options as undefined)) as typeof createCipheriv;
  const decipher = ((
    algorithm: string,
    key: crypto.CipherKey,
    iv: crypto.BinaryLike | null,
    options?: object,
  ) =>
    algorithm.toLowerCase() === 'des'
      ? createDecipheriv('des-ede3-cbc', triple(key), iv, options as undefined)
      : createDecipheriv(algorithm, key, iv, options as undefined)) as typeof createDecipheriv;
  patched.createCipheriv = cipher;
  patched.createDecipheriv = decipher;
}

export interface S3Harness {
  /** `http://127.0.0.1:<port>`: pass as the S3 endpoint (path-style). */
  endpoint: string;
  /** Credentials and region the SDK's default chain picks up; put them into process.env. */
  env: Record<string, string>;
  /** Create a bucket (s3rver wants names of 3+ characters). */
  bucket(name: string): Promise<void>;
  put(bucket: string, key: string, body: Buffer | string, metadata?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
  /** Every request the server received, in arrival order. */
  requests: S3Request[];
  /** Answer the next `count` GETs that carry a Range header with a 500, as a flaky server would. */
  failRangedGets(count: number): void;
  /**
   * Hold every ranged GET that starts at `offset` or later, unanswered, until the returned release is
   * called (or the server stops): a download stays part-way for as long as a test needs.
   */
  holdRangedGets(offset: number): () => void;
}

export interface S3Request {
  method: string;
  /** Path and query, e.g. `/bucket/key` or `/bucket?list-type=2&prefix=...`. */
  url: string;
  range: string | undefined;
  /** When the server finished with it; undefined while in flight. */
  finished: number | undefined;
  started: number;
}

/** A real s3rver on 127.0.0.1 and an ephemeral port, storing into a fresh temp directory. */
export async function startS3(): Promise<S3Harness> {
  shimSingleDes();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    fs.rmSync(directory, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;

  // Observe every request, and fail some on demand, in front of s3rver's own handler.
  const requests: S3Request[] = [];
  let failures = 0;
  let holdFrom: number | undefined;
  const held: (() => void)[] = [];
  const release = () => {
    holdFrom = undefined;
    for (const go of held.splice(0)) go();
  };
  const httpServer = server.httpServer;
  const handlers = httpServer.listeners('request') as http.RequestListener[];
  httpServer.removeAllListeners('request');
  httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const range = req.headers.range;
    const entry: S3Request = {
      method: req.method ?? '',
      url: req.url ?? '',
      range,
      started: Date.now(),
      finished: undefined,
    };
    requests.push(entry);
    res.on('close', () => {
      entry.finished = Date.now();
    });
    if (failures > 0 && req.method === 'GET' && range !== undefined) {
      failures--;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>' +
          '<Message>injected failure</Message></Error>',
      );
      return;
    }
    const serve = () => {
      for (const handler of handlers) handler.call(httpServer, req, res);
    };
    const start = Number(/^bytes=(\d+)-/.exec(range ?? '')?.[1] ?? Number.NaN);
    if (holdFrom !== undefined && req.method === 'GET' && start >= holdFrom) held.push(serve);
    else serve();
  });

  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  const client = new S3Client({
    endpoint,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    // s3rver predates the SDK's default CRC checksums and aws-chunked uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let stopped = false;
  return {
    endpoint,
    env,
    requests,
    failRangedGets(count) {
      failures = count;
    },
    holdRangedGets(offset) {
      holdFrom = offset;
      return release;
    },
    async bucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body, metadata) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: typeof body === 'string' ? Buffer.from(body) : body,
          ...(metadata ? { Metadata: metadata } : {}),
        }),
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      release();
      client.destroy();
      try {
        await server.close();
      } finally {
        fs.rmSync(directory, { recursive: true, force: true });
      }
    },
  };
}
