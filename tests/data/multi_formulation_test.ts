/** Multi-formulation decode/encode: exact values on hand examples, padding, order, differentiability. */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { setBackend, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import * as T from "../../engine/ops/mod.ts";
import { decode, decodeLabels, encode } from "../../data/multi_formulation.ts";

setBackend(gpu);

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= tol)) return false; // NaN fails
  return true;
}

/** PyTorch bilinear (align_corners false) 1-D weights from n to m samples, by the formula. */
function interp1d(v: number[], m: number): number[] {
  const n = v.length, scale = n / m;
  return Array.from({ length: m }, (_, d) => {
    const src = Math.max(0, (d + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), n - 1), i1 = Math.min(i0 + 1, n - 1);
    const t = src - i0;
    return v[i0] * (1 - t) + v[i1] * t;
  });
}

/** Separable bilinear upsampling of a square single-channel grid to side m. */
function upsample(grid: number[][], m: number): number[] {
  const rows = grid.map((r) => interp1d(r, m));
  const out: number[] = [];
  const cols = Array.from({ length: m }, (_, x) => interp1d(rows.map((r) => r[x]), m));
  for (let y = 0; y < m; y++) for (let x = 0; x < m; x++) out.push(cols[x][y]);
  return out;
}

Deno.test("multi-formulation: decode splits 2×2 cells (row-major, cell-major output) and upsamples bilinearly", async () => {
  const v = Array.from({ length: 16 }, (_, i) => i); // one 4×4 image, value = 4·row + col
  const out = await tidy(() => decode(tensor(v, [1, 4, 4, 1]), 2)).f32();
  ok(out.length === 4 * 16, `shape ${out.length}`);
  const cell = (i: number, j: number) => [0, 1].map((r) => [0, 1].map((c) => v[(2 * i + r) * 4 + 2 * j + c]));
  // Hand values of cell (0,0) = [[0,1],[4,5]]: first row 0, .25, .75, 1.
  ok(close(out.subarray(0, 4), [0, 0.25, 0.75, 1]), `cell 0 row 0: ${out.subarray(0, 4)}`);
  for (const [k, [i, j]] of [[0, 0], [0, 1], [1, 0], [1, 1]].entries()) {
    const want = upsample(cell(i, j), 4);
    ok(
      close(out.subarray(k * 16, (k + 1) * 16), want),
      `cell ${k}: ${out.subarray(k * 16, (k + 1) * 16)}`,
    );
  }
  // Several stored images: cell k of image n sits at row k·N + n.
  const two = await tidy(() => decode(tensor([...v, ...v.map((x) => -x)], [2, 4, 4, 1]), 2)).f32();
  ok(close(two.subarray(16, 32), upsample(cell(0, 0), 4).map((x) => -x)), "image 1, cell 0 at row 1");
  ok(close(two.subarray(32, 48), upsample(cell(0, 1), 4)), "image 0, cell 1 at row 2");
  ok(decodeLabels(Int32Array.from([3, 7]), 2).join() === "3,7,3,7,3,7,3,7", "labels repeat cell-major");
});

Deno.test("multi-formulation: odd sides are padded with the given value before splitting", async () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // 3×3 → padded 4×4, cells of 2×2, upsampled to 3×3
  const out = await tidy(() => decode(tensor(v, [1, 3, 3, 1]), 2, { padValue: -2 })).f32();
  ok(out.length === 4 * 9, `shape ${out.length}`);
  const want = upsample([[9, -2], [-2, -2]], 3); // cell (1,1)
  ok(close(out.subarray(27, 36), want), `cell 3: ${out.subarray(27, 36)} vs ${want}`);
  ok(close(out.subarray(0, 9), upsample([[1, 2], [4, 5]], 3)), "cell 0");
});

Deno.test("multi-formulation: encode stores each image as a 2×2-mean quadrant; decode is differentiable", async () => {
  // 4 full-size 4×4 images (cell-major for one stored image): image q has value 10·q + pixel.
  const imgs = Array.from({ length: 4 }, (_, q) => Array.from({ length: 16 }, (_, p) => 10 * q + p));
  const stored = await tidy(() => encode(tensor(imgs.flat(), [4, 4, 4, 1]), 2)).f32();
  const pooled = (q: number, y: number, x: number) =>
    (imgs[q][2 * y * 4 + 2 * x] + imgs[q][2 * y * 4 + 2 * x + 1] + imgs[q][(2 * y + 1) * 4 + 2 * x] +
      imgs[q][(2 * y + 1) * 4 + 2 * x + 1]) / 4;
  for (let q = 0; q < 4; q++) {
    const [i, j] = [Math.floor(q / 2), q % 2];
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 2; x++) {
        const got = stored[(2 * i + y) * 4 + 2 * j + x];
        ok(
          Math.abs(got - pooled(q, y, x)) < 1e-5,
          `quadrant ${q} (${y},${x}): ${got} vs ${pooled(q, y, x)}`,
        );
      }
    }
  }
  const g = tidy(() => {
    const x = tensor(imgs[0], [1, 4, 4, 1]).requireGrad();
    return grad(T.sum(T.square(decode(x, 2))), [x])[0];
  });
  const gv = await g.f32();
  ok(
    gv.every((e) => Number.isFinite(e)) && gv.some((e) => Math.abs(e) > 1e-3),
    "gradient reaches the stored image",
  );
});
