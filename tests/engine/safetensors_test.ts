import { ok } from "node:assert";
import { cpu, gpu, rng } from "./helpers.ts";
import {
  bf16ToFloat,
  decodeSafetensors,
  encodeSafetensors,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  loadTensors,
  readSafetensors,
  type SafeTensorInput,
  SafetensorsError,
  saveTensors,
  writeSafetensors,
} from "../../engine/safetensors.ts";
import { setBackend, tensor } from "../../engine/tensor.ts";

/** Same values, treating NaN as equal to NaN and -0 as distinct from 0 (bit-faithful round trips). */
function assertSameValues(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>, what: string): void {
  ok(a.length === b.length, `${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    ok(Object.is(a[i], b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function expectError(fn: () => unknown, pattern: RegExp, what: string): SafetensorsError {
  try {
    fn();
  } catch (e) {
    ok(e instanceof SafetensorsError, `${what}: expected SafetensorsError, got ${e}`);
    ok(pattern.test(e.message), `${what}: message "${e.message}" does not match ${pattern}`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

/** A file from a header given as text and raw data bytes, exactly as the spec lays it out. */
function handBuilt(header: string, data: number[] | Uint8Array, lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32 = (x: number) => Math.fround(x);

const SAMPLE: Record<string, SafeTensorInput> = {
  weights: { dtype: "F32", shape: [2, 3], data: [1, -0, NaN, Infinity, -3.5, 1e-40].map(f32) },
  half: { dtype: "F16", shape: [5], data: [1, -2.5, 65504, 2 ** -24, -0] },
  brain: { dtype: "BF16", shape: [2, 2], data: [1, -3.140625, 2 ** -126, 2 ** 127] },
  ints: { dtype: "I32", shape: [3], data: Int32Array.from([-(2 ** 31), 0, 2 ** 31 - 1]) },
  longs: { dtype: "I64", shape: [3], data: BigInt64Array.from([-(2n ** 63n), 0n, 2n ** 63n - 1n]) },
  bytes: { dtype: "U8", shape: [2, 2, 2], data: Uint8Array.from([0, 1, 2, 127, 128, 200, 254, 255]) },
  empty: { dtype: "F32", shape: [0, 4], data: [] },
  scalar: { dtype: "I32", shape: [], data: [42] },
  // A legal tensor name that must not touch any prototype.
  ["__proto__"]: { dtype: "U8", shape: [1], data: [5] },
};

function checkSample(file: ReturnType<typeof decodeSafetensors>): void {
  const t = file.tensors;
  ok(Object.keys(t).length === Object.keys(SAMPLE).length, "tensor count");
  for (const [name, want] of Object.entries(SAMPLE)) {
    const got = t[name];
    ok(got.dtype === want.dtype, `${name} dtype ${got.dtype}`);
    ok(got.shape.join(",") === want.shape.join(","), `${name} shape ${got.shape}`);
    const expected = want.dtype === "I64" ? want.data as BigInt64Array : Array.from(
      want.data as ArrayLike<number>,
      (x) => (want.dtype === "U8" || want.dtype === "I32" ? x : f32(x)),
    );
    assertSameValues(got.data, expected, name);
  }
  ok(t.longs.data instanceof BigInt64Array, "I64 is a BigInt64Array");
  ok(t.bytes.data instanceof Uint8Array && t.ints.data instanceof Int32Array, "typed integer arrays");
  ok(
    t.half.data instanceof Float32Array && t.brain.data instanceof Float32Array,
    "halves widened to f32",
  );
}

Deno.test("safetensors: round trip of every dtype (bytes and file), metadata, alignment", async () => {
  const meta = { format: "pt", note: "ünïcödé ✓", ["__proto__"]: "kept as data" };
  const bytes = encodeSafetensors(SAMPLE, meta);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  ok((8 + n) % 8 === 0, "data section starts 8-byte aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, data_offsets } = e as { dtype: string; data_offsets: number[] };
    const size = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 }[dtype]!;
    ok(data_offsets[0] % size === 0, `${name} naturally aligned`);
  }
  const dec = decodeSafetensors(bytes);
  checkSample(dec);
  ok(dec.metadata.note === "ünïcödé ✓" && dec.metadata.format === "pt", "metadata");
  ok(
    Object.hasOwn(dec.metadata, "__proto__") && dec.metadata["__proto__"] === "kept as data",
    "__proto__ key",
  );
  // Encoding is deterministic: re-encoding the decoded file gives the same bytes.
  const again = encodeSafetensors(dec.tensors as Record<string, SafeTensorInput>, dec.metadata);
  assertSameValues(again, bytes, "re-encoded bytes");

  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sample.safetensors`;
    await writeSafetensors(path, SAMPLE, meta);
    checkSample(await readSafetensors(path));
    assertSameValues(await Deno.readFile(path), bytes, "file bytes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: half and bfloat16 conversions are exact and round to nearest even", () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = halfToFloat(h);
    if (Number.isNaN(x)) ok(Number.isNaN(halfToFloat(floatToHalf(x))), `NaN ${h}`);
    else ok(floatToHalf(x) === h, `half ${h.toString(16)} → ${x} → ${floatToHalf(x).toString(16)}`);
  }
  const halfCases: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], // tie → even mantissa
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
    [65519, 0x7bff],
    [65520, 0x7c00], // rounds to infinity
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [2 ** -25, 0x0000], // half the smallest subnormal: tie → 0
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie → 2
    [2 ** -26, 0],
    [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal rounds up into the normals
  ];
  for (const [x, h] of halfCases) {
    ok(floatToHalf(x) === h, `floatToHalf(${x}) = ${floatToHalf(x).toString(16)}`);
  }
  for (let h = 0; h < 0x10000; h++) {
    const x = bf16ToFloat(h);
    if (!Number.isNaN(x)) ok(floatToBf16(x) === h, `bf16 ${h.toString(16)}`);
  }
  ok(floatToBf16(1 + 2 ** -8) === 0x3f80, "bf16 tie → even");
  ok(floatToBf16(1 + 3 * 2 ** -8) === 0x3f82, "bf16 tie → even (up)");
  ok(Number.isNaN(bf16ToFloat(floatToBf16(NaN))), "bf16 NaN");
  ok(floatToBf16(3.4e38) === 0x7f80, "bf16 overflow → inf");
});

