/**
 * An asynchronous, batching line writer for a file descriptor (the gateway's stdout; see
 * BUFFERED_STDOUT in logger.ts for the policy and what a stop can lose). Lines are encoded
 * straight into preallocated chunks of `maxWrite` bytes that hold whole lines only, and each
 * chunk goes out in one `write(2)` on the thread pool. It replaces pino's sonic-boom destination
 * for the gateway, whose string accumulation re-measured the whole pending batch at every line
 * (UTF-8 length and flattening of a growing string: ~5,000 instructions per request line,
 * callgrind; bench/README.md "Logging cost").
 */
import { write as writeAsync, writeSync } from 'node:fs';

export interface BufferedWriterOptions {
  /** Bytes buffered before a write starts. */
  minLength: number;
  /** Largest write (whole lines; ≤ PIPE_BUF keeps writers sharing a pipe from interleaving). */
  maxWrite: number;
  /** Milliseconds between writes of what is buffered, however little. */
  periodicFlush: number;
  /** Bytes kept for a reader that stopped reading; lines beyond are dropped. */
  maxLength: number;
}

/** A chunk of whole lines; `length` bytes of `bytes` are used. */
interface Chunk {
  bytes: Buffer;
  length: number;
}

/** How long flushSync waits for a full non-blocking pipe before it gives up on the rest. */
const SYNC_RETRY_LIMIT_MS = 1000;

export class BufferedWriter {
  /** Chunks waiting for their write, oldest first; the last one is being filled. */
  private readonly chunks: Chunk[] = [];
  /** Written chunks kept for reuse (at most two: no allocation under steady load). */
  private readonly spare: Chunk[] = [];
  /** The chunk whose write is in flight. */
  private inFlight: Chunk | undefined;
  /** Bytes buffered, the chunk in flight included. */
  private buffered = 0;
  private failed = false;
  private readonly flushWaiters: Array<(error?: Error) => void> = [];
  private readonly timer: NodeJS.Timeout;
  /** Lines dropped because `maxLength` bytes were waiting. */
  dropped = 0;

  constructor(
    private readonly fd: number,
    private readonly options: BufferedWriterOptions,
  ) {
    if (options.minLength >= options.maxWrite) throw new Error('minLength must be below maxWrite');
    this.timer = setInterval(() => this.startWrite(), options.periodicFlush);
    this.timer.unref();
  }

  /** Buffers one or more whole lines (pino's destination interface). */
  write(line: string): boolean {
    if (this.failed) return false;
    if (this.buffered >= this.options.maxLength) {
      this.dropped++;
      return false;
    }
    let chunk = this.chunks.at(-1);
    if (chunk === undefined || chunk.bytes.length - chunk.length < 4) {
      chunk = this.newChunk(line.length);
      this.chunks.push(chunk);
    }
    // Encoded where it goes, not measured first (Buffer.byteLength: ~1,400 instructions a line).
    // The encoder stops before a character that does not fit, so a line that ends more than
    // 3 bytes before the chunk's end fitted whole; only near the end is it measured.
    const room = chunk.bytes.length - chunk.length;
    let size = chunk.bytes.write(line, chunk.length);
    if (size > room - 4) {
      const whole = Buffer.byteLength(line);
      if (whole > size) {
        chunk = this.newChunk(whole); // the partial copy in the old chunk is left unused
        this.chunks.push(chunk);
        size = chunk.bytes.write(line, 0);
      }
    }
    chunk.length += size;
    this.buffered += size;
    if (this.inFlight === undefined && this.buffered >= this.options.minLength) this.startWrite();
    return true;
  }

  /** Writes all that is buffered; `done` runs when it is out (pino's logger.flush). */
  flush(done?: (error?: Error) => void): void {
    if (done !== undefined) {
      if (this.buffered === 0 || this.failed) {
        done();
        return;
      }
      this.flushWaiters.push(done);
    }
    this.startWrite();
  }

  /** Writes what is buffered synchronously (process exit); a write in flight is left to finish. */
  flushSync(): void {
    let waitedMs = 0;
    while (!this.failed && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      try {
        const written = writeSync(this.fd, chunk.bytes, 0, chunk.length);
        this.consume(chunk, written);
        if (chunk.length === 0) this.chunks.shift();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || waitedMs >= SYNC_RETRY_LIMIT_MS) {
          this.fail();
          return;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        waitedMs += 10;
      }
    }
  }

  /** Stops the periodic write (tests; the gateway's writer lives as long as the process). */
  close(): void {
    clearInterval(this.timer);
  }

  private newChunk(size: number): Chunk {
    if (size > this.options.maxWrite) return { bytes: Buffer.allocUnsafeSlow(size), length: 0 };
    return this.spare.pop() ?? { bytes: Buffer.allocUnsafeSlow(this.options.maxWrite), length: 0 };
  }

  /** Starts writing the oldest chunk, unless a write is in flight or nothing is buffered. */
  private startWrite(): void {
    if (this.inFlight !== undefined || this.failed) return;
    let chunk = this.chunks.shift();
    // An empty chunk ahead of others was left by a line that did not fit in it.
    while (chunk !== undefined && chunk.length === 0 && this.chunks.length > 0) chunk = this.chunks.shift();
    if (chunk === undefined || chunk.length === 0) {
      if (chunk !== undefined) this.chunks.unshift(chunk);
      this.settleFlushes();
      return;
    }
    this.inFlight = chunk;
    writeAsync(this.fd, chunk.bytes, 0, chunk.length, (error, written) => this.written(error, written));
  }

  private written(error: NodeJS.ErrnoException | null, written: number): void {
    const chunk = this.inFlight!;
    if (error !== null) {
      if (error.code === 'EAGAIN') {
        // A non-blocking pipe is full: try again shortly, the chunk kept in flight.
        setTimeout(
          () => writeAsync(this.fd, chunk.bytes, 0, chunk.length, (e, n) => this.written(e, n)),
          100,
        ).unref();
        return;
      }
      this.inFlight = undefined;
      if (error.code !== 'EPIPE') process.stderr.write(`keygate: stdout lost (${error.message})\n`);
      this.fail(error);
      return;
    }
    this.consume(chunk, written);
    if (chunk.length > 0) {
      writeAsync(this.fd, chunk.bytes, 0, chunk.length, (e, n) => this.written(e, n));
      return;
    }
    this.inFlight = undefined;
    if (chunk.bytes.length === this.options.maxWrite && this.spare.length < 2) this.spare.push(chunk);
    if (this.buffered >= this.options.minLength || this.flushWaiters.length > 0) this.startWrite();
  }

  /** Drops the first `count` bytes of a chunk (all of it after a whole write). */
  private consume(chunk: Chunk, count: number): void {
    if (count < chunk.length) chunk.bytes.copy(chunk.bytes, 0, count, chunk.length);
    chunk.length -= count;
    this.buffered -= count;
  }

  private settleFlushes(): void {
    for (const done of this.flushWaiters.splice(0)) done();
  }

  /** A broken pipe or a failing descriptor: what is buffered is dropped, later lines too. */
  private fail(error?: Error): void {
    this.failed = true;
    this.chunks.length = 0;
    this.buffered = 0;
    for (const done of this.flushWaiters.splice(0)) done(error);
  }
}
