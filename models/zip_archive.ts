/**
 * A read-only zip archive reader that seeks instead of loading the file: what PyTorch's zip
 * checkpoints need (a DiT-XL/2 checkpoint is 2.7 GB). The central directory is read once (zip64
 * records included: torch always writes them); an entry's bytes are read only when asked for,
 * checked against its CRC-32, and stored or deflated entries are supported (torch writes stored
 * ones; a re-zipped checkpoint may deflate). Encrypted and multi-disk archives are refused. Every
 * problem is a ZipError naming the file.
 */
import { crc32 } from "node:zlib";

export class ZipError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`zip archive ${source}: ${problem}`);
    this.name = "ZipError";
  }
}

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflate (anything else is refused on read). */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  /** Uncompressed size in bytes. */
  readonly size: number;
  readonly localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
/** A central directory beyond this is not a checkpoint (DiT-XL/2's has ~700 entries, ~60 KB). */
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;
/** Deflated entries are inflated in memory; refuse absurd declared sizes before allocating. */
const MAX_INFLATED = 4 * 1024 * 1024 * 1024;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
/** A little-endian u64 that must fit a JS safe integer (file offsets and sizes do, for any real file). */
function u64(b: Uint8Array, o: number, what: string, src: string): number {
  const lo = u32(b, o), hi = u32(b, o + 4);
  if (hi >= 0x200000) throw new ZipError(src, `${what} ${hi * 2 ** 32 + lo} is too large`);
  return hi * 2 ** 32 + lo;
}

async function readAt(file: Deno.FsFile, offset: number, length: number, src: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new ZipError(src, `unexpected end of file reading ${length} bytes at offset ${offset}`);
    }
    got += n;
  }
  return buf;
}

export class ZipArchive implements Disposable {
  private constructor(
    readonly path: string,
    private readonly file: Deno.FsFile,
    readonly fileSize: number,
    readonly entries: ReadonlyMap<string, ZipEntry>,
    /** Where the central directory starts: entry data must end before it. */
    private readonly centralOffset: number,
  ) {}

  /** Opens `path` and reads its central directory (nothing else). */
  static async open(path: string): Promise<ZipArchive> {
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      const { entries, centralOffset } = await readCentralDirectory(file, size, path);
      return new ZipArchive(path, file, size, entries, centralOffset);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(this.path, `no entry "${name}"`);
    return e;
  }

  /** The entry's uncompressed bytes, CRC-checked. */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entry(name);
    const src = this.path;
    const where = `entry "${name}"`;
    if (e.method !== 0 && e.method !== 8) {
      throw new ZipError(
        src,
        `${where} uses compression method ${e.method} (only stored and deflate are read)`,
      );
    }
    const header = await readAt(this.file, e.localHeaderOffset, LOCAL_SIZE, src);
    if (u32(header, 0) !== SIG_LOCAL) {
      throw new ZipError(src, `${where}: no local file header at offset ${e.localHeaderOffset}`);
    }
    const nameLen = u16(header, 26), extraLen = u16(header, 28);
    const dataStart = e.localHeaderOffset + LOCAL_SIZE + nameLen + extraLen;
    if (dataStart + e.compressedSize > this.centralOffset) {
      throw new ZipError(
        src,
        `${where}: its ${e.compressedSize} bytes at offset ${dataStart} run into the central directory`,
      );
    }
    const localName = await readAt(this.file, e.localHeaderOffset + LOCAL_SIZE, nameLen, src);
    if (new TextDecoder().decode(localName) !== name) {
      throw new ZipError(src, `${where}: the local header names a different file`);
    }
    const raw = await readAt(this.file, dataStart, e.compressedSize, src);
    const data = e.method === 0 ? raw : await inflate(raw, e.size, `${where}`, src);
    if (data.length !== e.size) {
      throw new ZipError(src, `${where} holds ${data.length} bytes, the central directory says ${e.size}`);
    }
    const crc = crc32(data) >>> 0;
    if (crc !== e.crc32) {
      throw new ZipError(
        src,
        `${where} fails its CRC-32 check (${hex(crc)}, expected ${hex(e.crc32)}): the file is corrupted`,
      );
    }
    return data;
  }

  close(): void {
    this.file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const hex = (x: number) => `0x${x.toString(16).padStart(8, "0")}`;

async function inflate(raw: Uint8Array, size: number, where: string, src: string): Promise<Uint8Array> {
  if (size > MAX_INFLATED) throw new ZipError(src, `${where} declares ${size} uncompressed bytes`);
  const out = new Uint8Array(size);
  let at = 0;
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("deflate-raw"),
    );
    for await (const chunk of stream) {
      if (at + chunk.length > size) {
        throw new ZipError(src, `${where} inflates to more than its ${size} bytes`);
      }
      out.set(chunk, at);
      at += chunk.length;
    }
  } catch (e) {
    if (e instanceof ZipError) throw e;
    throw new ZipError(src, `${where} is not valid deflate data (${e instanceof Error ? e.message : e})`);
  }
  return out.subarray(0, at);
}

interface CentralDirectory {
  entries: Map<string, ZipEntry>;
  centralOffset: number;
}