Deno.test("safetensors: a hand-built file following the spec byte by byte", () => {
  const header = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},' +
    '"z":{"dtype":"BF16","shape":[1,1],"data_offsets":[20,22]},"u":{"dtype":"U8","shape":[2],"data_offsets":[22,24]},' +
    '"i":{"dtype":"I32","shape":[],"data_offsets":[24,28]}}';
  const data = [
    0x00,
    0x00,
    0x80,
    0x3f,
    0x00,
    0x00,
    0x00,
    0xc0, // a = [1, -2] (f32 little endian)
    0xfe,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff, // b = [-2] (i64)
    0x00,
    0x3c,
    0x00,
    0xc1, // h = [1, -2.5] (f16)
    0x49,
    0x40, // z = [[3.140625]] (bf16 0x4049)
    0x07,
    0xff, // u = [7, 255]
    0x39,
    0x30,
    0x00,
    0x00, // i = 12345
  ];
  const f = decodeSafetensors(handBuilt(header, data), "hand.safetensors");
  ok(f.metadata.format === "pt", "metadata");
  assertSameValues(f.tensors.a.data, [1, -2], "a");
  assertSameValues(f.tensors.b.data, BigInt64Array.from([-2n]), "b");
  assertSameValues(f.tensors.h.data, [1, -2.5], "h");
  assertSameValues(f.tensors.z.data, [3.140625], "z");
  ok(f.tensors.z.shape.join() === "1,1", "z shape");
  assertSameValues(f.tensors.u.data, [7, 255], "u");
  assertSameValues(f.tensors.i.data, [12345], "i");
  ok(f.tensors.i.shape.length === 0, "scalar shape");

  // And the writer produces exactly the spec's layout for a one-tensor file.
  const enc = encodeSafetensors({ x: { dtype: "F32", shape: [1], data: [1] } });
  const json = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  assertSameValues(enc, handBuilt(json + " ".repeat(pad), [0x00, 0x00, 0x80, 0x3f]), "encoded bytes");
});

