/** The distilled-set file: round trip, foreign dtypes, and clear errors naming the file. */
import { deepStrictEqual as eq, ok, rejects, throws } from "node:assert";
import {
  DistilledSetError,
  fitSetToDataset,
  loadDistilledSet,
  resizeSet,
  saveDistilledSet,
} from "../../runner/distilled_set.ts";
import { saveWithGrid } from "../../runner/pipeline.ts";
import { resize as cpuResize } from "../../engine/cpu/extended.ts";
import { CpuStorage, f32 } from "../../engine/cpu/storage.ts";
import { type SafeTensorInput, writeSafetensors } from "../../engine/safetensors.ts";
import type { DistilledSet } from "../../data/distilled.ts";
import { tempDir } from "./_fixtures.ts";

function set(n = 4, c = 1, side = 3): DistilledSet {
  return {
    images: Float32Array.from({ length: n * c * side * side }, (_, i) => i / 10 - 1),
    shape: [n, c, side, side],
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    softLabels: Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 ? 0.25 : 0.75)),
    meta: {
      method: "random",
      dataset: "mnist",
      ipc: 2,
      seed: 7,
      configHash: "abc",
      profile: "smoke",
      mean: Array(c).fill(0.1307),
      std: Array(c).fill(0.3081),
      createdAt: "2025-01-01T00:00:00.000Z",
      extra: { indices: "1,2,3,4" },
    },
  };
}

Deno.test("distilled set: save/load round trip keeps tensors and metadata", async () => {
  const dir = await tempDir();
  const s = set();
  await saveDistilledSet(`${dir}/a.safetensors`, s);
  const back = await loadDistilledSet(`${dir}/a.safetensors`);
  eq(back.shape, s.shape);
  eq(Array.from(back.images), Array.from(s.images));
  eq(Array.from(back.labels), Array.from(s.labels));
  eq(Array.from(back.softLabels!), Array.from(s.softLabels!));
  eq(back.meta, s.meta);
});

async function expectError(path: string, pattern: RegExp): Promise<void> {
  await rejects(loadDistilledSet(path), (e: unknown) => {
    ok(e instanceof DistilledSetError, String(e));
    ok(e.message.includes(path), `message names the file: ${e.message}`);
    ok(pattern.test(e.message), `${e.message} should match ${pattern}`);
    return true;
  });
}

