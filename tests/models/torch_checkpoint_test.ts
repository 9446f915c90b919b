/**
 * The PyTorch checkpoint reader on files in torch.save's exact byte format: one written by torch
 * 1.13 itself (fixtures/torch113_nested.pt, which the TypeScript fixture writer must reproduce byte
 * for byte), and variants from that writer — big-endian, zip64 extras, deflated entries — plus
 * malicious pickles that must be refused, truncated files and corrupted archives.
 */
import { ok } from "node:assert";
import {
  type HostTensor,
  readTorchCheckpoint,
  TorchCheckpoint,
  TorchCheckpointError,
} from "../../models/torch_checkpoint.ts";
import { PickleDict, PickleError, unpickle } from "../../models/restricted_unpickler.ts";
import {
  type FixtureStorage,
  type FixtureValue,
  ordered,
  PickleWriter,
  tensorOf,
  torchPickle,
  torchSave,
  torchSaveRaw,
  zipStored,
} from "./_torch_fixtures.ts";

const GOLDEN = new URL("./fixtures/torch113_nested.pt", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "dd-torch-ckpt-" });
let fileNo = 0;
async function write(bytes: Uint8Array, name = `f${fileNo++}.pt`): Promise<string> {
  const p = `${dir}/${name}`;
  await Deno.writeFile(p, bytes);
  return p;
}

