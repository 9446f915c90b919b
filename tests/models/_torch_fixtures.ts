/**
 * Test fixtures: writes checkpoints byte for byte as `torch.save` does (torch 1.13: pickle protocol
 * 2 with Python's memoisation, a zip of stored entries aligned to 64 bytes with "FB" padding extras,
 * data descriptors, and zip64 end records), so the reader is tested on the official format without
 * Python. tests/models/torch_checkpoint_test.ts checks this writer against a file torch itself wrote.
 * Also raw pickle building blocks for malicious and malformed inputs.
 */
import { crc32 } from "node:zlib";
import { floatToBf16, floatToHalf } from "../../engine/safetensors.ts";

export type FixtureDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "uint8"
  | "bool";

const STORAGE_CLASS: Record<FixtureDType, string> = {
  float32: "FloatStorage",
  float64: "DoubleStorage",
  float16: "HalfStorage",
  bfloat16: "BFloat16Storage",
  int64: "LongStorage",
  int32: "IntStorage",
  uint8: "ByteStorage",
  bool: "BoolStorage",
};
const ELEMENT_BYTES: Record<FixtureDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

/** A storage's whole contents; tensors are views of it (share one object to share the storage). */
export interface FixtureStorage {
  dtype: FixtureDType;
  values: ArrayLike<number>;
}

export interface FixtureTensor {
  kind: "tensor";
  storage: FixtureStorage;
  shape: number[];
  /** Default: contiguous. */
  stride?: number[];
  offset?: number;
  /** Pickled as torch.nn.Parameter (`_rebuild_parameter`). */
  parameter?: boolean;
}

/** An OrderedDict (torch state dicts) or a plain dict; nested values as torch.save would meet them. */
export interface FixtureDict {
  kind: "ordered" | "dict";
  items: [string, FixtureValue][];
}

export type FixtureValue = FixtureTensor | FixtureDict | number | string | boolean;

export const contiguousStrides = (shape: readonly number[]) => {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
};

/** A contiguous tensor with its own storage. */
export function tensorOf(dtype: FixtureDType, shape: number[], values: ArrayLike<number>): FixtureTensor {
  return { kind: "tensor", storage: { dtype, values }, shape };
}

export const ordered = (items: [string, FixtureValue][]): FixtureDict => ({ kind: "ordered", items });

// ---------------------------------------------------------------- pickle writer

/** Emits pickle opcodes with Python's memo behaviour (BINPUT after each memoised object, BINGET on reuse). */
export class PickleWriter {
  private out: number[] = [];
  private memo = new Map<string, number>();

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  private le(v: number, n: number) {
    for (let i = 0; i < n; i++) this.out.push(Math.floor(v / 2 ** (8 * i)) & 0xff);
  }
  private put(key: string) {
    const i = this.memo.size;
    this.memo.set(key, i);
    if (i < 256) this.raw(0x71, i);
    else {
      this.raw(0x72);
      this.le(i, 4);
    }
  }
  /** BINGET if `key` was memoised; returns whether it was. */
  private get(key: string): boolean {
    const i = this.memo.get(key);
    if (i === undefined) return false;
    if (i < 256) this.raw(0x68, i);
    else {
      this.raw(0x6a);
      this.le(i, 4);
    }
    return true;
  }
  proto(v = 2): this {
    return this.raw(0x80, v);
  }
  global(module: string, name: string): this {
    if (this.get(`g:${module}.${name}`)) return this;
    this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    this.put(`g:${module}.${name}`);
    return this;
  }
  /** BINUNICODE; `shared` strings are one Python object (BINGET after the first time). */
  str(s: string, shared?: string): this {
    if (shared && this.get(`s:${shared}`)) return this;
    const b = new TextEncoder().encode(s);
    this.raw(0x58);
    this.le(b.length, 4);
    this.raw(...b);
    this.put(shared ? `s:${shared}` : `u:${this.memo.size}`);
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) {
      this.raw(0x4d);
      this.le(n, 2);
      return this;
    }
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.raw(0x4a);
      this.le(n >>> 0, 4);
      return this;
    }
    throw new Error("fixture ints beyond i32 are not needed");
  }
  bool(b: boolean): this {
    return this.raw(b ? 0x88 : 0x89);
  }
  mark(): this {
    return this.raw(0x28);
  }
  /** A tuple of items written by `items`: EMPTY_TUPLE, TUPLE1–3 or MARK … TUPLE, memoised. */
  tuple(n: number, items: () => void): this {
    if (n === 0) return this.raw(0x29);
    if (n > 3) this.mark();
    items();
    this.raw(n === 1 ? 0x85 : n === 2 ? 0x86 : n === 3 ? 0x87 : 0x74);
    this.put(`t:${this.memo.size}`);
    return this;
  }
  intTuple(xs: readonly number[]): this {
    return this.tuple(xs.length, () => xs.forEach((x) => this.int(x)));
  }
  emptyDict(): this {
    this.raw(0x7d);
    this.put(`d:${this.memo.size}`);
    return this;
  }
  reduce(): this {
    this.raw(0x52);
    this.put(`r:${this.memo.size}`);
    return this;
  }
  stop(): this {
    return this.raw(0x2e);
  }
  /** Dict items as Python's _batch_setitems writes them. */
  setItems(n: number, items: () => void): this {
    if (n === 0) return this;
    if (n > 1) this.mark();
    items();
    return this.raw(n > 1 ? 0x75 : 0x73);
  }
}