Deno.test("distilled set: bad shapes, dtypes and metadata fail with the file and the problem", async () => {
  const dir = await tempDir();
  const meta = { dataset: "mnist", mean: "[0.5]", std: "[0.5]", ipc: "1" };
  const write = (name: string, t: Record<string, SafeTensorInput>, m: Record<string, string> = meta) =>
    writeSafetensors(`${dir}/${name}`, t, m).then(() => `${dir}/${name}`);
  const img = (shape: number[]) => ({
    dtype: "F32" as const,
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  const lab = (n: number) => ({ dtype: "I32" as const, shape: [n], data: new Int32Array(n) });

  await expectError(
    await write("nhwc.safetensors", { images: img([2, 5, 5, 1]), labels: lab(2) }),
    /5 channels.*NHWC/,
  );
  await expectError(
    await write("3d.safetensors", { images: img([2, 3, 3]), labels: lab(2) }),
    /\[N, C, H, W\]/,
  );
  await expectError(
    await write("nolab.safetensors", { images: img([2, 1, 3, 3]) }),
    /missing tensor 'labels'/,
  );
  await expectError(
    await write("count.safetensors", { images: img([2, 1, 3, 3]), labels: lab(3) }),
    /expected \[2\]/,
  );
  await expectError(
    await write("dtype.safetensors", {
      images: { dtype: "I32", shape: [1, 1, 1, 1], data: [1] },
      labels: lab(1),
    }),
    /dtype I32/,
  );
  await expectError(
    await write("nomean.safetensors", { images: img([2, 1, 3, 3]), labels: lab(2) }, {
      dataset: "mnist",
      ipc: "1",
    }),
    /'mean' is missing/,
  );
  await expectError(
    await write("extra.safetensors", { images: img([2, 1, 3, 3]), labels: lab(2), weights: img([1]) }),
    /unexpected tensor/,
  );
  await expectError(`${dir}/absent.safetensors`, /no such file/);
  await Deno.writeTextFile(`${dir}/junk.safetensors`, "not a safetensors file at all");
  await expectError(`${dir}/junk.safetensors`, /header/);
});

Deno.test("distilled set: PyTorch-style files (int64 labels, no ddrepro metadata) load with fallbacks", async () => {
  const dir = await tempDir();
  const path = `${dir}/torch.safetensors`;
  await writeSafetensors(path, {
    images: { dtype: "F16", shape: [2, 1, 2, 2], data: [0, 0.5, 1, -1, 0, 0, 0, 0] },
    labels: { dtype: "I64", shape: [2], data: [3, 4] },
  });
  const s = await loadDistilledSet(path, { dataset: "mnist", mean: [0.1307], std: [0.3081], ipc: 1 });
  eq(Array.from(s.labels), [3, 4]);
  eq(s.images[1], 0.5);
  eq([s.meta.dataset, s.meta.method, s.meta.profile], ["mnist", "unknown", "none"]);
});

Deno.test("resizeSet: equals the engine's bilinear resize (F.interpolate, align_corners=False) per plane", () => {
  const s = set(2, 3, 5);
  const out = resizeSet(s, 7, 4);
  eq(out.shape, [2, 3, 7, 4]);
  // Reference: the CPU backend's resize on NHWC with the N·C planes as a batch of one-channel images.
  const ref = cpuResize(new CpuStorage(s.images), {
    n: 6,
    h: 5,
    w: 5,
    c: 1,
    oh: 7,
    ow: 4,
    mode: "bilinear",
    alignCorners: false,
  });
  const want = f32(ref);
  for (let i = 0; i < want.length; i++) ok(Math.abs(out.images[i] - want[i]) <= 1e-6, `value ${i}`);
  eq(out.labels, s.labels);
});

Deno.test("fitSetToDataset: refuses what cannot be the dataset's; --resize resamples and is recorded", () => {
  const hard = (s: DistilledSet): DistilledSet => ({ ...s, softLabels: undefined });
  const ok28 = hard(set(2, 1, 28));
  eq(fitSetToDataset(ok28, "a.safetensors", { id: "mnist" }), { set: ok28, substitution: null });
  const big = hard(set(2, 1, 32));
  throws(() => fitSetToDataset(big, "b.safetensors", { id: "mnist" }), /b\.safetensors: images are 32×32/);
  const fitted = fitSetToDataset(big, "b.safetensors", { id: "mnist" }, { resize: true });
  eq(fitted.set.shape, [2, 1, 28, 28]);
  eq([fitted.substitution?.field, fitted.substitution?.from, fitted.substitution?.to], [
    "set.imageSize",
    "32×32",
    "28×28",
  ]);
  const soft = set(2, 1, 28); // its soft labels have 2 classes, MNIST 10
  throws(
    () => fitSetToDataset(soft, "c.safetensors", { id: "mnist" }),
    /'soft_labels' has 2 classes; mnist has 10/,
  );
});

Deno.test("saveWithGrid: the set is written before its PNG; dead writers' temp files are removed", async () => {
  const dir = await tempDir();
  const path = `${dir}/x.safetensors`;
  // A set path that cannot be written (a folder) fails before any PNG exists.
  await Deno.mkdir(path);
  await rejects(saveWithGrid(path, set()));
  ok(!(await Deno.stat(`${dir}/x.png`).then(() => true, () => false)), "no PNG without its set");
  await Deno.remove(path);
  // Leftovers of a writer killed mid-write (its pid no longer runs), and one of a live writer.
  const dead = await deadPid();
  const stale = [`${path}.${dead}.1a2b3c4d.tmp`, `${dir}/x.png.${dead}.tmp`];
  const live = `${path}.${Deno.pid}.99999999.tmp`;
  for (const f of [...stale, live]) {
    await Deno.writeTextFile(f, "partial");
    await Deno.utime(f, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  }
  const saved = await saveWithGrid(path, set());
  ok(saved.written);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  eq(names, ["x.png", "x.safetensors", `x.safetensors.${Deno.pid}.99999999.tmp`]);
});

async function deadPid(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
  await child.status;
  return child.pid;
}
