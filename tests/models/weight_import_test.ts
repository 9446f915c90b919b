/**
 * Importing PyTorch-layout weights into modules: a convolution written OIHW (as PyTorch stores it)
 * must compute, after import, what the same convolution computes in PyTorch's own NCHW/OIHW
 * convention (a TypeScript reference); 1×1-conv attention weights load into linear layers; and a
 * file that does not fit lists every missing, unexpected and mis-shaped tensor at once.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, type Tensor, tensor } from "../../engine/tensor.ts";
import { writeSafetensors } from "../../engine/safetensors.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { Conv2d, Linear } from "../../models/layers.ts";
import { Module } from "../../models/module.ts";
import { importWeights, openWeights, WeightImportError } from "../../models/weight_import.ts";
import { ordered, tensorOf, torchSave } from "./_torch_fixtures.ts";

setBackend(gpu);

const dir = await Deno.makeTempDir({ prefix: "dd-weight-import-" });

function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.round((((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1) * 64) / 64;
  });
}

/** conv (3 → 4, 3×3, pad 1) then a linear head over channels, as a tiny stand-in for the real models. */
class Tiny extends Module {
  readonly conv = this.child("conv", new Conv2d(new Rng(1), { cin: 3, cout: 4, kernel: 3, padding: 1 }));
  readonly attn = this.child("attn", new TinyAttention());
  forward(x: Tensor): Tensor {
    return this.attn.forward(this.conv.forward(x));
  }
}
class TinyAttention extends Module {
  readonly to_q = this.child("to_q", new Linear(new Rng(2), 4, 4));
  forward(x: Tensor): Tensor {
    return this.to_q.forward(T.reshape(x, [-1, x.shape[3]]));
  }
}

const CONV_W = values(4 * 3 * 3 * 3, 1), CONV_B = values(4, 2), Q_W = values(16, 3), Q_B = values(4, 4);

/** PyTorch's conv2d (NCHW input, OIHW weight, zero padding 1) then x·Wᵀ + b per pixel, in NHWC out. */
function reference(xNhwc: number[], h: number, w: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const conv: number[] = [];
      for (let o = 0; o < 4; o++) {
        let s = CONV_B[o];
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const yy = y + ky - 1, xx = x + kx - 1;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              s += CONV_W[((o * 3 + c) * 3 + ky) * 3 + kx] * xNhwc[(yy * w + xx) * 3 + c];
            }
          }
        }
        conv.push(s);
      }
      for (let o = 0; o < 4; o++) out.push(Q_B[o] + conv.reduce((s, v, i) => s + Q_W[o * 4 + i] * v, 0));
    }
  }
  return out;
}

async function check(path: string, prefix = "", aliases?: (t: string) => string[]): Promise<void> {
  const m = new Tiny();
  using src = await openWeights(path, prefix);
  const report = await importWeights(m, src, { label: "the tiny model", ...(aliases ? { aliases } : {}) });
  ok(report.tensors === 4 && report.elements === 108 + 4 + 16 + 4, `report ${JSON.stringify(report)}`);
  const sha = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
  ok(report.sha256 === Array.from(sha, (b) => b.toString(16).padStart(2, "0")).join(""), "file sha256");
  const h = 5, w = 4;
  const x = values(h * w * 3, 9);
  const y = noGrad(() => m.forward(tensor(x, [1, h, w, 3])));
  const got = await y.f32();
  const want = reference(x, h, w);
  ok(
    got.every((v, i) => Math.abs(v - want[i]) < 1e-4),
    `${path}: [${[...got].slice(0, 4)}] vs [${want.slice(0, 4)}]`,
  );
  m.dispose();
}

Deno.test("weight import: OIHW conv and linear weights from a torch.save file compute what PyTorch would", async () => {
  const path = `${dir}/tiny.pt`;
  await Deno.writeFile(
    path,
    await torchSave(ordered([
      ["conv.weight", tensorOf("float32", [4, 3, 3, 3], CONV_W)],
      ["conv.bias", tensorOf("float32", [4], CONV_B)],
      ["attn.to_q.weight", tensorOf("float32", [4, 4], Q_W)],
      ["attn.to_q.bias", tensorOf("float32", [4], Q_B)],
    ])),
  );
  await check(path);
});

Deno.test("weight import: safetensors, 1×1-conv attention weights under an old name, a nested prefix", async () => {
  const path = `${dir}/tiny.safetensors`;
  await writeSafetensors(path, {
    "ema.conv.weight": { dtype: "F16", shape: [4, 3, 3, 3], data: CONV_W },
    "ema.conv.bias": { dtype: "F32", shape: [4], data: CONV_B },
    "ema.attn.query.weight": { dtype: "F32", shape: [4, 4, 1, 1], data: Q_W },
    "ema.attn.query.bias": { dtype: "BF16", shape: [4], data: Q_B },
  });
  // Values are multiples of 1/64 in [-1, 1]: exact in f16 and bf16.
  await check(path, "ema.", (t) => [t, t.replace(".to_q.", ".query.")]);
});

Deno.test("weight import: a file that does not fit lists every problem before writing anything", async () => {
  const path = `${dir}/wrong.pt`;
  await Deno.writeFile(
    path,
    await torchSave(ordered([
      ["conv.weight", tensorOf("float32", [4, 3, 5, 5], values(300, 1))],
      ["attn.to_q.weight", tensorOf("float32", [4, 4], Q_W)],
      ["extra.thing", tensorOf("float32", [2], [1, 2])],
      ["num_batches", tensorOf("int64", [], [3])],
    ])),
  );
  const m = new Tiny();
  const before = await m.conv.weight.f32();
  using src = await openWeights(path);
  let err: unknown = null;
  try {
    await importWeights(m, src, { label: "the tiny model", ignore: (n) => n === "num_batches" });
  } catch (e) {
    err = e;
  }
  ok(err instanceof WeightImportError, `expected WeightImportError, got ${err}`);
  const msg = err.message;
  for (
    const part of [
      path,
      "missing (2): conv.bias [4]; attn.to_q.bias [4]",
      "unexpected (1): extra.thing [2]",
      "shape mismatch (1): conv.weight: the file has [4, 3, 5, 5], the tiny model needs [4, 3, 3, 3]",
    ]
  ) ok(msg.includes(part), `message lacks "${part}":\n${msg}`);
  const after = await m.conv.weight.f32();
  ok(after.every((v, i) => v === before[i]), "nothing may be written when the file does not fit");
  m.dispose();
});

Deno.test("weight import: cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