interface StorageRecord {
  key: string;
  storage: FixtureStorage;
}

/** The pickle of `obj` as torch.save writes it, and the storages it refers to (in key order). */
export function torchPickle(obj: FixtureValue): { pickle: Uint8Array; storages: StorageRecord[] } {
  const w = new PickleWriter().proto(2);
  const keys = new Map<FixtureStorage, string>();
  const emptyOrderedDict = () => w.global("collections", "OrderedDict").tuple(0, () => {}).reduce();
  const tensor = (t: FixtureTensor) => {
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.tuple(6, () => {
      let key = keys.get(t.storage);
      if (key === undefined) keys.set(t.storage, key = String(keys.size));
      w.tuple(5, () => {
        w.str("storage", "storage").global("torch", STORAGE_CLASS[t.storage.dtype]).str(key!, `key${key}`);
        w.str("cpu", "cpu").int(t.storage.values.length);
      });
      w.raw(0x51); // BINPERSID
      w.int(t.offset ?? 0).intTuple(t.shape).intTuple(t.stride ?? contiguousStrides(t.shape)).bool(false);
      emptyOrderedDict();
    });
    w.reduce();
  };
  const value = (v: FixtureValue): void => {
    if (typeof v === "number") w.int(v);
    else if (typeof v === "string") w.str(v);
    else if (typeof v === "boolean") w.bool(v);
    else if (v.kind === "tensor") {
      if (!v.parameter) return tensor(v);
      w.global("torch._utils", "_rebuild_parameter");
      w.tuple(3, () => {
        tensor(v);
        w.bool(true);
        emptyOrderedDict();
      });
      w.reduce();
    } else {
      if (v.kind === "ordered") emptyOrderedDict();
      else w.emptyDict();
      w.setItems(v.items.length, () => v.items.forEach(([k, x]) => (w.str(k), value(x))));
    }
  };
  value(obj);
  w.stop();
  const storages = [...keys].map(([storage, key]) => ({ key, storage }))
    // torch writes storage records in sorted (string) key order
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { pickle: w.bytes(), storages };
}

