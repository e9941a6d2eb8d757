/**
 * The gateway's stdout writer (issue 13, item 13): whole lines in writes of at most `maxWrite`
 * bytes, nothing written below `minLength` until a flush, bounded memory for a reader that stopped
 * reading, and a synchronous flush for process exit. write(2) is observed through a fake fs.write.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Callback = (error: NodeJS.ErrnoException | null, written: number) => void;
const pending: Array<{ bytes: Buffer; run: () => void }> = [];
let hold = false;

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  return {
    ...fs,
    write: (fd: number, bytes: Buffer, offset: number, length: number, done: Callback) => {
      const run = () => done(null, fs.writeSync(fd, bytes, offset, length));
      pending.push({ bytes: Buffer.from(bytes.subarray(offset, offset + length)), run });
      if (!hold) setImmediate(run);
    },
  };
});

const { BufferedWriter } = await import('../../../src/buffered-stdout.js');
const options = { minLength: 3 * 1024, maxWrite: 4 * 1024, periodicFlush: 3_600_000, maxLength: 256 * 1024 };

let dir: string;
let fd: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-writer-'));
  fd = openSync(join(dir, 'out.log'), 'w');
  pending.length = 0;
  hold = false;
});
afterEach(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});
const written = () => readFileSync(join(dir, 'out.log'), 'utf8');

/** Lines of varied length, some with multi-byte characters (up to 4 bytes per character). */
const lines = Array.from(
  { length: 300 },
  (_, i) => `{"n":${i},"name":"${'ü😀x'.repeat(i % 40)}${'a'.repeat((i * 37) % 700)}"}\n`,
);

describe('BufferedWriter', () => {
  it('writes every line, in order, in writes of whole lines of at most maxWrite bytes', async () => {
    const writer = new BufferedWriter(fd, options);
    for (const line of lines) writer.write(line);
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    writer.close();
    expect(written()).toBe(lines.join(''));
    expect(pending.length).toBeGreaterThan(1);
    for (const { bytes } of pending) {
      expect(bytes.length).toBeLessThanOrEqual(options.maxWrite);
      expect(bytes.at(-1)).toBe(0x0a); // ends with a whole line
    }
  });

  it('writes nothing below minLength until a flush, then all of it', async () => {
    const writer = new BufferedWriter(fd, options);
    writer.write('{"a":1}\n');
    writer.write('{"b":2}\n');
    expect(pending).toHaveLength(0);
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    writer.close();
    expect(written()).toBe('{"a":1}\n{"b":2}\n');
    expect(pending).toHaveLength(1);
  });

  it('keeps a line longer than maxWrite whole, in its own write', async () => {
    const writer = new BufferedWriter(fd, options);
    const long = `{"stack":"${'s'.repeat(10_000)}"}\n`;
    writer.write('{"a":1}\n');
    writer.write(long);
    writer.write('{"b":2}\n');
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    writer.close();
    expect(written()).toBe(`{"a":1}\n${long}{"b":2}\n`);
    expect(pending.map(({ bytes }) => bytes.toString())).toContain(long);
  });

  it('keeps a first line of multi-byte characters that outgrows a chunk whole (its chunk left empty)', async () => {
    const writer = new BufferedWriter(fd, options);
    const long = `{"name":"${'ü'.repeat(3000)}"}\n`; // 3,012 characters, 6,012 bytes
    writer.write(long);
    writer.write('{"b":2}\n');
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    writer.close();
    expect(written()).toBe(`${long}{"b":2}\n`);
  });

  it('drops lines beyond maxLength while the reader does not read, and writes the rest after', async () => {
    hold = true; // no write completes
    const writer = new BufferedWriter(fd, options);
    for (let i = 0; i < 4; i++) for (const line of lines) writer.write(line);
    expect(writer.dropped).toBeGreaterThan(0);
    expect(pending).toHaveLength(1); // one write in flight, the rest waits
    hold = false;
    const flushed = new Promise<void>((resolve) => writer.flush(() => resolve()));
    pending[0]!.run();
    await flushed;
    writer.close();
    const bytes = Buffer.byteLength(written());
    expect(bytes).toBeGreaterThanOrEqual(options.maxLength);
    expect(bytes).toBeLessThan(options.maxLength + options.maxWrite);
    expect(written().split('\n').length - 1).toBe(4 * lines.length - writer.dropped);
  });

  it('flushSync writes what is buffered at once (process exit), the write in flight left to finish', () => {
    hold = true;
    const writer = new BufferedWriter(fd, options);
    const some = lines.slice(0, 100); // below maxLength
    for (const line of some) writer.write(line);
    const inFlight = pending[0]!.bytes.toString();
    writer.flushSync();
    writer.close();
    expect(inFlight + written()).toBe(some.join(''));
  });
});
