/** The distilled-set file: round trip, foreign dtypes, and clear errors naming the file. */
import { deepStrictEqual as eq, ok, rejects } from "node:assert";
import { DistilledSetError, loadDistilledSet, saveDistilledSet } from "../../runner/distilled_set.ts";
import { type SafeTensorInput, writeSafetensors } from "../../engine/safetensors.ts";
import type { DistilledSet } from "../../methods/types.ts";
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