async function readCentralDirectory(file: Deno.FsFile, size: number, src: string): Promise<CentralDirectory> {
  if (size < EOCD_SIZE) {
    throw new ZipError(src, `${size} bytes is too short for a zip archive (truncated or not a zip file)`);
  }
  const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE);
  const tailStart = size - tailLen;
  const tail = await readAt(file, tailStart, tailLen, src);
  // The end record is the last signature whose comment length reaches exactly the end of the file.
  let eocd = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (u32(tail, i) === SIG_EOCD && i + EOCD_SIZE + u16(tail, i + 20) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipError(
      src,
      "no end-of-central-directory record: the file is truncated or is not a zip archive",
    );
  }
  if (u16(tail, eocd + 4) !== 0 || u16(tail, eocd + 6) !== 0) {
    throw new ZipError(src, "multi-disk (split) archives are not supported");
  }
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  let cdEnd = tailStart + eocd; // the central directory must end where the next record starts
  const loc = eocd - ZIP64_LOCATOR_SIZE;
  if (loc >= 0 && u32(tail, loc) === SIG_ZIP64_LOCATOR) {
    const z64Offset = u64(tail, loc + 8, "zip64 end record offset", src);
    if (z64Offset + ZIP64_EOCD_SIZE > tailStart + loc) {
      throw new ZipError(src, `zip64 end-of-central-directory offset ${z64Offset} is out of range`);
    }
    const z = await readAt(file, z64Offset, ZIP64_EOCD_SIZE, src);
    if (u32(z, 0) !== SIG_ZIP64_EOCD) {
      throw new ZipError(src, `no zip64 end-of-central-directory record at offset ${z64Offset}`);
    }
    if (u32(z, 16) !== 0 || u32(z, 20) !== 0) {
      throw new ZipError(src, "multi-disk (split) archives are not supported");
    }
    count = u64(z, 32, "zip64 entry count", src);
    cdSize = u64(z, 40, "zip64 central directory size", src);
    cdOffset = u64(z, 48, "zip64 central directory offset", src);
    cdEnd = z64Offset;
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new ZipError(src, "the end record defers to a zip64 record that is missing");
  }
  if (cdOffset + cdSize > cdEnd) {
    throw new ZipError(
      src,
      `central directory (${cdSize} bytes at offset ${cdOffset}) overruns the end records at ${cdEnd}: ` +
        "the file is truncated or corrupted",
    );
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) throw new ZipError(src, `central directory of ${cdSize} bytes`);
  if (count * CENTRAL_SIZE > cdSize) {
    throw new ZipError(src, `${count} entries cannot fit a ${cdSize}-byte central directory`);
  }
  const cd = await readAt(file, cdOffset, cdSize, src);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let p = 0;
  for (let i = 0; i < count; i++) {
    const where = `central directory entry ${i} (offset ${cdOffset + p})`;
    if (p + CENTRAL_SIZE > cdSize || u32(cd, p) !== SIG_CENTRAL) {
      throw new ZipError(src, `${where} is corrupted (no central header signature)`);
    }
    const flags = u16(cd, p + 8);
    const method = u16(cd, p + 10);
    const crc = u32(cd, p + 16);
    let csize = u32(cd, p + 20);
    let usize = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28), extraLen = u16(cd, p + 30), commentLen = u16(cd, p + 32);
    let disk = u16(cd, p + 34);
    let offset = u32(cd, p + 42);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdSize) throw new ZipError(src, `${where} runs past the end of the central directory`);
    let name: string;
    try {
      name = decoder.decode(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    } catch {
      throw new ZipError(src, `${where} has a file name that is not UTF-8`);
    }
    // Zip64 extended information: present values replace the 32-bit fields that are saturated.
    const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
    for (let q = 0; q + 4 <= extra.length;) {
      const id = u16(extra, q), len = u16(extra, q + 2);
      if (q + 4 + len > extra.length) {
        throw new ZipError(src, `${where} ("${name}") has a truncated extra field`);
      }
      if (id === 0x0001) {
        let r = q + 4;
        const take = (what: string) => {
          if (r + 8 > q + 4 + len) throw new ZipError(src, `${where} ("${name}") has a short zip64 field`);
          const v = u64(extra, r, what, src);
          r += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take("zip64 size");
        if (csize === 0xffffffff) csize = take("zip64 compressed size");
        if (offset === 0xffffffff) offset = take("zip64 local header offset");
        if (disk === 0xffff) {
          if (r + 4 > q + 4 + len) throw new ZipError(src, `${where} ("${name}") has a short zip64 field`);
          disk = u32(extra, r);
        }
      }
      q += 4 + len;
    }
    if (flags & 1) throw new ZipError(src, `entry "${name}" is encrypted`);
    if (disk !== 0) throw new ZipError(src, "multi-disk (split) archives are not supported");
    if (offset + LOCAL_SIZE + nameLen + csize > cdOffset) {
      throw new ZipError(
        src,
        `entry "${name}" (${csize} bytes at offset ${offset}) overlaps the central directory`,
      );
    }
    if (method === 0 && csize !== usize) {
      throw new ZipError(src, `stored entry "${name}" has compressed size ${csize} ≠ size ${usize}`);
    }
    if (entries.has(name)) throw new ZipError(src, `duplicate entry "${name}"`);
    entries.set(name, {
      name,
      method,
      crc32: crc,
      compressedSize: csize,
      size: usize,
      localHeaderOffset: offset,
    });
    p = next;
  }
  if (p !== cdSize) {
    throw new ZipError(src, `central directory holds ${cdSize - p} bytes beyond its ${count} entries`);
  }
  return { entries, centralOffset: cdOffset };
}
