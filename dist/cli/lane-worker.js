import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ // The require scope
/******/ var __nccwpck_require__ = {};
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/compat get default export */
/******/ (() => {
/******/ 	// getDefaultExport function for compatibility with non-harmony modules
/******/ 	__nccwpck_require__.n = (module) => {
/******/ 		var getter = module && module.__esModule ?
/******/ 			() => (module['default']) :
/******/ 			() => (module);
/******/ 		__nccwpck_require__.d(getter, { a: getter });
/******/ 		return getter;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  P: () => (/* binding */ decodeLane)
});

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
var external_node_fs_default = /*#__PURE__*/__nccwpck_require__.n(external_node_fs_namespaceObject);
;// CONCATENATED MODULE: external "node:module"
const external_node_module_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:module");
;// CONCATENATED MODULE: external "node:worker_threads"
const external_node_worker_threads_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:worker_threads");
;// CONCATENATED MODULE: external "node:zlib"
const external_node_zlib_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");
var external_node_zlib_default = /*#__PURE__*/__nccwpck_require__.n(external_node_zlib_namespaceObject);
;// CONCATENATED MODULE: ./src/archive/lz4.ts
/**
 * A streaming decoder for the LZ4 frame format, as pg_dump (PostgreSQL 16+, `-Z lz4`) writes its data
 * blocks: one frame per table's data. It checks the header, block and content checksums (xxHash32)
 * when the frame carries them, so a flipped byte is found, not just a short one.
 */
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const rotl = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
/** xxHash32, streaming, seed 0. */
class XXH32 {
    seed;
    v = [0, 0, 0, 0];
    buf = Buffer.alloc(16);
    bufLen = 0;
    total = 0;
    constructor(seed = 0) {
        this.seed = seed;
        this.v = [(seed + P1 + P2) >>> 0, (seed + P2) >>> 0, seed >>> 0, (seed - P1) >>> 0];
    }
    round(i, lane) {
        const v = this.v;
        v[i] = Math.imul(rotl((v[i] + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;
    }
    update(data) {
        this.total += data.length;
        let p = 0;
        if (this.bufLen > 0) {
            const take = Math.min(16 - this.bufLen, data.length);
            this.buf.set(data.subarray(0, take), this.bufLen);
            this.bufLen += take;
            p = take;
            if (this.bufLen < 16)
                return;
            for (let i = 0; i < 4; i++)
                this.round(i, this.buf.readUInt32LE(i * 4));
            this.bufLen = 0;
        }
        const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
        for (; p + 16 <= data.length; p += 16) {
            this.round(0, dv.getUint32(p, true));
            this.round(1, dv.getUint32(p + 4, true));
            this.round(2, dv.getUint32(p + 8, true));
            this.round(3, dv.getUint32(p + 12, true));
        }
        if (p < data.length) {
            this.buf.set(data.subarray(p), 0);
            this.bufLen = data.length - p;
        }
    }
    digest() {
        const [v1, v2, v3, v4] = this.v;
        let h = this.total >= 16
            ? (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0
            : (this.seed + P5) >>> 0;
        h = (h + this.total) >>> 0;
        let p = 0;
        for (; p + 4 <= this.bufLen; p += 4) {
            h = Math.imul(rotl((h + Math.imul(this.buf.readUInt32LE(p), P3)) >>> 0, 17), P4) >>> 0;
        }
        for (; p < this.bufLen; p++) {
            h = Math.imul(rotl((h + Math.imul(this.buf[p], P5)) >>> 0, 11), P1) >>> 0;
        }
        h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
        h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
        return (h ^ (h >>> 16)) >>> 0;
    }
}
function xxh32(data, seed = 0) {
    const h = new XXH32(seed);
    h.update(data);
    return h.digest();
}
class Lz4Error extends (/* unused pure expression or super */ null && (Error)) {
}
const MAGIC = 0x184d2204;
const WINDOW = (/* unused pure expression or super */ null && (64 * 1024));
const BLOCK_SIZES = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
/** Decode one LZ4 block into `out` at `pos` (the window before `pos` holds earlier output); returns the new end. */
function decodeBlock(src, out, pos) {
    let s = 0;
    let o = pos;
    const end = src.length;
    for (;;) {
        if (s >= end)
            throw new Lz4Error('a block ends inside a sequence');
        const token = src[s++];
        let lit = token >>> 4;
        if (lit === 15) {
            for (let b = 255; b === 255;) {
                if (s >= end)
                    throw new Lz4Error('a block ends inside a literal length');
                b = src[s++];
                lit += b;
            }
        }
        if (s + lit > end || o + lit > out.length)
            throw new Lz4Error('a literal run overflows its block');
        src.copy(out, o, s, s + lit);
        s += lit;
        o += lit;
        if (s === end)
            return o; // the last sequence has literals only
        if (s + 2 > end)
            throw new Lz4Error('a block ends inside a match offset');
        const offset = src[s] | (src[s + 1] << 8);
        s += 2;
        if (offset === 0 || offset > o)
            throw new Lz4Error(`a match points ${offset} bytes back, before the data`);
        let len = (token & 15) + 4;
        if ((token & 15) === 15) {
            for (let b = 255; b === 255;) {
                if (s >= end)
                    throw new Lz4Error('a block ends inside a match length');
                b = src[s++];
                len += b;
            }
        }
        if (o + len > out.length)
            throw new Lz4Error('a match overflows its block');
        let from = o - offset;
        if (offset >= len) {
            out.copy(out, o, from, from + len);
            o += len;
        }
        else {
            for (let i = 0; i < len; i++)
                out[o++] = out[from++];
        }
    }
}
/**
 * Feed bytes with push(); finish() checks the frame ended. Output is counted, not kept, beyond the
 * 64 KiB window that linked blocks may refer back into.
 */
class lz4_Lz4FrameDecoder {
    pending = Buffer.alloc(0);
    /** Input that arrived while the parser waits for `needed` bytes; joined only once that many are in. */
    parked = [];
    parkedBytes = 0;
    needed = 0;
    state = 'between';
    blockChecksum = false;
    contentChecksum = false;
    maxBlock = 0;
    content;
    window = Buffer.alloc(0);
    frames = 0;
    bytesOut = 0;
    /** Sees each piece of output once (to count its rows). */
    onOutput;
    push(b) {
        this.parked.push(b);
        this.parkedBytes += b.length;
        if (this.pending.length + this.parkedBytes < this.needed)
            return;
        this.pending = Buffer.concat([this.pending, ...this.parked]);
        this.parked = [];
        this.parkedBytes = 0;
        this.needed = 0;
        const buf = this.pending;
        let p = 0;
        for (let next = this.step(buf, p); next >= 0; next = this.step(buf, p))
            p = next;
        this.pending = p === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(p));
        this.needed = this.bytesWanted();
    }
    /** One step of the parser at `p`: where the next one starts, or -1 until more bytes come. */
    step(buf, p) {
        switch (this.state) {
            case 'between':
                return this.frameStart(buf, p);
            case 'header':
                return this.frameHeader(buf, p);
            case 'block':
                return this.block(buf, p);
            case 'checksum':
                return this.contentEnd(buf, p);
        }
    }
    /** A frame's magic number, or a skippable frame stepped over. */
    frameStart(buf, p) {
        const avail = buf.length - p;
        if (avail < 4)
            return -1;
        const magic = buf.readUInt32LE(p);
        if ((magic & 0xfffffff0) === 0x184d2a50) {
            if (avail < 8)
                return -1;
            const skip = buf.readUInt32LE(p + 4);
            return avail < 8 + skip ? -1 : p + 8 + skip;
        }
        if (magic !== MAGIC)
            throw new Lz4Error(`not an LZ4 frame (magic ${magic.toString(16)})`);
        this.state = 'header';
        return p + 4;
    }
    /** The frame descriptor: its flags, block size and header checksum. */
    frameHeader(buf, p) {
        const avail = buf.length - p;
        if (avail < 2)
            return -1;
        const flg = buf[p];
        const bd = buf[p + 1];
        const len = 2 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
        if (avail < len)
            return -1;
        if (flg >>> 6 !== 1)
            throw new Lz4Error('unsupported LZ4 frame version');
        const hc = (xxh32(buf.subarray(p, p + len - 1)) >>> 8) & 0xff;
        if (hc !== buf[p + len - 1])
            throw new Lz4Error('the LZ4 frame header checksum does not match');
        this.blockChecksum = (flg & 0x10) !== 0;
        this.contentChecksum = (flg & 0x04) !== 0;
        this.maxBlock = BLOCK_SIZES[(bd >>> 4) & 7] ?? 0;
        if (!this.maxBlock)
            throw new Lz4Error('invalid LZ4 block size');
        this.content = this.contentChecksum ? new XXH32() : undefined;
        this.window = Buffer.alloc(0);
        this.state = 'block';
        return p + len;
    }
    /** A data block (checked, decoded and passed on), or the end mark of the frame's blocks. */
    block(buf, p) {
        const avail = buf.length - p;
        if (avail < 4)
            return -1;
        const word = buf.readUInt32LE(p);
        if (word === 0) {
            this.state = this.contentChecksum ? 'checksum' : 'between';
            if (!this.contentChecksum)
                this.frames++;
            return p + 4;
        }
        const raw = (word & 0x80000000) !== 0;
        const size = word & 0x7fffffff;
        if (size > this.maxBlock)
            throw new Lz4Error(`a block of ${size} bytes exceeds the frame's ${this.maxBlock}`);
        const need = 4 + size + (this.blockChecksum ? 4 : 0);
        if (avail < need)
            return -1;
        const data = buf.subarray(p + 4, p + 4 + size);
        if (this.blockChecksum && xxh32(data) !== buf.readUInt32LE(p + 4 + size)) {
            throw new Lz4Error('an LZ4 block checksum does not match');
        }
        this.output(raw ? data : this.decompress(data), raw);
        return p + need;
    }
    /** A compressed block decoded after the window it may refer back into; the window moves on. */
    decompress(data) {
        const w = this.window.length;
        const out = Buffer.allocUnsafe(w + this.maxBlock);
        this.window.copy(out, 0);
        const endAt = decodeBlock(data, out, w);
        this.window = out.subarray(Math.max(0, endAt - WINDOW), endAt);
        return out.subarray(w, endAt);
    }
    output(produced, raw) {
        if (raw)
            this.window = Buffer.concat([this.window, produced]).subarray(-WINDOW);
        this.content?.update(produced);
        this.bytesOut += produced.length;
        this.onOutput?.(produced);
    }
    /** The content checksum that ends a frame. */
    contentEnd(buf, p) {
        if (buf.length - p < 4)
            return -1;
        if (this.content.digest() !== buf.readUInt32LE(p)) {
            throw new Lz4Error('the LZ4 content checksum does not match');
        }
        this.frames++;
        this.state = 'between';
        return p + 4;
    }
    /** How many buffered bytes the parser needs before it can take its next step. */
    bytesWanted() {
        const buf = this.pending;
        if (this.state === 'block' && buf.length >= 4) {
            const size = buf.readUInt32LE(0) & 0x7fffffff;
            return 4 + size + (this.blockChecksum ? 4 : 0);
        }
        return buf.length + 1;
    }
    /** Throws unless the input ended exactly at the end of a frame. */
    finish() {
        if (this.parkedBytes > 0) {
            this.needed = 0;
            this.push(Buffer.alloc(0));
        }
        if (this.state !== 'between' || this.pending.length > 0 || this.frames === 0) {
            throw new Lz4Error('the LZ4 frame ends early');
        }
        return this.bytesOut;
    }
}

;// CONCATENATED MODULE: ./src/archive/problem.ts
/** A finding raised from deep inside a parser; the inspection turns it into a Finding. */
class problem_ArchiveProblem extends Error {
    rule;
    evidence;
    constructor(rule, message, evidence = {}) {
        super(message);
        this.rule = rule;
        this.evidence = evidence;
    }
}

;// CONCATENATED MODULE: ./src/archive/blocks.ts




/** The newline bytes in `b`. */
function newlines(b) {
    let n = 0;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1))
        n++;
    return n;
}
/** The last bytes of a stream kept: enough for pg_dump's end of COPY data (`\n\\.\n\n\n`). */
const TAIL = 8;
/**
 * The rows of COPY data of `bytes` bytes with `lines` newlines and these last bytes: a final `\.`
 * line and the blank lines after it are pg_dump's end-of-data marker, not rows.
 */
function copyRows(lines, tail, bytes) {
    let end = tail.length;
    let blank = 0;
    while (end >= 2 && tail[end - 1] === 10 && tail[end - 2] === 10) {
        blank++;
        end--;
    }
    const marker = end >= 3 && tail[end - 1] === 10 && tail[end - 2] === 0x2e && tail[end - 3] === 0x5c;
    // The `\.` starts a line: the data begins with it, or a newline comes before it.
    const atLineStart = marker && (bytes - (tail.length - end) === 3 || (end >= 4 && tail[end - 4] === 10));
    return atLineStart ? lines - blank - 1 : lines;
}
/** Counts a stream's newlines and keeps its last TAIL bytes, as output goes by. */
class RowCounter {
    lines = 0;
    tail = Buffer.alloc(0);
    add(b) {
        this.lines += newlines(b);
        this.tail =
            b.length >= TAIL
                ? Buffer.from(b.subarray(b.length - TAIL))
                : Buffer.concat([this.tail, b]).subarray(-TAIL);
    }
    rows(bytes) {
        return copyRows(this.lines, this.tail, bytes);
    }
}
const BATCH = 1024 * 1024;
const OUT_CHUNK = (/* unused pure expression or super */ null && (256 * 1024));
const HIGH_WATER = 4 * BATCH;
/**
 * Uncompressed data. With `copyText` (a table's rows in a custom archive) it must end as COPY text
 * does, with a newline: a header that says "no compression" over compressed blocks does not.
 */
class PassThroughDecoder {
    what;
    copyText;
    bytes = 0;
    rows = new RowCounter();
    last = -1;
    first = -1;
    constructor(what, copyText) {
        this.what = what;
        this.copyText = copyText;
    }
    push(b) {
        if (b.length === 0)
            return undefined;
        if (this.first < 0)
            this.first = b[0] * 256 + (b[1] ?? 0);
        this.bytes += b.length;
        this.rows.add(b);
        this.last = b[b.length - 1];
        return undefined;
    }
    finish() {
        if (this.copyText && this.bytes > 0 && this.last !== 10) {
            // zlib's header: deflate (8) in the low nibble, the two bytes a multiple of 31.
            const zlibHeader = (this.first >> 8) % 16 === 8 && this.first % 31 === 0;
            return Promise.reject(new ArchiveProblem('ARCHIVE_CORRUPT', `the header says the data is not compressed, but the data of ${this.what} is not COPY text (it does not end with a row's newline${zlibHeader ? '; it starts like a zlib stream' : ''}): pg_restore would fail on it`, { entry: this.what, headerCompression: 'none', startsLikeZlib: zlibHeader }));
        }
        return Promise.resolve({ bytes: this.bytes, rows: this.rows.rows(this.bytes) });
    }
}
/**
 * Feeds a zlib (or zstd) stream in 1 MiB batches so the work runs on libuv's thread pool, beside
 * the hashing on the main thread, instead of one pool job per 4 KiB block.
 */
class StreamDecoder {
    z;
    what;
    pending = [];
    pendingBytes = 0;
    out = 0;
    rows = new RowCounter();
    failed;
    ended;
    constructor(z, what) {
        this.z = z;
        this.what = what;
        z.on('data', (b) => {
            this.out += b.length;
            this.rows.add(b);
        });
        this.ended = new Promise((resolve, reject) => {
            z.on('end', resolve);
            z.on('error', (e) => {
                this.failed = e;
                reject(e);
            });
        });
        this.ended.catch(() => { });
    }
    push(b) {
        this.pending.push(b);
        this.pendingBytes += b.length;
        return this.pendingBytes >= BATCH ? this.flush() : undefined;
    }
    async flush() {
        if (this.failed)
            throw this.corrupt(this.failed);
        if (this.pendingBytes === 0)
            return;
        const batch = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        const stream = this.z;
        stream.write(batch);
        if (stream.writableLength > HIGH_WATER) {
            await new Promise((resolve) => {
                const done = () => {
                    stream.off('drain', done);
                    stream.off('error', done);
                    resolve();
                };
                stream.on('drain', done);
                stream.on('error', done);
            });
            if (this.failed)
                throw this.corrupt(this.failed);
        }
    }
    async finish() {
        await this.flush();
        this.z.end();
        try {
            await this.ended;
        }
        catch (e) {
            throw this.corrupt(e);
        }
        return { bytes: this.out, rows: this.rows.rows(this.out) };
    }
    corrupt(e) {
        return damagedStream(this.what, e.message, e.code);
    }
}
/** What a zlib (or zstd) decoder's error makes of one stream, in the walk or in a worker. */
function damagedStream(what, message, code) {
    return new problem_ArchiveProblem('COMPRESSION_CORRUPT', `${what}: ${message}`, { zlib: code ?? message });
}
/** A decoder that runs on the main thread (LZ4 in TypeScript, zstd in JavaScript), fed in batches. */
class SyncDecoder {
    feed;
    end;
    what;
    pending = [];
    pendingBytes = 0;
    constructor(feed, end, what) {
        this.feed = feed;
        this.end = end;
        this.what = what;
    }
    push(b) {
        this.pending.push(b);
        this.pendingBytes += b.length;
        if (this.pendingBytes >= BATCH)
            this.flush();
        return undefined;
    }
    flush() {
        if (this.pendingBytes === 0)
            return;
        const batch = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        try {
            this.feed(batch);
        }
        catch (e) {
            throw this.corrupt(e);
        }
    }
    finish() {
        try {
            this.flush();
            return Promise.resolve(this.end());
        }
        catch (e) {
            return Promise.reject(e instanceof ArchiveProblem ? e : this.corrupt(e));
        }
    }
    corrupt(e) {
        return new ArchiveProblem('COMPRESSION_CORRUPT', `${this.what}: ${e instanceof Error ? e.message : String(e)}`);
    }
}
function lz4Decoder(what) {
    const dec = new Lz4FrameDecoder();
    const rows = new RowCounter();
    dec.onOutput = (b) => rows.add(b);
    return new SyncDecoder((b) => dec.push(b), () => {
        const bytes = dec.finish();
        return { bytes, rows: rows.rows(bytes) };
    }, what);
}
/** zstd in JavaScript, for a Node.js without zlib's zstd (before 22.15). */
function zstdJsDecoder(what) {
    let out = 0;
    const rows = new RowCounter();
    let ended = false;
    const dec = new ZstdJs((chunk, final) => {
        out += chunk.length;
        rows.add(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
        if (final)
            ended = true;
    });
    return new SyncDecoder((b) => dec.push(b), () => {
        dec.push(new Uint8Array(0), true);
        if (!ended)
            throw new Error('the zstd stream ends early');
        return { bytes: out, rows: rows.rows(out) };
    }, what);
}
const zstd = (external_node_zlib_default()).createZstdDecompress;
/** A worker's output buffers: larger, so fewer, in a heap that holds little else. */
const LANE_OUT_CHUNK = 1024 * 1024;
/** The decoder a worker thread runs for one table's stream: node:zlib's inflate or zstd. */
function laneDecoder(codec, what) {
    if (codec === 'gzip')
        return new StreamDecoder(external_node_zlib_default().createInflate({ chunkSize: LANE_OUT_CHUNK }), what);
    if (!zstd)
        throw new Error('this Node.js has no zstd in node:zlib (it came in 22.15)');
    return new StreamDecoder(zstd({ chunkSize: LANE_OUT_CHUNK }), what);
}
/** The codec a worker thread decodes a stream with (node:zlib's), if there is one for `c`. */
function workerCodec(c) {
    if (c === 'gzip')
        return 'gzip';
    return c === 'zstd' && zstd ? 'zstd' : undefined;
}
/**
 * A decoder for one stream. `gzip` in a custom archive's blocks means zlib framing (deflate with a
 * zlib header); `gzipFile` is a .gz file as a directory dump writes them.
 */
function decoderFor(c, what, copyText = false) {
    switch (c) {
        case 'none':
            return new PassThroughDecoder(what, copyText);
        case 'gzip':
            return new StreamDecoder(zlib.createInflate({ chunkSize: OUT_CHUNK }), what);
        case 'gzipFile':
            return new StreamDecoder(zlib.createGunzip({ chunkSize: OUT_CHUNK }), what);
        case 'zstd':
            return zstd ? new StreamDecoder(zstd({ chunkSize: OUT_CHUNK }), what) : zstdJsDecoder(what);
        case 'lz4':
            return lz4Decoder(what);
    }
}

;// CONCATENATED MODULE: ./src/archive/front.ts
/**
 * How far a file that a download is still writing is complete, in memory shared with the decoding
 * workers (lane-worker.ts): the download moves the mark, a worker that would read past it waits.
 * Cells: the bytes complete from the start; the state (growing, finished, failed); the file's size
 * when known; a counter bumped on every change, which waiting workers sleep on.
 */
class SharedFront {
    buffer = new SharedArrayBuffer(4 * 8);
    cells = new BigInt64Array(this.buffer);
    constructor(size) {
        if (size !== undefined)
            this.cells[SIZE] = BigInt(size);
    }
    /** The file's size, as the listing gave it (the download's end), if known. */
    get size() {
        const size = Number(Atomics.load(this.cells, SIZE));
        return size > 0 ? size : undefined;
    }
    advance(bytes) {
        if (BigInt(bytes) <= Atomics.load(this.cells, COMPLETE))
            return;
        Atomics.store(this.cells, COMPLETE, BigInt(bytes));
        this.bump();
    }
    finish() {
        Atomics.store(this.cells, STATE, FINISHED);
        this.bump();
    }
    fail() {
        Atomics.store(this.cells, STATE, FAILED);
        this.bump();
    }
    bump() {
        Atomics.add(this.cells, CHANGES, 1n);
        Atomics.notify(this.cells, CHANGES);
    }
}
const COMPLETE = 0;
const STATE = 1;
const SIZE = 2;
const CHANGES = 3;
const FINISHED = 1n;
const FAILED = 2n;
/**
 * In a worker: block until the first `upTo` bytes are complete, or the download finished (a read
 * then sees the file as it is). Throws when the download failed short of them. A worker sleeps at
 * most a second at a time, so one that is terminated meanwhile stops.
 */
function waitForFront(buffer, upTo) {
    const cells = new BigInt64Array(buffer);
    for (;;) {
        const changes = Atomics.load(cells, CHANGES);
        if (Atomics.load(cells, COMPLETE) >= BigInt(upTo))
            return;
        const state = Atomics.load(cells, STATE);
        if (state === FINISHED)
            return;
        if (state === FAILED)
            throw new Error(`the download stopped before byte ${upTo}`);
        Atomics.wait(cells, CHANGES, changes, 1000);
    }
}

;// CONCATENATED MODULE: ./src/archive/lane-worker.ts
/**
 * A decoding worker thread (see LaneWorkers in lanes.ts): it decodes one table's data range at a
 * time with the decoders of blocks.ts and answers with its bytes and rows. The build bundles it as
 * its own file, lane-worker.js, next to each bundle that starts workers.
 */






const READ = 1024 * 1024;
const lane_worker_BATCH = 1024 * 1024;
/** ISA-L's inflate as a BlockDecoder: done with each buffer when `push` returns. */
function isalDecoder(isal, what) {
    const state = isal.create();
    let out = 0;
    return {
        push(b) {
            try {
                out += isal.push(state, b);
            }
            catch (e) {
                const err = e;
                throw damagedStream(what, err.message, err.code);
            }
            return undefined;
        },
        finish() {
            if (!isal.finish(state))
                return Promise.reject(damagedStream(what, 'unexpected end of file', 'ISAL_END_INPUT'));
            return Promise.resolve({ bytes: out, rows: copyRows(isal.rows(state), isal.tail(state), out) });
        },
    };
}
/**
 * Payload bytes gathered into 1 MiB batches for the decoder. zlib holds on to a batch until it has
 * inflated it, so each batch is new; ISA-L is done on return, so `reuse` fills the same one again.
 */
class Batches {
    dec;
    reuse;
    batch = Buffer.allocUnsafe(lane_worker_BATCH);
    length = 0;
    constructor(dec, reuse) {
        this.dec = dec;
        this.reuse = reuse;
    }
    get room() {
        return lane_worker_BATCH - this.length;
    }
    async add(from, start, end) {
        from.copy(this.batch, this.length, start, end);
        this.length += end - start;
        if (this.length === lane_worker_BATCH)
            await this.flush();
    }
    async flush() {
        if (this.length === 0)
            return;
        await this.dec.push(this.length === lane_worker_BATCH ? this.batch : this.batch.subarray(0, this.length));
        if (!this.reuse)
            this.batch = Buffer.allocUnsafe(lane_worker_BATCH);
        this.length = 0;
    }
}
/**
 * Read the range and feed the chunks' payloads to the decoder. Each chunk is a sign byte, then its
 * length in `intSize` bytes, little-endian; the walk checks this framing, and a range it does not
 * confirm (a guess from the TOC) has its outcome thrown away. One read buffer serves throughout.
 */
async function feedRange(job, batches) {
    const head = Buffer.alloc(job.intSize + 1);
    let headHave = 0;
    let payload = 0;
    const buf = Buffer.allocUnsafe(READ);
    const fd = external_node_fs_default().openSync(job.file, 'r');
    try {
        for (let pos = job.start; pos < job.end;) {
            const want = Math.min(READ, job.end - pos);
            if (job.front)
                waitForFront(job.front, pos + want);
            const n = external_node_fs_default().readSync(fd, buf, 0, want, pos);
            if (n === 0)
                throw new Error(`the file ends at byte ${pos}`);
            pos += n;
            for (let i = 0; i < n;) {
                if (payload > 0) {
                    const take = Math.min(payload, n - i, batches.room);
                    await batches.add(buf, i, i + take);
                    i += take;
                    payload -= take;
                }
                else {
                    head[headHave++] = buf[i++];
                    if (headHave < head.length)
                        continue;
                    for (let k = job.intSize; k >= 1; k--)
                        payload = payload * 256 + head[k];
                    headHave = 0;
                }
            }
        }
        await batches.flush();
    }
    finally {
        external_node_fs_default().closeSync(fd);
    }
}
const load = (0,external_node_module_namespaceObject.createRequire)(import.meta.url);
async function decodeLane(job) {
    try {
        const dec = job.isal ? isalDecoder(load(job.isal), job.what) : laneDecoder(job.codec, job.what);
        await feedRange(job, new Batches(dec, job.isal !== undefined));
        return await dec.finish();
    }
    catch (e) {
        if (e instanceof problem_ArchiveProblem)
            return { problem: { rule: e.rule, message: e.message, evidence: e.evidence } };
        return { error: e instanceof Error ? e.message : String(e) };
    }
}
const port = external_node_worker_threads_namespaceObject.parentPort;
port?.on('message', (job) => {
    void decodeLane(job).then((reply) => port.postMessage(reply));
});

var __webpack_exports__decodeLane = __webpack_exports__.P;
export { __webpack_exports__decodeLane as decodeLane };
