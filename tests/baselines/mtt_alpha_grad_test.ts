/**
 * MTT's learned student lr α: dL/dα through the unrolled student (second-order autodiff through conv,
 * instance norm, pooling and cross-entropy) against central finite differences of the trajectory loss.
 */
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, type Tensor, tensor, tidy } from "../../engine/tensor.ts";
import { grad } from "../../engine/autograd.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import { ConvNet, type ConvNetConfig } from "../../models/convnet.ts";
import type { ActKind } from "../../models/layers.ts";
import { type StudentOptions, trajectoryLoss } from "../../baselines/mtt.ts";

setBackend(gpu);

interface Probe {
  /** L(α) with the same student batches and augmentation draws at every α. */
  loss(alpha: number): Promise<number>;
  /** dL/dα by autodiff. */
  grad(alpha: number): Promise<number>;
  dispose(): void;
}

function probe(act: ActKind, depth: number, width: number, size: number, dsa: boolean): Probe {
  const cfg: ConvNetConfig = {
    channels: 1,
    classes: 10,
    imageSize: size,
    width,
    depth,
    norm: "instancenorm",
    act,
    pool: "avgpooling",
  };
  const net = new ConvNet(new Rng(4), cfg);
  const theta0 = net.parameters();
  const target = noGrad(() =>
    theta0.map((p, i) => T.add(p, new Rng(50 + i).normal(p.shape, 0, 0.05)).keep())
  );
  const images = noGrad(() => new Rng(6).normal([10, size, size, 1])).keep();
  const labels = Int32Array.from({ length: 10 }, (_, i) => i);
  const opts = (): StudentOptions => ({
    synSteps: 3,
    batchSyn: 5,
    dsa: dsa ? { strategy: ["color", "crop"], digits: true } : null,
    rng: new Rng(1),
  });
  const run = async (alpha: number, differentiate: boolean): Promise<number> => {
    const a = tensor([alpha], []);
    if (differentiate) a.requireGrad();
    const out = tidy(() => {
      const l = trajectoryLoss(cfg, theta0, target, images, labels, a, opts());
      return differentiate ? grad(l, [a])[0] : l.detach();
    });
    const v = await out.item();
    out.dispose();
    a.dispose();
    return v;
  };
  return {
    loss: (alpha) => run(alpha, false),
    grad: (alpha) => run(alpha, true),
    dispose: () => {
      [images, ...target].forEach((t: Tensor) => t.dispose());
      net.dispose();
    },
  };
}

/** Central differences of L at α for each step size. */
async function centralDifferences(p: Probe, alpha: number, steps: number[]): Promise<number[]> {
  const out: number[] = [];
  for (const eps of steps) out.push(((await p.loss(alpha + eps)) - (await p.loss(alpha - eps))) / (2 * eps));
  return out;
}

const relClose = (a: number, b: number, tol: number) =>
  Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= tol * Math.abs(b);

Deno.test("mtt: dL/dα matches finite differences with a smooth activation (SiLU, DSA on)", async () => {
  const p = probe("silu", 3, 4, 8, true);
  try {
    for (const alpha of [0.01, 0.1, 0.3]) {
      const [fd] = await centralDifferences(p, alpha, [1e-3]);
      const an = await p.grad(alpha);
      if (!relClose(an, fd, 5e-3)) throw new Error(`α ${alpha}: autodiff ${an} vs numeric ${fd}`);
    }
  } finally {
    p.dispose();
  }
});

Deno.test("mtt: dL/dα matches finite differences with ReLU, away from its kinks", async () => {
  // With ReLU, L(α) has kinks and small jumps wherever a pre-activation of an unrolled step changes
  // sign, and a central difference straddling one is meaningless. A point is taken as kink-free when
  // three step sizes agree (a kink or jump inside ±eps moves them apart); autodiff must match there.
  const p = probe("relu", 2, 2, 4, false);
  try {
    let checked = 0;
    const seen: string[] = [];
    for (const alpha of [0.05, 0.1, 0.2]) {
      const fds = await centralDifferences(p, alpha, [2e-3, 1e-3, 5e-4]);
      const an = await p.grad(alpha);
      seen.push(`α ${alpha}: autodiff ${an}, numeric ${fds.join(", ")}`);
      const mid = fds[1];
      if (!fds.every((f) => relClose(f, mid, 1e-3))) continue;
      checked++;
      if (!relClose(an, mid, 5e-3)) {
        throw new Error(`α ${alpha}: autodiff ${an} vs numeric ${fds.join(", ")}`);
      }
    }
    if (checked === 0) throw new Error(`no kink-free point to check:\n${seen.join("\n")}`);
  } finally {
    p.dispose();
  }
});
