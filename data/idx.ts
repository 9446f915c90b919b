/**
 * IDX format (LeCun's MNIST files, also Fashion-MNIST): big-endian header `0x00 0x00 <type> <ndims>`, then
 * ndims uint32 sizes, then the data. We accept only unsigned-byte data (type 0x08), 3-D images (magic
 * 0x00000803) and 1-D labels (magic 0x00000801), and insist the file is exactly as long as its header says.
 */
import { DatasetError, errorText } from "./errors.ts";
import { gunzipIfNeeded, gunzipPrefix, isGzip } from "./compression.ts";
import { firstExisting, join, readBytes } from "./fsutil.ts";
import type { Split } from "./types.ts";

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  dims: number[];
  /** A view into the input bytes (no copy). */
  data: Uint8Array;
}

const hex = (n: number): string => "0x" + n.toString(16).padStart(8, "0");

/**
 * The header of an IDX file (its first bytes suffice): magic number and dimensions. `kind` fixes the
 * expected magic number.
 */
export function parseIdxHeader(
  bytes: Uint8Array,
  file: string,
  kind: "images" | "labels",
): { dims: number[]; headerBytes: number } {
  const expectedMagic = kind === "images" ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  if (bytes.length < 4) {
    throw new DatasetError(`${file}: truncated IDX file (${bytes.length} bytes, no magic number)`, file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new DatasetError(
      `${file}: wrong magic number ${hex(magic)} (expected ${hex(expectedMagic)} for IDX ${kind}, uint8)`,
      file,
    );
  }
  const ndims = bytes[3];
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DatasetError(`${file}: truncated IDX header (${bytes.length} of ${headerBytes} bytes)`, file);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  if (dims.some((d) => d === 0)) {
    throw new DatasetError(`${file}: IDX dimensions ${dims.join("×")} contain a zero`, file);
  }
  return { dims, headerBytes };
}

/** Bytes an IDX file with this header must have, header included. */
function idxFileBytes(h: { dims: number[]; headerBytes: number }): number {
  return h.headerBytes + h.dims.reduce((a, b) => a * b, 1);
}

/** Parse one (already decompressed) IDX file; `kind` fixes the expected magic number. */
export function parseIdx(bytes: Uint8Array, file: string, kind: "images" | "labels"): IdxArray {
  const header = parseIdxHeader(bytes, file, kind);
  const { dims, headerBytes } = header;
  const expectedBytes = idxFileBytes(header);
  if (bytes.length < expectedBytes) {
    throw new DatasetError(
      `${file}: truncated IDX file: ${bytes.length} bytes, but the header (${dims.join("×")}) needs ` +
        `${expectedBytes}`,
      file,
    );
  }
  if (bytes.length > expectedBytes) {
    throw new DatasetError(
      `${file}: ${bytes.length - expectedBytes} unexpected trailing bytes after the IDX data ` +
        `(header ${dims.join("×")} needs exactly ${expectedBytes})`,
      file,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * Checks an IDX file (plain or gzip) without reading its data: the header's magic number and dimensions,
 * and that the file holds exactly as many bytes as they imply (for gzip, the uncompressed size its trailer
 * records, modulo 2^32 as gzip stores it). Returns the dimensions; throws DatasetError naming the file.
 */
export function checkIdxFile(path: string, kind: "images" | "labels"): number[] {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new DatasetError(`cannot read ${path} (IDX ${kind}): ${errorText(e)}`, path, { cause: e });
  }
  try {
    const size = f.statSync().size;
    const head = readAt(f, 0, Math.min(size, 4096));
    if (!isGzip(head)) {
      const header = parseIdxHeader(head, path, kind);
      const want = idxFileBytes(header);
      if (size !== want) {
        throw new DatasetError(
          `${path}: ${size} bytes, but its IDX header (${header.dims.join("×")}) needs exactly ${want}`,
          path,
        );
      }
      return header.dims;
    }
    const header = parseIdxHeader(gunzipPrefix(head, path), path, kind);
    const want = idxFileBytes(header);
    const tail = size >= 18 ? readAt(f, size - 4, 4) : new Uint8Array(0);
    const isize = tail.length === 4 ? new DataView(tail.buffer).getUint32(0, true) : -1;
    if (isize !== want % 2 ** 32) {
      throw new DatasetError(
        `${path}: the gzip trailer records ${isize < 0 ? "no size" : `${isize} bytes`}, but the IDX ` +
          `header (${header.dims.join("×")}) needs ${want} (truncated or corrupt file)`,
        path,
      );
    }
    return header.dims;
  } finally {
    f.close();
  }
}

function readAt(f: Deno.FsFile, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = f.readSync(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Read an IDX file, gunzipping it when it is gzip (detected by content, not by name). */
export async function readIdx(path: string, kind: "images" | "labels"): Promise<IdxArray> {
  const raw = await readBytes(path, `IDX ${kind}`);
  return parseIdx(gunzipIfNeeded(raw, path), path, kind);
}

export interface IdxSplitSpec {
  imagesPath: string;
  labelsPath: string;
  height: number;
  width: number;
  numClasses: number;
}

/** Load an images/labels IDX pair into a Split, checking shapes, counts and label range. */
export async function loadIdxSplit(spec: IdxSplitSpec): Promise<Split> {
  const images = await readIdx(spec.imagesPath, "images");
  const labels = await readIdx(spec.labelsPath, "labels");
  const [n, h, w] = images.dims;
  if (h !== spec.height || w !== spec.width) {
    throw new DatasetError(
      `${spec.imagesPath}: images are ${h}×${w}, expected ${spec.height}×${spec.width}`,
      spec.imagesPath,
    );
  }
  if (labels.dims[0] !== n) {
    throw new DatasetError(
      `count mismatch: ${spec.imagesPath} holds ${n} images but ${spec.labelsPath} holds ${labels.dims[0]} ` +
        `labels (expected equal counts)`,
      spec.labelsPath,
    );
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels.data[i];
    if (y >= spec.numClasses) {
      throw new DatasetError(
        `${spec.labelsPath}: label ${y} at index ${i} is out of range (expected 0..${spec.numClasses - 1})`,
        spec.labelsPath,
      );
    }
    out[i] = y;
  }
  // Copy so the Split owns a compact buffer instead of a view into a larger decompressed file.
  return { images: images.data.slice(), labels: out, count: n };
}

/** Official IDX base names; each may be stored plain or with a .gz suffix. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** The four IDX paths in `dir` (plain preferred over .gz), or the list of missing base names. */
export function findIdxFiles(
  dir: string,
): { ok: true; paths: Record<keyof typeof IDX_FILES, string> } | { ok: false; missing: string[] } {
  const paths: Partial<Record<keyof typeof IDX_FILES, string>> = {};
  const missing: string[] = [];
  for (const [key, base] of Object.entries(IDX_FILES) as [keyof typeof IDX_FILES, string][]) {
    const found = firstExisting([join(dir, base), join(dir, base + ".gz")]);
    if (found) paths[key] = found;
    else missing.push(base + "[.gz]");
  }
  return missing.length === 0
    ? { ok: true, paths: paths as Record<keyof typeof IDX_FILES, string> }
    : { ok: false, missing };
}
