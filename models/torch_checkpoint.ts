/**
 * Reads PyTorch checkpoints (`torch.save`, zip format, torch ≥ 1.6) without Python and without
 * running code. The archive holds `<name>/data.pkl` (a pickle of the saved object), one entry
 * `<name>/data/<key>` per storage, `<name>/version` (or `.data/version`) and, since torch 2.1,
 * `<name>/byteorder`. The pickle is decoded by the restricted unpickler with an allowlist of
 * exactly what a state dict needs: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
 * `_rebuild_parameter(_with_state)` and the typed storage classes named in persistent ids; any other
 * global (a pickle that would run code, a custom class, numpy scalars) is refused by name.
 *
 * Tensors are references until read: `read(ref)` fetches its storage entry (seeking, CRC-checked),
 * validates offset/shape/stride against the storage size, materialises non-contiguous views, and
 * converts float dtypes to f32 and integer dtypes to i32 (range-checked).
 */
import { bf16ToFloat, halfToFloat } from "../engine/safetensors.ts";
import {
  type CallContext,
  describeValue,
  PickleDict,
  PickleError,
  PickleObject,
  type PickleValue,
  unpickle,
} from "./restricted_unpickler.ts";
import { ZipArchive, ZipError } from "./zip_archive.ts";

export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** The typed storage classes torch.save names in persistent ids, with their element types. */
export const STORAGE_TYPES: Readonly<Record<string, { dtype: TorchDType; bytes: number }>> = {
  "torch.FloatStorage": { dtype: "float32", bytes: 4 },
  "torch.DoubleStorage": { dtype: "float64", bytes: 8 },
  "torch.HalfStorage": { dtype: "float16", bytes: 2 },
  "torch.BFloat16Storage": { dtype: "bfloat16", bytes: 2 },
  "torch.LongStorage": { dtype: "int64", bytes: 8 },
  "torch.IntStorage": { dtype: "int32", bytes: 4 },
  "torch.ShortStorage": { dtype: "int16", bytes: 2 },
  "torch.CharStorage": { dtype: "int8", bytes: 1 },
  "torch.ByteStorage": { dtype: "uint8", bytes: 1 },
  "torch.BoolStorage": { dtype: "bool", bytes: 1 },
};

/** A decoded tensor on the host: float dtypes widened/narrowed to f32, integer ones to i32. */
export type HostTensor =
  | {
    readonly dtype: "f32";
    readonly shape: readonly number[];
    readonly data: Float32Array;
    readonly source: TorchDType;
  }
  | {
    readonly dtype: "i32";
    readonly shape: readonly number[];
    readonly data: Int32Array;
    readonly source: TorchDType;
  };

export class TorchCheckpointError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`PyTorch checkpoint ${source}: ${problem}`);
    this.name = "TorchCheckpointError";
  }
}

/** One storage record named by a persistent id; its bytes stay in the file until a tensor needs them. */
export class StorageRef extends PickleObject {
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly elementBytes: number,
    readonly numel: number,
  ) {
    super();
  }
  describe(): string {
    return `storage ${this.key} (${this.numel} × ${this.dtype})`;
  }
}

/** A tensor as pickled: a strided view of a storage. */
export class TensorRef extends PickleObject {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {
    super();
  }
  get dtype(): TorchDType {
    return this.storage.dtype;
  }
  get numel(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }
  describe(): string {
    return `a ${this.dtype} tensor of shape [${this.shape}]`;
  }
}

const REFUSAL =
  "a checkpoint may hold only tensors, their storages and (ordered) dicts, lists and numbers; " +
  "loading it would run code or build objects ddrepro does not trust";

const isInt = (v: PickleValue): v is number => typeof v === "number" && Number.isSafeInteger(v);
const intTuple = (v: PickleValue): v is readonly number[] => Array.isArray(v) && v.every(isInt);
const emptyDict = (v: PickleValue) => v === null || (v instanceof PickleDict && v.size === 0);