async function expectError(
  p: Promise<unknown>,
  pattern: RegExp,
  what: string,
  path?: string,
): Promise<Error> {
  try {
    await p;
  } catch (e) {
    ok(e instanceof TorchCheckpointError, `${what}: expected TorchCheckpointError, got ${e}`);
    ok(pattern.test(e.message), `${what}: message "${e.message}" does not match ${pattern}`);
    if (path) ok(e.message.includes(path), `${what}: message "${e.message}" does not name ${path}`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** The object fixtures/make_torch_golden.py saves. */
function goldenObject(): FixtureValue {
  const w: FixtureStorage = { dtype: "float32", values: range(12, (i) => i / 8 - 0.75) };
  return {
    kind: "dict",
    items: [
      [
        "model",
        ordered([
          ["w", { kind: "tensor", storage: w, shape: [3, 4] }],
          ["wt", { kind: "tensor", storage: w, shape: [4, 3], stride: [1, 4] }],
          ["h", tensorOf("float16", [5], range(5, (i) => i / 4 - 1))],
          ["b", tensorOf("bfloat16", [2, 3], range(6, (i) => i / 2 - 1.5))],
          ["p", { ...tensorOf("float32", [2], [0, 1]), parameter: true }],
        ]),
      ],
      [
        "ema",
        ordered([
          ["ws", { kind: "tensor", storage: w, shape: [2, 2], stride: [4, 1], offset: 5 }],
          ["d", tensorOf("float64", [2], [0.1, -2.5])],
          ["i", tensorOf("int32", [3], [1, -2, 3])],
          ["l", tensorOf("int64", [], [-5])],
          ["u", tensorOf("uint8", [2], [0, 255])],
          ["q", tensorOf("bool", [2], [1, 0])],
        ]),
      ],
      ["step", 7],
    ],
  };
}

const W = range(12, (i) => i / 8 - 0.75);
const EXPECTED: Record<string, { dtype: "f32" | "i32"; source: string; shape: number[]; data: number[] }> = {
  "model.w": { dtype: "f32", source: "float32", shape: [3, 4], data: W },
  "model.wt": {
    dtype: "f32",
    source: "float32",
    shape: [4, 3],
    data: range(12, (i) => W[(i % 3) * 4 + Math.floor(i / 3)]),
  },
  "model.h": { dtype: "f32", source: "float16", shape: [5], data: [-1, -0.75, -0.5, -0.25, 0] },
  "model.b": { dtype: "f32", source: "bfloat16", shape: [2, 3], data: [-1.5, -1, -0.5, 0, 0.5, 1] },
  "model.p": { dtype: "f32", source: "float32", shape: [2], data: [0, 1] },
  "ema.ws": { dtype: "f32", source: "float32", shape: [2, 2], data: [W[5], W[6], W[9], W[10]] },
  "ema.d": { dtype: "f32", source: "float64", shape: [2], data: [Math.fround(0.1), -2.5] },
  "ema.i": { dtype: "i32", source: "int32", shape: [3], data: [1, -2, 3] },
  "ema.l": { dtype: "i32", source: "int64", shape: [], data: [-5] },
  "ema.u": { dtype: "i32", source: "uint8", shape: [2], data: [0, 255] },
  "ema.q": { dtype: "i32", source: "bool", shape: [2], data: [1, 0] },
};

function checkGolden(got: Map<string, HostTensor>, what: string): void {
  ok(
    [...got.keys()].join() === Object.keys(EXPECTED).join(),
    `${what}: names ${[...got.keys()]} (expected ${Object.keys(EXPECTED)})`,
  );
  for (const [name, e] of Object.entries(EXPECTED)) {
    const t = got.get(name)!;
    ok(t.dtype === e.dtype && t.source === e.source, `${what} ${name}: dtype ${t.dtype}/${t.source}`);
    ok(t.shape.join() === e.shape.join(), `${what} ${name}: shape [${t.shape}] vs [${e.shape}]`);
    ok(
      t.data.length === e.data.length && e.data.every((v, i) => Object.is(t.data[i], v)),
      `${what} ${name}: values [${[...t.data]}] vs [${e.data}]`,
    );
  }
}

Deno.test("torch checkpoint: the fixture writer reproduces torch 1.13's torch.save bytes exactly", async () => {
  const gold = await Deno.readFile(GOLDEN);
  const mine = await torchSave(goldenObject(), { archive: "torch113_nested" });
  ok(mine.length === gold.length, `length ${mine.length} vs torch's ${gold.length}`);
  const at = mine.findIndex((b, i) => b !== gold[i]);
  ok(at < 0, `first differing byte at ${at}`);
});

Deno.test("torch checkpoint: reads a file written by torch (dtypes, views, parameters, nested dicts)", async () => {
  checkGolden(await readTorchCheckpoint(GOLDEN), "torch-written file");
  using ckpt = await TorchCheckpoint.open(GOLDEN);
  ok(
    ckpt.archiveName === "torch113_nested" && ckpt.version === 3,
    `archive ${ckpt.archiveName} v${ckpt.version}`,
  );
  ok(ckpt.byteOrder === "little", "no byteorder record means little-endian");
});

Deno.test("torch checkpoint: torch ≥ 2.1 layout with a byteorder record, big-endian data, zip64 extras, deflate", async () => {
  for (
    const [what, opts] of [
      ["archive/ + byteorder little", { byteorder: "little" }],
      ["big-endian", { byteorder: "big" }],
      ["zip64 extra fields", { zip64Extras: true }],
      ["deflated entries", { deflate: true }],
    ] as const
  ) {
    const path = await write(await torchSave(goldenObject(), opts));
    checkGolden(await readTorchCheckpoint(path), what);
  }
});

Deno.test("torch checkpoint: a large non-contiguous view is materialised in row-major order", async () => {
  // A [5, 7, 3] storage viewed as a permuted, sliced [3, 4, 5] tensor.
  const s: FixtureStorage = { dtype: "float32", values: range(105, (i) => i) };
  const shape = [3, 4, 5], stride = [1, 3, 21], offset = 3;
  const path = await write(
    await torchSave(ordered([["v", { kind: "tensor", storage: s, shape, stride, offset }]])),
  );
  const t = (await readTorchCheckpoint(path)).get("v")!;
  const want: number[] = [];
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 4; b++) for (let c = 0; c < 5; c++) want.push(offset + a + 3 * b + 21 * c);
  }
  ok(
    t.shape.join() === "3,4,5" && want.every((v, i) => t.data[i] === v),
    `got [${[...t.data].slice(0, 8)}…]`,
  );
});

Deno.test("torch checkpoint: a module's state_dict() as torch saves it (OrderedDict with _metadata via BUILD)", async () => {
  using ckpt = await TorchCheckpoint.open(new URL("./fixtures/tiny_dit.pt", import.meta.url).pathname);
  const root = ckpt.root;
  ok(root instanceof PickleDict && root.attributes instanceof PickleDict, "state dict attributes");
  const meta = root.attributes.get("_metadata");
  ok(
    meta instanceof PickleDict && meta.get("") instanceof PickleDict,
    "_metadata holds per-module versions",
  );
  const names = [...ckpt.tensors().keys()];
  ok(names[0] === "pos_embed" && names.includes("blocks.1.adaLN_modulation.1.weight"), `names ${names}`);
});

// ---------------------------------------------------------------- malicious pickles

/** A checkpoint around a hand-made pickle (no storages). */
async function withPickle(build: (w: PickleWriter) => void): Promise<string> {
  const w = new PickleWriter();
  build(w);
  return await write(await torchSaveRaw({ pickle: w.bytes(), storages: [] }));
}

Deno.test("torch checkpoint: pickles that would run code are refused, naming the global", async () => {
  const cases: [string, (w: PickleWriter) => void, RegExp][] = [
    [
      "os.system via GLOBAL + REDUCE",
      (w) => w.proto(2).global("os", "system").tuple(1, () => w.str("touch /tmp/pwned")).reduce().stop(),
      /refusing the global os\.system/,
    ],
    [
      "builtins.eval",
      (w) => w.proto(2).global("builtins", "eval").tuple(1, () => w.str("1+1")).reduce().stop(),
      /refusing the global builtins\.eval/,
    ],
    [
      "posix.system via STACK_GLOBAL (protocol 4, framed)",
      (w) => {
        w.proto(4).raw(0x95, 30, 0, 0, 0, 0, 0, 0, 0);
        w.raw(0x8c, 5, ...new TextEncoder().encode("posix"), 0x94);
        w.raw(0x8c, 6, ...new TextEncoder().encode("system"), 0x94, 0x93, 0x94);
        w.raw(0x8c, 2, 0x69, 0x64, 0x94, 0x85, 0x94, 0x52, 0x94, 0x2e);
      },
      /refusing the global posix\.system/,
    ],
    [
      "an unknown class instantiated and given state (NEWOBJ + BUILD)",
      (w) =>
        w.proto(2).global("__main__", "Exploit").tuple(0, () => {}).raw(0x81).emptyDict()
          .str("cmd").str("rm -rf /").raw(0x73, 0x62).stop(),
      /refusing the global __main__\.Exploit/,
    ],
    [
      "state set on a list (BUILD)",
      (w) => w.proto(2).raw(0x5d).emptyDict().str("append").str("x").raw(0x73, 0x62).stop(),
      /BUILD .* is not allowed/,
    ],
    [
      "a dangerous global hidden inside a tensor's backward hooks",
      (w) =>
        w.proto(2).global("torch._utils", "_rebuild_parameter").tuple(3, () => {
          w.raw(0x4e).bool(true).global("subprocess", "Popen");
        }).reduce().stop(),
      /refusing the global subprocess\.Popen/,
    ],
    [
      "an extension-registry opcode",
      (w) => w.proto(2).raw(0x82, 1).stop(),
      /extension-registry opcode/,
    ],
    [
      "calling a storage class",
      (w) => w.proto(2).global("torch", "FloatStorage").tuple(0, () => {}).reduce().stop(),
      /torch\.FloatStorage: it cannot be called/,
    ],
    [
      "an unsupported storage type",
      (w) => w.proto(2).global("torch", "ComplexFloatStorage").stop(),
      /storage type not supported/,
    ],
  ];
  for (const [what, build, pattern] of cases) {
    const path = await withPickle(build);
    await expectError(TorchCheckpoint.open(path), pattern, what, path);
  }
  // Nothing ran: the payloads above would have created this file.
  ok(!(await Deno.stat("/tmp/pwned").then(() => true, () => false)), "a payload ran");
});

Deno.test("torch checkpoint: hostile nesting and sharing are bounded, not walked forever", async () => {
  // 60 levels of [x, x]: 2^60 paths if every shared list were named.
  const shared = await withPickle((w) => {
    w.proto(2).raw(0x5d); // []
    for (let i = 0; i < 60; i++) w.raw(0x32, 0x86); // DUP, TUPLE2 → (x, x)
    w.stop();
  });
  using a = await TorchCheckpoint.open(shared);
  let msg = "";
  try {
    a.tensors();
  } catch (e) {
    msg = String(e);
  }
  ok(/nests deeper than 100 levels or names more than/.test(msg), `shared: ${msg}`);
  const deep = await withPickle((w) => {
    w.proto(2);
    for (let i = 0; i < 200; i++) w.raw(0x5d); // 200 nested lists
    for (let i = 0; i < 199; i++) w.raw(0x61); // APPEND each into its parent
    w.stop();
  });
  using b = await TorchCheckpoint.open(deep);
  msg = "";
  try {
    b.tensors();
  } catch (e) {
    msg = String(e);
  }
  ok(/nests deeper than 100 levels/.test(msg), `deep: ${msg}`);
});

Deno.test("restricted unpickler: decodes protocol 0–5 data opcodes without any globals", () => {
  // {"a": [1, -2, 3.5, True, None, "é", b"\x01"], 300: (2**70, -1)} as Python 5 pickles it (hand-assembled).
  const w = new PickleWriter().proto(5).emptyDict().mark();
  w.raw(0x8c, 1, 0x61, 0x94).raw(0x5d, 0x94).mark().int(1).int(-2).raw(0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0)
    .bool(true).raw(0x4e).raw(0x8c, 2, 0xc3, 0xa9, 0x94).raw(0x43, 1, 1, 0x94).raw(0x65);
  w.int(300).raw(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40).raw(0x4a, 0xff, 0xff, 0xff, 0xff).raw(0x86, 0x94);
  w.raw(0x75).stop();
  const v = unpickle(w.bytes(), { globals: new Map() });
  ok(v instanceof Map && v.size === 2, "a dict of 2");
  const a = v.get("a") as unknown[];
  ok(
    a.length === 7 && a[0] === 1 && a[1] === -2 && a[2] === 3.5 && a[3] === true && a[4] === null,
    `list ${a}`,
  );
  ok(a[5] === "é" && (a[6] as Uint8Array)[0] === 1, "unicode and bytes");
  const t = v.get(300) as unknown[];
  ok(t[0] === 2n ** 70n && t[1] === -1 && Object.isFrozen(t), `tuple ${t}`);
  for (
    const [what, bytes, pattern] of [
      ["no STOP", [0x80, 2, 0x4b, 1], /without a STOP/],
      ["memo read before write", [0x80, 2, 0x68, 3, 0x2e], /memo entry 3/],
      ["string longer than the input", [0x80, 2, 0x58, 0xff, 0xff, 0, 0, 0x61], /truncated/],
      ["stack underflow", [0x80, 2, 0x86, 0x2e], /underflow/],
      ["unknown opcode", [0x80, 2, 0xff], /unknown opcode/],
      ["APPEND to a tuple", [0x80, 2, 0x29, 0x4b, 1, 0x61, 0x2e], /not a list/],
      ["bytes after STOP", [0x80, 2, 0x4e, 0x2e, 0x4e], /after STOP/],
    ] as const
  ) {
    let err: unknown = null;
    try {
      unpickle(Uint8Array.from(bytes), { globals: new Map(), source: "case.pkl" });
    } catch (e) {
      err = e;
    }
    ok(
      err instanceof PickleError && pattern.test(err.message) && err.message.includes("case.pkl"),
      `${what}: ${err}`,
    );
  }
});

// ---------------------------------------------------------------- damaged files

Deno.test("torch checkpoint: truncated files and corrupted archives give clear errors naming the file", async () => {
  const gold = await Deno.readFile(GOLDEN);
  for (const n of [0, 10, 100, gold.length >> 1, gold.length - 60, gold.length - 23, gold.length - 1]) {
    const path = await write(gold.subarray(0, n), `truncated-${n}.pt`);
    await expectError(readTorchCheckpoint(path), /truncated|too short/, `truncated to ${n} bytes`, path);
  }
  // A complete archive whose pickle stops short.
  const { pickle, storages } = torchPickle(goldenObject());
  const cut = await write(await torchSaveRaw({ pickle: pickle.subarray(0, 400), storages }));
  await expectError(TorchCheckpoint.open(cut), /data\.pkl: truncated/, "truncated pickle", cut);
  // Central directory: the first entry's signature, then an entry's local header offset.
  const cdOffset = new DataView(gold.buffer, gold.byteOffset).getUint32(gold.length - 6, true);
  const badSig = gold.slice();
  badSig[cdOffset] ^= 0xff;
  await expectError(
    readTorchCheckpoint(await write(badSig)),
    /central directory entry 0 .* corrupted/,
    "CD signature",
  );
  const badOffset = gold.slice();
  new DataView(badOffset.buffer).setUint32(cdOffset + 42, 0x7fffffff, true);
  await expectError(
    readTorchCheckpoint(await write(badOffset)),
    /overlaps the central directory/,
    "CD offset",
  );
  const badCount = gold.slice();
  new DataView(badCount.buffer).setBigUint64(gold.length - 98 + 32, 1000n, true); // zip64 entry count
  await expectError(
    readTorchCheckpoint(await write(badCount)),
    /entries cannot fit|corrupted/,
    "entry count",
  );
  // A flipped byte inside a storage fails its CRC when the tensor is read.
  const flip = gold.slice();
  const storage0 = findEntryData(gold, "torch113_nested/data/0");
  flip[storage0] ^= 0x40;
  await expectError(readTorchCheckpoint(await write(flip)), /CRC-32/, "flipped storage byte");
});

/** Offset of an entry's data in a torch-written zip (local header + name + extra). */
function findEntryData(zip: Uint8Array, name: string): number {
  const nameBytes = new TextEncoder().encode(name);
  for (let i = 0; i + 30 < zip.length; i++) {
    if (zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 3 && zip[i + 3] === 4) {
      const dv = new DataView(zip.buffer, zip.byteOffset + i);
      const n = dv.getUint16(26, true), x = dv.getUint16(28, true);
      if (n === nameBytes.length && nameBytes.every((b, k) => zip[i + 30 + k] === b)) return i + 30 + n + x;
    }
  }
  throw new Error(`no entry ${name}`);
}

Deno.test("torch checkpoint: inconsistent storages and views are rejected before reading out of range", async () => {
  const s: FixtureStorage = { dtype: "float32", values: range(6, (i) => i) };
  const cases: [string, FixtureValue, RegExp][] = [
    [
      "offset past the storage end",
      ordered([["x", { kind: "tensor", storage: s, shape: [2, 3], offset: 1 }]]),
      /reaches element 6/,
    ],
    [
      "strides past the storage end",
      ordered([["x", { kind: "tensor", storage: s, shape: [2, 2], stride: [5, 1] }]]),
      /reaches element 6/,
    ],
    ["i64 beyond i32", ordered([["x", tensorOf("int64", [1], [2 ** 40])]]), /does not fit in i32/],
  ];
  for (const [what, obj, pattern] of cases) {
    const path = await write(await torchSave(obj));
    await expectError(readTorchCheckpoint(path), pattern, what, path);
  }
  // The last element in range is fine: [2, 2] with strides [4, 1] ends at element 5.
  const edge = await write(
    await torchSave(ordered([["x", { kind: "tensor", storage: s, shape: [2, 2], stride: [4, 1] }]])),
  );
  const t = (await readTorchCheckpoint(edge)).get("x")!;
  ok([...t.data].join() === "0,1,4,5", `edge view: ${[...t.data]}`);
  // The persistent id's element count disagrees with the record's size.
  const { pickle } = torchPickle(ordered([["x", { kind: "tensor", storage: s, shape: [6] }]]));
  const lying = {
    pickle,
    storages: [{ key: "0", storage: { dtype: "float32" as const, values: range(5, (i) => i) } }],
  };
  const path = await write(await torchSaveRaw(lying));
  await expectError(TorchCheckpoint.open(path), /needs 24 bytes, its record holds 20/, "storage size", path);
  // A storage record that is missing altogether.
  const missing = await write(await torchSaveRaw({ pickle, storages: [] }));
  await expectError(TorchCheckpoint.open(missing), /has no record/, "missing storage", missing);
});

Deno.test("torch checkpoint: other files are named for what they are", async () => {
  const legacy = await write(
    Uint8Array.from([
      0x80,
      0x02,
      0x8a,
      0x0a,
      0x6c,
      0xfc,
      0x9c,
      0x46,
      0xf9,
      0x20,
      0x6a,
      0xa8,
      0x50,
      0x19,
      0x2e,
    ]),
  );
  await expectError(TorchCheckpoint.open(legacy), /legacy \(torch < 1\.6\)/, "legacy format", legacy);
  const notZip = await write(new TextEncoder().encode("hello, this is not a checkpoint at all"));
  await expectError(TorchCheckpoint.open(notZip), /not a zip archive/, "text file", notZip);
  const otherZip = await write(await zipStored([["readme.txt", new TextEncoder().encode("hi")]]));
  await expectError(TorchCheckpoint.open(otherZip), /not a torch\.save checkpoint/, "other zip", otherZip);
  const script = await write(
    await zipStored([["m/data.pkl", Uint8Array.from([0x80, 2, 0x4e, 0x2e])], [
      "m/constants.pkl",
      new Uint8Array(4),
    ]]),
  );
  await expectError(TorchCheckpoint.open(script), /TorchScript/, "TorchScript archive", script);
  // An entry compressed with a method other than deflate (bzip2 = 12), in both its headers.
  const bz = await torchSave(ordered([["x", tensorOf("float32", [1], [1])]]));
  const dv = new DataView(bz.buffer);
  dv.setUint16(8, 12, true); // the first local header: data.pkl
  const cd = dv.getUint32(bz.length - 6, true);
  dv.setUint16(cd + 10, 12, true);
  const bzPath = await write(bz);
  await expectError(
    TorchCheckpoint.open(bzPath),
    /data\.pkl" uses compression method 12/,
    "bzip2 entry",
    bzPath,
  );
});

Deno.test("torch checkpoint: cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
