import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { decode } from "fast-png";
import { imageGridPng, imageGridRaster } from "../../data/png.ts";

Deno.test("png: an RGB grid decodes back with one row per class and exact pixel values", () => {
  // 4 images, 2 classes (labels out of order), 3×2×2; image i has constant value (i+1)/8 per channel ch·0.1 offset.
  const [n, c, h, w] = [4, 3, 2, 2];
  const data = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) data[(i * c + ch) * h * w + p] = (i + 1) / 8 + ch * 0.1;
    }
  }
  const labels = [1, 0, 1, 0];
  const png = imageGridPng(data, [n, c, h, w], { labels, padding: 1, background: 0 });
  const img = decode(png);
  eq([img.width, img.height, img.channels, img.depth], [1 + 2 * 3, 1 + 2 * 3, 3, 8]);
  const px = (x: number, y: number) =>
    Array.from(img.data.slice((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  const expect = (i: number) => [0, 1, 2].map((ch) => Math.round(data[(i * c + ch) * h * w] * 255));
  eq(px(1, 1), expect(1)); // row 0 = class 0: images 1, 3
  eq(px(4, 1), expect(3));
  eq(px(1, 4), expect(0)); // row 1 = class 1: images 0, 2
  eq(px(5, 5), expect(2));
  eq(px(0, 0), [0, 0, 0]); // padding
});

Deno.test("png: normalised grayscale images are de-normalised, clamped and upscaled", () => {
  // mean 0.5, std 0.25: stored −2 → 0, 0 → 0.5, 2 → 1, 10 → clamped to 1.
  const data = [-2, 0, 2, 10];
  const r = imageGridRaster(data, [4, 1, 1, 1], {
    classes: 2,
    normalization: { mean: [0.5], std: [0.25] },
    padding: 0,
    scale: 2,
  });
  eq([r.width, r.height, r.channels], [4, 4, 1]);
  eq(Array.from(r.data.slice(0, 4)), [0, 0, 128, 128]);
  eq(Array.from(r.data.slice(8, 12)), [255, 255, 255, 255]);
  const decoded = decode(
    imageGridPng(data, [4, 1, 1, 1], {
      classes: 2,
      normalization: { mean: [0.5], std: [0.25] },
      padding: 0,
      scale: 2,
    }),
  );
  eq(decoded.channels, 1);
  eq(Array.from(decoded.data), Array.from(r.data));
});

Deno.test("png: shape errors are explicit", () => {
  throws(
    () => imageGridRaster([0, 0], [1, 2, 1, 1]),
    (e) => e instanceof RangeError && e.message.includes("1 or 3 channels"),
  );
  throws(
    () => imageGridRaster([0, 0, 0], [2, 1, 1, 1]),
    (e) => e instanceof RangeError && e.message.includes("needs 2"),
  );
  throws(
    () => imageGridRaster([0, 0, 0], [3, 1, 1, 1], { classes: 2 }),
    (e) => e instanceof RangeError && e.message.includes("pass labels"),
  );
  ok(imageGridRaster([0, 0, 0, 0], [4, 1, 1, 1], { classes: 2, maxPerClass: 1, padding: 0 }).width === 1);
});
