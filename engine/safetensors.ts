/**
 * safetensors read/write (the format of Hugging Face checkpoints; spec: github.com/huggingface/safetensors):
 *
 *   [u64 little-endian N][N bytes of JSON header][data section]
 *   header = { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { str: str } }
 *
 * Offsets are relative to the data section, which must be covered exactly, without holes or
 * overlaps (the spec forbids holes so a file cannot double as another format). Files come from the
 * internet, so every field is validated before a single tensor buffer is allocated and every
 * problem raises a SafetensorsError naming the file. Written headers are padded with spaces so the
 * data starts 8-byte aligned, and tensors are laid out largest element size first so each stays
 * naturally aligned.
 */
import { type Tensor, tensor } from "./tensor.ts";

export type SafeDType = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8";

export const DTYPE_SIZE: Readonly<Record<SafeDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I32: 4,
  I64: 8,
  U8: 1,
};

/** A decoded tensor. F16 and BF16 are widened to f32 on read (exactly: every half value is an f32). */
export type SafeTensor =
  | { readonly dtype: "F32" | "F16" | "BF16"; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: "I32"; readonly shape: readonly number[]; readonly data: Int32Array }
  | { readonly dtype: "I64"; readonly shape: readonly number[]; readonly data: BigInt64Array }
  | { readonly dtype: "U8"; readonly shape: readonly number[]; readonly data: Uint8Array };

/** Writer input: typed arrays or plain numbers (F16/BF16 are rounded to nearest-even from f32). */
export type SafeTensorInput =
  | {
    readonly dtype: "F32" | "F16" | "BF16";
    readonly shape: readonly number[];
    readonly data: Float32Array | ArrayLike<number>;
  }
  | {
    readonly dtype: "I32";
    readonly shape: readonly number[];
    readonly data: Int32Array | ArrayLike<number>;
  }
  | {
    readonly dtype: "I64";
    readonly shape: readonly number[];
    readonly data: BigInt64Array | ArrayLike<number>;
  }
  | {
    readonly dtype: "U8";
    readonly shape: readonly number[];
    readonly data: Uint8Array | ArrayLike<number>;
  };

export interface SafetensorsFile {
  /** Null-prototype record: a tensor may legally be called "__proto__" or "constructor". */
  readonly tensors: Record<string, SafeTensor>;
  readonly metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`safetensors ${source}: ${problem}`);
    this.name = "SafetensorsError";
  }
}

/** The reference implementation's cap: larger headers are refused rather than parsed. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------- header validation

interface Entry {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: number[];
  readonly numel: number;
  readonly begin: number;
  readonly end: number;
}

interface Header {
  readonly entries: Entry[];
  readonly metadata: Record<string, string>;
}

const isDType = (x: unknown): x is SafeDType => typeof x === "string" && Object.hasOwn(DTYPE_SIZE, x);
const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const isIndex = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

/** Reads and checks the 8-byte length prefix against the file size; returns N. */
function headerLength(prefix: Uint8Array, fileSize: number, src: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(src, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      src,
      `header length ${n} exceeds the ${fileSize - 8} bytes after the length field`,
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(src, `header length ${n} exceeds ${MAX_HEADER_BYTES}`);
  }
  if (n < 2n) throw new SafetensorsError(src, `header length ${n} is too short for a JSON object`);
  return Number(n);
}

/** Validates the JSON header against a data section of `dataLen` bytes; allocates nothing large. */
function parseHeader(bytes: Uint8Array, dataLen: number, src: string): Header {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(src, "header is not valid UTF-8");
  }
  if (!text.startsWith("{")) throw new SafetensorsError(src, "header does not start with '{'");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(src, `header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(src, "header is not a JSON object");

  const metadata: Record<string, string> = Object.create(null);
  const entries: Entry[] = [];
  for (const name of Object.keys(json)) {
    const v = json[name];
    if (name === METADATA_KEY) {
      if (!isPlainObject(v)) throw new SafetensorsError(src, `${METADATA_KEY} is not an object`);
      for (const k of Object.keys(v)) {
        const s = v[k];
        if (typeof s !== "string") throw new SafetensorsError(src, `metadata value '${k}' is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    entries.push(parseEntry(name, v, dataLen, src));
  }

  // Sorted by position the tensors must tile the data section exactly: no overlap, no hole, no tail.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) throw new SafetensorsError(src, `tensor '${e.name}' overlaps the tensor before it`);
    if (e.begin > pos) {
      throw new SafetensorsError(src, `hole in the data section at bytes ${pos}..${e.begin}`);
    }
    pos = e.end;
  }
  if (pos !== dataLen) {
    throw new SafetensorsError(
      src,
      `tensors cover ${pos} bytes but the data section holds ${dataLen}: the file size is inconsistent`,
    );
  }
  return { entries, metadata };
}

