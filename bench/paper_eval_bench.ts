/**
 * The wall time of a `paper`-protocol evaluation of a random MNIST IPC 1 set (DC protocol: ConvNet-3,
 * SGD 0.01 m0.9 wd 5e-4, batch 256 → all 10 images, DC augment, lr ×0.1 at half with an optimizer reset,
 * holdout every 50 epochs, test for the last and the best-holdout weights), and the same protocol in
 * PyTorch (bench/torch_paper_eval.py) timed beside it.
 *
 * A full run (1001 passes, 21 holdout points, 10 000 test images) takes minutes on a CPU, so both sides
 * run one tenth of it in the same proportions: the first 100 passes (decay at pass 50), holdout (500
 * images) at passes 50 and 100, and the test passes over 1000 of the test images. PyTorch runs as many
 * test passes as ddrepro did (one when the last point was the best).
 */
import type { WebGpuBackend } from "../engine/webgpu/backend.ts";
import { loadDataset } from "../data/registry.ts";
import { evaluate } from "../evaluator/evaluate.ts";
import { splitHoldout, withoutHoldout } from "../evaluator/holdout.ts";
import { protocolFor } from "../evaluator/protocols.ts";
import { randomMethod } from "../baselines/random.ts";
import { silentProgress } from "../data/progress.ts";

/** One tenth of the paper run: passes, evaluation cadence, holdout per class, test images. */
export const PAPER_EVAL_FRACTION = { passes: 100, evalEvery: 50, holdoutPerClass: 50, testImages: 1000 };

export async function paperEvalBench(
  b: WebGpuBackend,
): Promise<
  { paper_eval_ipc1_s: number; paper_eval_ipc1_test_passes: number } | { paper_eval_unavailable: string }
> {
  let mnist;
  try {
    mnist = await loadDataset("mnist");
  } catch (e) {
    return { paper_eval_unavailable: `MNIST not available: ${(e as Error).message.split("\n")[0]}` };
  }
  const f = PAPER_EVAL_FRACTION;
  const holdout = splitHoldout(mnist, f.holdoutPerClass, 0);
  const { set } = await randomMethod.distill({
    dataset: withoutHoldout(mnist, holdout),
    ipc: 1,
    seed: 0,
    config: {},
    profile: "paper",
    progress: silentProgress,
  });
  const protocol = protocolFor("dc", "mnist");
  protocol.epochs.default = f.passes - 1; // DC's loop makes E + 1 passes
  protocol.evalEvery = f.evalEvery;
  const req = { set, dataset: mnist, holdout, model: "convnet3", protocol, seed: 0, testLimit: f.testImages };
  // Warm-up (pipelines, device-resident splits) on a 2-pass run, then the timed one.
  await evaluate({ ...req, protocol: { ...protocol, epochs: { default: 1, byIpc: {} }, evalEvery: 1 } });
  await b.rt.sync();
  const t0 = performance.now();
  const r = await evaluate(req);
  await b.rt.sync();
  const s = (performance.now() - t0) / 1000;
  // Tested points: the last, and the best-holdout one when it came earlier.
  const testPasses = r.curve.filter((p) => p.testAcc !== undefined).length;
  return { paper_eval_ipc1_s: s, paper_eval_ipc1_test_passes: testPasses };
}

/** bench/torch_paper_eval.py: the same fraction of the same protocol in PyTorch. */
export async function torchPaperEval(
  testPasses: number,
): Promise<Record<string, number> | { torch_paper_eval_unavailable: string }> {
  const script = new URL("./torch_paper_eval.py", import.meta.url).pathname;
  const f = PAPER_EVAL_FRACTION;
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(py, {
        args: [
          script,
          "2",
          String(f.passes),
          String(f.evalEvery),
          String(10 * f.holdoutPerClass),
          String(f.testImages),
          String(testPasses),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.success) return JSON.parse(new TextDecoder().decode(out.stdout));
    } catch { /* not installed: try the next */ }
  }
  return { torch_paper_eval_unavailable: "no python3 with torch (Debian: apt-get install python3-torch)" };
}