Deno.test("safetensors: every malformed case is a SafetensorsError naming the problem", async () => {
  const header = (dtype: string, shape: unknown, offs: unknown, extra = "") =>
    `{"t":{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${
      JSON.stringify(offs)
    }${extra}}}`;
  const d8 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /shorter than the 8-byte/],
    ["truncated length field", new Uint8Array(5), /shorter than the 8-byte/],
    ["truncated header", handBuilt(header("F32", [2], [0, 8]), d8).subarray(0, 30), /exceeds the \d+ bytes/],
    [
      "header length beyond file",
      handBuilt(header("F32", [2], [0, 8]), d8, 10_000n),
      /header length 10000 exceeds/,
    ],
    ["header length 2^64-1", handBuilt("{}", [], 2n ** 64n - 1n), /exceeds/],
    ["zero header length", handBuilt("", []), /too short/],
    ["bad JSON", handBuilt('{"t":{"dtype":"F32",', d8), /not valid JSON/],
    ["not starting with {", handBuilt(' {"a":1}', []), /does not start with/],
    ["JSON array", handBuilt("[1,2]", []), /does not start with/],
    ["invalid UTF-8", handBuilt('{"\xff"}', []).map((b, i) => (i === 10 ? 0xff : b)), /UTF-8/],
    ["unknown dtype", handBuilt(header("F64", [1], [0, 8]), d8), /unsupported dtype "F64"/],
    [
      "dtype not a string",
      handBuilt('{"t":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', d8.subarray(0, 4)),
      /dtype 4/,
    ],
    [
      "negative shape",
      handBuilt(header("F32", [-2], [0, 8]), d8),
      /shape \[-2\] is not a list of non-negative/,
    ],
    ["float shape", handBuilt(header("F32", [1.5], [0, 8]), d8), /shape \[1.5\]/],
    ["string shape", handBuilt(header("F32", "2", [0, 8]), d8), /shape "2"/],
    ["huge shape", handBuilt(header("F32", [2 ** 40, 2 ** 40], [0, 8]), d8), /needs more bytes/],
    ["offsets out of range", handBuilt(header("F32", [2], [4, 12]), d8), /exceed the 8-byte data section/],
    ["reversed offsets", handBuilt(header("F32", [0], [8, 0]), d8), /reversed/],
    ["one offset", handBuilt(header("F32", [2], [0]), d8), /data_offsets \[0\]/],
    ["negative offset", handBuilt(header("F32", [2], [-8, 0]), d8), /data_offsets/],
    [
      "size mismatch",
      handBuilt(header("F32", [3], [0, 8]), new Uint8Array(12)),
      /needs 12 bytes but data_offsets span 8/,
    ],
    [
      "overlapping offsets",
      handBuilt(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        new Uint8Array(12),
      ),
      /overlaps/,
    ],
    [
      "hole between tensors",
      handBuilt(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
        new Uint8Array(12),
      ),
      /hole/,
    ],
    [
      "trailing bytes (file size)",
      handBuilt(header("F32", [2], [0, 8]), new Uint8Array(12)),
      /file size is inconsistent/,
    ],
    ["unknown field", handBuilt(header("F32", [2], [0, 8], ',"extra":1'), d8), /unknown field 'extra'/],
    ["entry not an object", handBuilt('{"t":[1,2]}', []), /is not an object/],
    ["metadata not an object", handBuilt('{"__metadata__":"x"}', []), /__metadata__ is not an object/],
    ["metadata value not a string", handBuilt('{"__metadata__":{"k":1}}', []), /metadata value 'k'/],
  ];
  for (const [what, bytes, pattern] of cases) {
    const e = expectError(() => decodeSafetensors(bytes, "bad.safetensors"), pattern, what);
    ok(e.message.includes("bad.safetensors"), `${what}: message names the file`);
  }
  // The file reader validates the same way (and names the path).
  const dir = await Deno.makeTempDir();
  try {
    for (const [what, bytes, pattern] of cases) {
      const path = `${dir}/bad.safetensors`;
      await Deno.writeFile(path, bytes);
      let err: unknown = null;
      try {
        await readSafetensors(path);
      } catch (e) {
        err = e;
      }
      ok(err instanceof SafetensorsError, `file ${what}: got ${err}`);
      ok(pattern.test(err.message) && err.message.includes(path), `file ${what}: ${err.message}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: writer rejects bad input and writes atomically", async () => {
  expectError(
    () => encodeSafetensors({ t: { dtype: "F32", shape: [3], data: [1, 2] } }),
    /2 values for shape/,
    "count",
  );
  expectError(
    () => encodeSafetensors({ t: { dtype: "F32", shape: [-1], data: [] } }),
    /invalid shape/,
    "shape",
  );
  expectError(
    () => encodeSafetensors({ t: { dtype: "U8", shape: [1], data: [256] } }),
    /not an integer in/,
    "u8",
  );
  expectError(
    () => encodeSafetensors({ t: { dtype: "I32", shape: [1], data: [0.5] } }),
    /not an integer/,
    "i32",
  );
  expectError(
    () => encodeSafetensors({ t: { dtype: "I64", shape: [1], data: [2 ** 60] } }),
    /not an integer/,
    "i64",
  );
  expectError(
    () => encodeSafetensors({ __metadata__: { dtype: "U8", shape: [0], data: [] } }),
    /reserved/,
    "name",
  );
  expectError(
    () => encodeSafetensors({}, { k: 3 } as unknown as Record<string, string>),
    /metadata value 'k'/,
    "metadata",
  );

  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ckpt.safetensors`;
    await writeSafetensors(path, { a: { dtype: "F32", shape: [1], data: [1] } });
    await writeSafetensors(path, { a: { dtype: "F32", shape: [1], data: [2] } }); // replaces
    let failed = false;
    try {
      await writeSafetensors(path, { a: { dtype: "F32", shape: [2], data: [3] } });
    } catch (e) {
      failed = e instanceof SafetensorsError;
    }
    ok(failed, "bad write fails");
    assertSameValues(
      (await readSafetensors(path)).tensors.a.data,
      [2],
      "the old file survives a failed write",
    );
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    ok(names.length === 1 && names[0] === "ckpt.safetensors", `no temp files left: ${names}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: fuzzing a valid file yields only SafetensorsError", () => {
  const valid = encodeSafetensors(SAMPLE, { format: "pt" });
  const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
  const r = rng(20240601);
  let rejected = 0, accepted = 0;
  for (let it = 0; it < 4000; it++) {
    let bytes = valid.slice();
    const mode = it % 4;
    if (mode === 3) {
      // Truncate or extend.
      const len = Math.floor(r() * (valid.length + 16));
      const b = new Uint8Array(len);
      b.set(valid.subarray(0, Math.min(len, valid.length)));
      bytes = b;
    } else {
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) {
        // Mostly in the length field and header, where a flip changes the meaning of the file.
        const pos = mode === 0
          ? Math.floor(r() * 8)
          : mode === 1
          ? 8 + Math.floor(r() * n)
          : Math.floor(r() * bytes.length);
        bytes[pos] = r() < 0.5 ? bytes[pos] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      }
    }
    try {
      const f = decodeSafetensors(bytes, "fuzz");
      accepted++;
      // Anything accepted must be self-consistent.
      for (const t of Object.values(f.tensors)) {
        ok(t.data.length === t.shape.reduce((a, d) => a * d, 1), "accepted tensor is consistent");
      }
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`iteration ${it}: ${e instanceof Error ? e.stack : e}`);
      }
      rejected++;
    }
  }
  ok(
    rejected > 1000 && accepted > 30,
    `fuzz exercised both paths (rejected ${rejected}, accepted ${accepted})`,
  );
});

for (const [name, b] of [["cpu", cpu], ["webgpu", gpu]] as const) {
  Deno.test(`safetensors ${name}: saveTensors / loadTensors round trip device tensors`, async () => {
    setBackend(b);
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/model.safetensors`;
      const w = tensor([1.5, -2, 3.25, 0, 1e-3, 7], [2, 3]).keep();
      const y = tensor([3, 1, 4], [3], "i32").keep();
      await saveTensors(path, { "layer.weight": w, labels: y }, { step: "12" });
      w.dispose();
      y.dispose();
      const { tensors, metadata } = await loadTensors(path);
      ok(metadata.step === "12", "metadata");
      const lw = tensors["layer.weight"], ly = tensors.labels;
      ok(lw.dtype === "f32" && lw.shape.join() === "2,3", "weight dtype/shape");
      ok(ly.dtype === "i32" && ly.shape.join() === "3", "labels dtype/shape");
      assertSameValues(await lw.data(), Float32Array.from([1.5, -2, 3.25, 0, 1e-3, 7]), "weights");
      assertSameValues(await ly.data(), [3, 1, 4], "labels");
      Object.values(tensors).forEach((t) => t.dispose());

      // Foreign dtypes load as the engine's f32 / i32.
      await writeSafetensors(path, {
        h: { dtype: "F16", shape: [2], data: [0.5, -1] },
        u: { dtype: "U8", shape: [2], data: [9, 250] },
        l: { dtype: "I64", shape: [2], data: [-5, 2 ** 31 - 1] },
      });
      const foreign = (await loadTensors(path)).tensors;
      ok(foreign.h.dtype === "f32" && foreign.u.dtype === "i32" && foreign.l.dtype === "i32", "dtypes");
      assertSameValues(await foreign.h.data(), [0.5, -1], "f16");
      assertSameValues(await foreign.u.data(), [9, 250], "u8");
      assertSameValues(await foreign.l.data(), [-5, 2 ** 31 - 1], "i64");
      Object.values(foreign).forEach((t) => t.dispose());

      await writeSafetensors(path, {
        l: { dtype: "I64", shape: [1], data: BigInt64Array.from([2n ** 40n]) },
      });
      let err: unknown = null;
      try {
        await loadTensors(path);
      } catch (e) {
        err = e;
      }
      ok(err instanceof SafetensorsError && /does not fit in i32/.test(err.message), `i64 range: ${err}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