function parseEntry(name: string, v: unknown, dataLen: number, src: string): Entry {
  const where = `tensor '${name}'`;
  if (!isPlainObject(v)) throw new SafetensorsError(src, `${where} is not an object`);
  for (const k of Object.keys(v)) {
    if (k !== "dtype" && k !== "shape" && k !== "data_offsets") {
      throw new SafetensorsError(src, `${where} has an unknown field '${k}'`);
    }
  }
  const { dtype, shape, data_offsets: offs } = v;
  if (!isDType(dtype)) {
    throw new SafetensorsError(
      src,
      `${where} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${
        Object.keys(DTYPE_SIZE).join(", ")
      })`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw new SafetensorsError(
      src,
      `${where} shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
    );
  }
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex)) {
    throw new SafetensorsError(
      src,
      `${where} data_offsets ${JSON.stringify(offs)} are not two non-negative integers`,
    );
  }
  const [begin, end] = offs as number[];
  if (begin > end) throw new SafetensorsError(src, `${where} data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataLen) {
    throw new SafetensorsError(
      src,
      `${where} data_offsets [${begin}, ${end}] exceed the ${dataLen}-byte data section`,
    );
  }
  // Element count, bounded as it grows so that absurd shapes cannot overflow before the comparison.
  const size = DTYPE_SIZE[dtype];
  let numel = shape.includes(0) ? 0 : 1;
  for (const d of shape as number[]) {
    if (numel === 0) break;
    numel *= d;
    if (numel * size > dataLen) {
      throw new SafetensorsError(
        src,
        `${where} shape [${shape}] needs more bytes than the data section holds`,
      );
    }
  }
  if (numel * size !== end - begin) {
    throw new SafetensorsError(
      src,
      `${where} shape [${shape}] of ${dtype} needs ${numel * size} bytes but data_offsets span ${
        end - begin
      }`,
    );
  }
  return { name, dtype, shape: shape as number[], numel, begin, end };
}

// ---------------------------------------------------------------- element conversion

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half → number (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** f32 value → IEEE half bits, round to nearest even; overflow → ±inf, NaN stays NaN. */
export function floatToHalf(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    // Normal: keep 10 mantissa bits; a carry out of the mantissa correctly bumps the exponent (to inf at most).
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
    return sign | h;
  }
  // Subnormal half: value in units of 2^-24 is (1.mant) · 2^(exp − 126).
  const shift = 126 - exp;
  if (shift > 24) return sign;
  const m = mant | 0x800000;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1), half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1))) h++;
  return sign | h;
}

export function bf16ToFloat(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0];
}

/** f32 value → bfloat16 bits, round to nearest even (NaN kept quiet). */
export function floatToBf16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Decodes one tensor's raw little-endian bytes (exactly entry.end − entry.begin of them). */
function decodeData(e: Entry, raw: Uint8Array): SafeTensor {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = e.numel, shape = e.shape;
  switch (e.dtype) {
    case "U8":
      return { dtype: "U8", shape, data: raw.slice() };
    case "F32": {
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return { dtype: "F32", shape, data: out };
    }
    case "I32": {
      const out = new Int32Array(n);
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return { dtype: "I32", shape, data: out };
    }
    case "I64": {
      const out = new BigInt64Array(n);
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(8 * i, true);
      return { dtype: "I64", shape, data: out };
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return { dtype: "F16", shape, data: out };
    }
    case "BF16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(2 * i, true));
      return { dtype: "BF16", shape, data: out };
    }
  }
}

// ---------------------------------------------------------------- decode / read

/** Parses a whole safetensors file held in memory. `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, source);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source);
  const tensors: Record<string, SafeTensor> = Object.create(null);
  for (const e of entries) {
    tensors[e.name] = decodeData(e, bytes.subarray(dataStart + e.begin, dataStart + e.end));
  }
  return { tensors, metadata };
}

/** Fills `buf` from the file at its current position; a short file is a SafetensorsError. */
async function readExactly(file: Deno.FsFile, buf: Uint8Array, src: string): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const got = await file.read(buf.subarray(off));
    if (got === null) {
      throw new SafetensorsError(src, "unexpected end of file (was it truncated while reading?)");
    }
    off += got;
  }
}

/**
 * Reads a safetensors file, checking the length prefix and header before reading (or allocating
 * for) any tensor data, then reading each tensor straight into its own buffer.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(file, prefix, path);
  const n = headerLength(prefix, size, path);
  const headerBytes = new Uint8Array(n);
  await readExactly(file, headerBytes, path);
  const { entries, metadata } = parseHeader(headerBytes, size - 8 - n, path);
  const tensors: Record<string, SafeTensor> = Object.create(null);
  // Tiled without holes, so reading in offset order is one sequential pass over the file.
  for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
    const raw = new Uint8Array(e.end - e.begin);
    await readExactly(file, raw, path);
    tensors[e.name] = decodeData(e, raw);
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------- encode / write

function checkedInts(data: ArrayLike<number>, lo: number, hi: number, what: string, src: string): void {
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (!Number.isInteger(x) || x < lo || x > hi) {
      throw new SafetensorsError(src, `${what}: element ${i} = ${x} is not an integer in [${lo}, ${hi}]`);
    }
  }
}

/** The little-endian bytes of one tensor. */
function encodeData(name: string, t: SafeTensorInput, src: string): Uint8Array {
  const what = `tensor '${name}'`;
  const n = t.data.length;
  const bytes = new Uint8Array(n * DTYPE_SIZE[t.dtype]);
  const dv = new DataView(bytes.buffer);
  switch (t.dtype) {
    case "F32": {
      const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      if (LITTLE_ENDIAN_HOST) bytes.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
      else for (let i = 0; i < n; i++) dv.setFloat32(4 * i, f[i], true);
      break;
    }
    case "F16":
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, floatToHalf(t.data[i]), true);
      break;
    case "BF16":
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, floatToBf16(t.data[i]), true);
      break;
    case "I32": {
      if (!(t.data instanceof Int32Array)) checkedInts(t.data, -(2 ** 31), 2 ** 31 - 1, what, src);
      for (let i = 0; i < n; i++) dv.setInt32(4 * i, t.data[i], true);
      break;
    }
    case "I64": {
      const d = t.data;
      if (d instanceof BigInt64Array) { for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, d[i], true); }
      else {
        checkedInts(d, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, what, src);
        for (let i = 0; i < n; i++) dv.setBigInt64(8 * i, BigInt(d[i]), true);
      }
      break;
    }
    case "U8":
      if (!(t.data instanceof Uint8Array)) checkedInts(t.data, 0, 255, what, src);
      bytes.set(t.data);
      break;
  }
  return bytes;
}