/** A storage's bytes as torch writes them (little-endian unless `bigEndian`). */
export function storageBytes(s: FixtureStorage, bigEndian = false): Uint8Array {
  const n = s.values.length, size = ELEMENT_BYTES[s.dtype];
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  const le = !bigEndian;
  for (let i = 0; i < n; i++) {
    const x = s.values[i], o = i * size;
    switch (s.dtype) {
      case "float32":
        dv.setFloat32(o, x, le);
        break;
      case "float64":
        dv.setFloat64(o, x, le);
        break;
      case "float16":
        dv.setUint16(o, floatToHalf(x), le);
        break;
      case "bfloat16":
        dv.setUint16(o, floatToBf16(x), le);
        break;
      case "int64":
        dv.setBigInt64(o, BigInt(x), le);
        break;
      case "int32":
        dv.setInt32(o, x, le);
        break;
      case "uint8":
      case "bool":
        dv.setUint8(o, x);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- zip writer (miniz as torch uses it)

export interface ZipOptions {
  /** Saturate the 32-bit central-directory fields and carry the values in zip64 extra fields. */
  zip64Extras?: boolean;
  /** Deflate entries (torch never does; re-zipping tools may). */
  deflate?: boolean;
}

export async function zipStored(files: [string, Uint8Array][], opts: ZipOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    pos += b.length;
  };
  const central: Uint8Array[] = [];
  for (const [name, raw] of files) {
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(raw) >>> 0;
    const data = opts.deflate ? await deflateRaw(raw) : raw;
    const offset = pos;
    // Local header + "FB" padding extra so the data starts on a 64-byte boundary.
    let pad = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    if (opts.deflate) pad = 0;
    const local = new Uint8Array(30 + nameBytes.length + (opts.deflate ? 0 : 4 + pad));
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(6, 0x0808, true);
    l.setUint16(8, opts.deflate ? 8 : 0, true);
    l.setUint16(26, nameBytes.length, true);
    l.setUint16(28, opts.deflate ? 0 : 4 + pad, true);
    local.set(nameBytes, 30);
    if (!opts.deflate) {
      l.setUint16(30 + nameBytes.length, 0x4246, true); // "FB"
      l.setUint16(32 + nameBytes.length, pad, true);
      local.fill(0x5a, 34 + nameBytes.length); // "Z"
    }
    push(local);
    push(data);
    const desc = new Uint8Array(16);
    const d = new DataView(desc.buffer);
    d.setUint32(0, 0x08074b50, true);
    d.setUint32(4, crc, true);
    d.setUint32(8, data.length, true);
    d.setUint32(12, raw.length, true);
    push(desc);
    const z64 = opts.zip64Extras;
    const cd = new Uint8Array(46 + nameBytes.length + (z64 ? 28 : 0));
    const c = new DataView(cd.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(8, 0x0808, true);
    c.setUint16(10, opts.deflate ? 8 : 0, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, z64 ? 0xffffffff : data.length, true);
    c.setUint32(24, z64 ? 0xffffffff : raw.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint16(30, z64 ? 28 : 0, true);
    c.setUint32(42, z64 ? 0xffffffff : offset, true);
    cd.set(nameBytes, 46);
    if (z64) {
      const e = 46 + nameBytes.length;
      c.setUint16(e, 1, true);
      c.setUint16(e + 2, 24, true);
      c.setBigUint64(e + 4, BigInt(raw.length), true);
      c.setBigUint64(e + 12, BigInt(data.length), true);
      c.setBigUint64(e + 20, BigInt(offset), true);
    }
    central.push(cd);
  }
  const cdOffset = pos;
  for (const cd of central) push(cd);
  const cdSize = pos - cdOffset;
  const n = files.length;
  const z64eocdOffset = pos;
  const tail = new Uint8Array(56 + 20 + 22);
  const t = new DataView(tail.buffer);
  t.setUint32(0, 0x06064b50, true);
  t.setBigUint64(4, 44n, true);
  t.setUint16(12, 0x031e, true);
  t.setUint16(14, 0x002d, true);
  t.setBigUint64(24, BigInt(n), true);
  t.setBigUint64(32, BigInt(n), true);
  t.setBigUint64(40, BigInt(cdSize), true);
  t.setBigUint64(48, BigInt(cdOffset), true);
  t.setUint32(56, 0x07064b50, true);
  t.setBigUint64(64, BigInt(z64eocdOffset), true);
  t.setUint32(72, 1, true);
  t.setUint32(76, 0x06054b50, true);
  const sat = opts.zip64Extras;
  t.setUint16(84, sat ? 0xffff : n, true);
  t.setUint16(86, sat ? 0xffff : n, true);
  t.setUint32(88, sat ? 0xffffffff : cdSize, true);
  t.setUint32(92, sat ? 0xffffffff : cdOffset, true);
  push(tail);
  const out = new Uint8Array(pos);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function deflateRaw(b: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export interface SaveOptions extends ZipOptions {
  /** The archive folder (torch uses the file's stem; torch ≥ 2 uses "archive"). */
  archive?: string;
  /** Write a `byteorder` record as torch ≥ 2.1 does ("little" or "big"). */
  byteorder?: "little" | "big";
}

/** The bytes of `torch.save(obj)` for a fixture object. */
export async function torchSave(obj: FixtureValue, opts: SaveOptions = {}): Promise<Uint8Array> {
  return await torchSaveRaw(torchPickle(obj), opts);
}

/** Same, from an already built pickle (e.g. a malicious one) and its storages. */
export async function torchSaveRaw(
  p: { pickle: Uint8Array; storages: StorageRecord[] },
  opts: SaveOptions = {},
): Promise<Uint8Array> {
  const name = opts.archive ?? "archive";
  const files: [string, Uint8Array][] = [[`${name}/data.pkl`, p.pickle]];
  if (opts.byteorder) files.push([`${name}/byteorder`, new TextEncoder().encode(opts.byteorder)]);
  for (const s of p.storages) {
    files.push([`${name}/data/${s.key}`, storageBytes(s.storage, opts.byteorder === "big")]);
  }
  files.push([`${name}/version`, new TextEncoder().encode("3\n")]);
  return await zipStored(files, opts);
}