function rebuildTensor(args: readonly PickleValue[], ctx: CallContext): TensorRef {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.length !== 6 && args.length !== 7) ctx.fail(`expects 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride, requiresGrad, hooks, metadata] = args;
  if (!(storage instanceof StorageRef)) return ctx.fail(`storage argument is ${describeValue(storage)}`);
  if (!isInt(offset) || offset < 0) {
    return ctx.fail(`storage offset ${describeValue(offset)} is not an index`);
  }
  if (!intTuple(size) || size.some((d) => d < 0)) {
    return ctx.fail(`size ${describeValue(size)} is not a shape`);
  }
  if (!intTuple(stride) || stride.length !== size.length || stride.some((d) => d < 0)) {
    return ctx.fail(`stride ${describeValue(stride)} does not match size [${size}]`);
  }
  if (typeof requiresGrad !== "boolean") return ctx.fail("requires_grad is not a boolean");
  if (!emptyDict(hooks)) ctx.fail("the tensor carries backward hooks (code), which are refused");
  if (metadata !== undefined && !emptyDict(metadata)) ctx.fail("tensor metadata is not supported");
  return new TensorRef(storage, offset, [...size], [...stride], requiresGrad);
}

function rebuildParameter(args: readonly PickleValue[], ctx: CallContext, withState: boolean): TensorRef {
  // (data, requires_grad, backward_hooks[, state])
  if (args.length !== (withState ? 4 : 3)) {
    ctx.fail(`expects ${withState ? 4 : 3} arguments, got ${args.length}`);
  }
  const [data, , hooks, state] = args;
  if (!(data instanceof TensorRef)) return ctx.fail(`data argument is ${describeValue(data)}`);
  if (!emptyDict(hooks)) ctx.fail("the parameter carries backward hooks (code), which are refused");
  if (withState && !emptyDict(state)) ctx.fail("parameter attributes (state) are not supported");
  return data;
}

function orderedDict(args: readonly PickleValue[], ctx: CallContext): PickleDict {
  const d = new PickleDict();
  if (args.length === 0) return d;
  // OrderedDict([(k, v), …]) is legal pickle output too.
  const [items] = args;
  if (args.length !== 1 || !Array.isArray(items)) return ctx.fail("expects no arguments or a list of pairs");
  for (const kv of items as readonly PickleValue[]) {
    if (!Array.isArray(kv) || kv.length !== 2 || !(typeof kv[0] === "string" || isInt(kv[0]))) {
      return ctx.fail(`item ${describeValue(kv)} is not a (key, value) pair`);
    }
    d.set(kv[0] as string | number, kv[1]);
  }
  return d;
}

const ALLOWED_GLOBALS = new Map<
  string,
  { call?: (a: readonly PickleValue[], c: CallContext) => PickleValue }
>([
  ["collections.OrderedDict", { call: orderedDict }],
  ["torch._utils._rebuild_tensor_v2", { call: rebuildTensor }],
  ["torch._utils._rebuild_parameter", { call: (a, c) => rebuildParameter(a, c, false) }],
  ["torch._utils._rebuild_parameter_with_state", { call: (a, c) => rebuildParameter(a, c, true) }],
  // Storage classes are never called: they only mark a persistent id's element type.
  ...Object.keys(STORAGE_TYPES).map((k): [string, Record<string, never>] => [k, {}]),
]);

function refusal(qualname: string): string {
  if (/^torch\.\w+Storage$/.test(qualname)) {
    return `storage type not supported (supported: ${Object.keys(STORAGE_TYPES).join(", ")})`;
  }
  return REFUSAL;
}

const MAX_DEPTH = 100;
const MAX_VISITS = 10_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export class TorchCheckpoint implements Disposable {
  private cache: { key: string; bytes: Uint8Array } | null = null;

  private constructor(
    readonly path: string,
    private readonly zip: ZipArchive,
    /** The archive's folder name (the saved file's stem, or "archive"). */
    readonly archiveName: string,
    readonly version: number,
    readonly byteOrder: "little" | "big",
    /** The decoded object: a (nested) dict whose leaves include TensorRefs. */
    readonly root: PickleValue,
  ) {}

  static async open(path: string): Promise<TorchCheckpoint> {
    let zip: ZipArchive;
    try {
      zip = await ZipArchive.open(path);
    } catch (e) {
      if (!(e instanceof ZipError)) throw e;
      if (await isLegacyFormat(path)) {
        throw new TorchCheckpointError(
          path,
          "this is the legacy (torch < 1.6) serialization format; re-save it with a current torch.save",
        );
      }
      throw new TorchCheckpointError(path, e.problem);
    }
    try {
      return await TorchCheckpoint.decode(path, zip);
    } catch (e) {
      zip.close();
      if (e instanceof PickleError) throw new TorchCheckpointError(path, `data.pkl: ${e.problem}`);
      if (e instanceof ZipError) throw new TorchCheckpointError(path, e.problem);
      throw e;
    }
  }

  private static async decode(path: string, zip: ZipArchive): Promise<TorchCheckpoint> {
    const fail = (problem: string): never => {
      throw new TorchCheckpointError(path, problem);
    };
    const roots = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (roots.length !== 1) {
      fail(
        roots.length
          ? `${roots.length} data.pkl records (${roots.join(", ")}): ambiguous`
          : "no <name>/data.pkl record: this zip file is not a torch.save checkpoint",
      );
    }
    const name = roots[0].slice(0, -"/data.pkl".length);
    if (zip.entries.has(`${name}/constants.pkl`)) {
      fail("this is a TorchScript archive (torch.jit.save), not a torch.save state dict");
    }
    const readText = async (entry: string) => new TextDecoder().decode(await zip.read(entry)).trim();
    const versionEntry = [`${name}/.data/version`, `${name}/version`].find((e) => zip.entries.has(e));
    let version = 0;
    if (versionEntry) {
      const v = await readText(versionEntry);
      version = Number(v);
      if (!/^\d+$/.test(v) || version < 1) {
        fail(`${versionEntry} holds "${v.slice(0, 20)}", not a version number`);
      }
    }
    let byteOrder: "little" | "big" = "little";
    if (zip.entries.has(`${name}/byteorder`)) {
      const b = await readText(`${name}/byteorder`);
      if (b !== "little" && b !== "big") {
        fail(`${name}/byteorder holds "${b.slice(0, 20)}", not little or big`);
      }
      byteOrder = b as "little" | "big";
    }
    const storages = new Map<string, StorageRef>();
    const persistentLoad = (pid: PickleValue): StorageRef => {
      // ("storage", storage_type, key, location, numel)
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
        return fail(`persistent id ${describeValue(pid)} is not a storage record`);
      }
      const [, type, key, location, numel] = pid as readonly PickleValue[];
      const qual = typeof type === "object" && type !== null && "qualname" in type ? type.qualname : "";
      const info = Object.hasOwn(STORAGE_TYPES, qual) ? STORAGE_TYPES[qual] : undefined;
      if (!info) return fail(`persistent id names ${describeValue(type)}, not a storage type`);
      if (typeof key !== "string" || !/^[\w.-]+$/.test(key)) {
        return fail(`storage key ${describeValue(key)} is invalid`);
      }
      if (typeof location !== "string") return fail(`storage ${key} has location ${describeValue(location)}`);
      if (!isInt(numel) || numel < 0) return fail(`storage ${key} has size ${describeValue(numel)}`);
      const entry = zip.entries.get(`${name}/data/${key}`);
      if (!entry) return fail(`storage ${key} has no record ${name}/data/${key}`);
      if (entry.size !== numel * info.bytes) {
        fail(
          `storage ${key}: ${numel} × ${info.dtype} needs ${
            numel * info.bytes
          } bytes, its record holds ${entry.size}`,
        );
      }
      const seen = storages.get(key);
      if (seen) {
        if (seen.dtype !== info.dtype) fail(`storage ${key} is read as both ${seen.dtype} and ${info.dtype}`);
        return seen;
      }
      const ref = new StorageRef(key, info.dtype, info.bytes, numel);
      storages.set(key, ref);
      return ref;
    };
    const root = unpickle(await zip.read(`${name}/data.pkl`), {
      globals: ALLOWED_GLOBALS,
      refusal,
      persistentLoad,
      source: path,
    });
    return new TorchCheckpoint(path, zip, name, version, byteOrder, root);
  }

  /**
   * Every tensor in the decoded object, by dotted path: a plain state dict gives its own keys; a
   * nested one (`{"model": {…}, "ema": {…}}`) gives "model.…" and "ema.…"; list items are numbered.
   * Non-tensor leaves (epoch counters, strings) are skipped.
   */
  tensors(): Map<string, TensorRef> {
    const out = new Map<string, TensorRef>();
    const open = new Set<PickleValue>();
    // Bounds: a hostile pickle can nest deeply, or share one container many times so that naming
    // every path takes exponential time.
    let visits = 0;
    const walk = (v: PickleValue, prefix: string, depth: number) => {
      if (++visits > MAX_VISITS || depth > MAX_DEPTH) {
        throw new TorchCheckpointError(
          this.path,
          `the saved object nests deeper than ${MAX_DEPTH} levels or names more than ${MAX_VISITS} values`,
        );
      }
      if (v instanceof TensorRef) {
        if (out.has(prefix)) throw new TorchCheckpointError(this.path, `two tensors are named "${prefix}"`);
        out.set(prefix, v);
        return;
      }
      const children: [string, PickleValue][] = v instanceof PickleDict
        ? [...v].map(([k, c]) => [String(k), c])
        : Array.isArray(v)
        ? (v as readonly PickleValue[]).map((c, i) => [String(i), c])
        : [];
      if (!children.length) return;
      if (open.has(v)) {
        throw new TorchCheckpointError(this.path, `the container at "${prefix}" contains itself`);
      }
      open.add(v);
      for (const [k, c] of children) walk(c, prefix ? `${prefix}.${k}` : k, depth + 1);
      open.delete(v);
    };
    walk(this.root, "", 0);
    return out;
  }

  /** Reads one tensor: its storage record (CRC-checked), then the strided view, converted. */
  async read(ref: TensorRef, name = "tensor"): Promise<HostTensor> {
    const fail = (problem: string): never => {
      throw new TorchCheckpointError(this.path, `${name}: ${problem}`);
    };
    const { storage, shape, stride, offset } = ref;
    let numel = 1;
    for (const d of shape) {
      numel *= d;
      if (numel > 2 ** 31 - 1) fail(`shape [${shape}] has more than 2^31 − 1 elements`);
    }
    let last = offset;
    for (let i = 0; i < shape.length; i++) if (shape[i] > 0) last += (shape[i] - 1) * stride[i];
    if (numel > 0 && last >= storage.numel) {
      fail(
        `shape [${shape}] with strides [${stride}] at offset ${offset} reaches element ${last}, ` +
          `but storage ${storage.key} holds ${storage.numel}`,
      );
    }
    const bytes = numel ? await this.storageBytes(storage) : new Uint8Array(0);
    const table = indexTable(shape, stride, offset, numel);
    const at = table ? (i: number) => table[i] : (i: number) => offset + i;
    const n = bytes.byteLength;
    const src = ref.dtype;
    const f32 = (data: Float32Array): HostTensor => ({ dtype: "f32", shape, source: src, data });
    const i32 = (data: Int32Array): HostTensor => ({ dtype: "i32", shape, source: src, data });
    switch (src) {
      case "float32": {
        const v = new Float32Array(bytes.buffer, bytes.byteOffset, n / 4);
        if (!table && offset === 0 && numel === v.length && this.cache?.bytes === bytes) {
          // The tensor is its whole storage (the usual state-dict case): hand the buffer over, uncached.
          this.cache = null;
          return f32(v);
        }
        return f32(table ? copy(v, table, new Float32Array(numel)) : v.slice(offset, offset + numel));
      }
      case "float64":
        return f32(
          copyAt(new Float64Array(bytes.buffer, bytes.byteOffset, n / 8), at, new Float32Array(numel)),
        );
      case "float16":
      case "bfloat16": {
        const v = new Uint16Array(bytes.buffer, bytes.byteOffset, n / 2);
        const widen = src === "float16" ? halfToFloat : bf16ToFloat;
        const out = new Float32Array(numel);
        for (let i = 0; i < numel; i++) out[i] = widen(v[at(i)]);
        return f32(out);
      }
      case "int64": {
        const v = new BigInt64Array(bytes.buffer, bytes.byteOffset, n / 8);
        const out = new Int32Array(numel);
        for (let i = 0; i < numel; i++) {
          const x = v[at(i)];
          if (x < -2147483648n || x > 2147483647n) fail(`element ${i} = ${x} does not fit in i32`);
          out[i] = Number(x);
        }
        return i32(out);
      }
      case "int32":
        return i32(copyAt(new Int32Array(bytes.buffer, bytes.byteOffset, n / 4), at, new Int32Array(numel)));
      case "int16":
        return i32(copyAt(new Int16Array(bytes.buffer, bytes.byteOffset, n / 2), at, new Int32Array(numel)));
      case "int8":
        return i32(copyAt(new Int8Array(bytes.buffer, bytes.byteOffset, n), at, new Int32Array(numel)));
      case "uint8":
      case "bool":
        return i32(copyAt(bytes, at, new Int32Array(numel)));
    }
  }

  /** A storage record's bytes in host order (the last one is cached: views of one storage read it once). */
  private async storageBytes(s: StorageRef): Promise<Uint8Array> {
    if (this.cache?.key === s.key) return this.cache.bytes;
    let bytes: Uint8Array;
    try {
      bytes = await this.zip.read(`${this.archiveName}/data/${s.key}`);
    } catch (e) {
      if (e instanceof ZipError) throw new TorchCheckpointError(this.path, e.problem);
      throw e;
    }
    // A fresh, aligned buffer: typed views over it need element alignment.
    if (bytes.byteOffset % 8) bytes = bytes.slice();
    if ((this.byteOrder === "little") !== LITTLE_ENDIAN_HOST && s.elementBytes > 1) {
      bytes = bytes.slice();
      const w = s.elementBytes;
      for (let i = 0; i < bytes.length; i += w) bytes.subarray(i, i + w).reverse();
    }
    this.cache = { key: s.key, bytes };
    return bytes;
  }

  close(): void {
    this.cache = null;
    this.zip.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Storage index of each output element (row-major over `shape`); null when the view is contiguous. */
function indexTable(
  shape: readonly number[],
  stride: readonly number[],
  offset: number,
  numel: number,
): Float64Array | null {
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous || numel <= 1) return null;
  const table = new Float64Array(numel);
  const pos = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < numel; i++) {
    table[i] = at;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++pos[d] < shape[d]) {
        at += stride[d];
        break;
      }
      at -= (shape[d] - 1) * stride[d];
      pos[d] = 0;
    }
  }
  return table;
}

type Indexed = { readonly [i: number]: number };

function copy<O extends { [i: number]: number; length: number }>(
  src: Indexed,
  table: Float64Array,
  out: O,
): O {
  for (let i = 0; i < out.length; i++) out[i] = src[table[i]];
  return out;
}

function copyAt<O extends { [i: number]: number; length: number }>(
  src: Indexed,
  at: (i: number) => number,
  out: O,
): O {
  for (let i = 0; i < out.length; i++) out[i] = src[at(i)];
  return out;
}

async function isLegacyFormat(path: string): Promise<boolean> {
  try {
    using f = await Deno.open(path, { read: true });
    const head = new Uint8Array(LEGACY_MAGIC.length);
    let got = 0;
    while (got < head.length) {
      const n = await f.read(head.subarray(got));
      if (n === null) return false;
      got += n;
    }
    return LEGACY_MAGIC.every((b, i) => head[i] === b);
  } catch {
    return false;
  }
}

/** Opens a checkpoint, reads every tensor (by dotted name, see TorchCheckpoint.tensors), closes it. */
export async function readTorchCheckpoint(path: string): Promise<Map<string, HostTensor>> {
  using ckpt = await TorchCheckpoint.open(path);
  const out = new Map<string, HostTensor>();
  for (const [name, ref] of ckpt.tensors()) out.set(name, await ckpt.read(ref, name));
  return out;
}