/** Serialises tensors (and optional string metadata) to safetensors bytes. */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafeTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
  source = "<encode>",
): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    if (name === METADATA_KEY) throw new SafetensorsError(source, `'${METADATA_KEY}' is reserved`);
    if (!isDType(t.dtype)) {
      throw new SafetensorsError(source, `tensor '${name}' has unsupported dtype ${t.dtype}`);
    }
    if (!t.shape.every(isIndex)) {
      throw new SafetensorsError(source, `tensor '${name}' has invalid shape [${t.shape}]`);
    }
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (numel !== t.data.length) {
      throw new SafetensorsError(source, `tensor '${name}': ${t.data.length} values for shape [${t.shape}]`);
    }
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== "string") throw new SafetensorsError(source, `metadata value '${k}' is not a string`);
  }
  // Widest elements first (then by name, for byte-identical output): all stay naturally aligned.
  const order = [...names].sort((a, b) =>
    DTYPE_SIZE[tensors[b].dtype] - DTYPE_SIZE[tensors[a].dtype] || (a < b ? -1 : a > b ? 1 : 0)
  );
  const header: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length) header[METADATA_KEY] = { ...metadata };
  const chunks: Uint8Array[] = [];
  let pos = 0;
  for (const name of order) {
    const t = tensors[name];
    const data = encodeData(name, t, source);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [pos, pos + data.length] };
    chunks.push(data);
    pos += data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Writes atomically: a temporary file in the same directory, synced, then renamed over `path`, so
 * a crash leaves either the old file or the complete new one.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafeTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata, path);
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    {
      using f = await Deno.open(tmp, { write: true, createNew: true });
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.syncData();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------- device tensors

/**
 * Saves device tensors (read back asynchronously) as F32 / I32, with optional metadata. Layouts are
 * stored as they are in the engine (NHWC images, OHWI conv weights); converting to PyTorch's NCHW
 * is the job of the model loaders.
 */
export async function saveTensors(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const out: Record<string, SafeTensorInput> = Object.create(null);
  for (const name of Object.keys(tensors)) {
    const t = tensors[name];
    const data = await t.data();
    out[name] = data instanceof Float32Array
      ? { dtype: "F32", shape: [...t.shape], data }
      : { dtype: "I32", shape: [...t.shape], data };
  }
  await writeSafetensors(path, out, metadata);
}

/**
 * Loads a safetensors file onto the current backend: float dtypes become f32 tensors, integer
 * dtypes i32 (I64 values outside the i32 range are an error rather than silently wrapped). The
 * tensors belong to the caller's scope (keep() or dispose() them).
 */
export async function loadTensors(
  path: string,
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  const file = await readSafetensors(path);
  const host: [string, SafeTensor][] = Object.keys(file.tensors).map((k) => [k, file.tensors[k]]);
  // Convert everything first so that a bad I64 leaves no half-uploaded set of tensors behind.
  const ready = host.map(
    ([name, t]): [string, Float32Array | Int32Array, readonly number[], "f32" | "i32"] => {
      switch (t.dtype) {
        case "F32":
        case "F16":
        case "BF16":
          return [name, t.data, t.shape, "f32"];
        case "I32":
          return [name, t.data, t.shape, "i32"];
        case "U8":
          return [name, Int32Array.from(t.data), t.shape, "i32"];
        case "I64": {
          const out = new Int32Array(t.data.length);
          for (let i = 0; i < t.data.length; i++) {
            const v = t.data[i];
            if (v < -2147483648n || v > 2147483647n) {
              throw new SafetensorsError(path, `tensor '${name}' element ${i} = ${v} does not fit in i32`);
            }
            out[i] = Number(v);
          }
          return [name, out, t.shape, "i32"];
        }
      }
    },
  );
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const [name, data, shape, dtype] of ready) tensors[name] = tensor(data, shape, dtype);
  return { tensors, metadata: file.metadata };
}
