/**
 * Evaluates a distilled set: trains a fresh network under the protocol and reports last-epoch test
 * accuracy, the best held-out accuracy with the test accuracy at that epoch (honest selection), and,
 * when the protocol tests every evaluation point (`testCurve`), the max test accuracy (only "as
 * published" for papers that report it). Otherwise the test split is passed twice per run: a test pass
 * of 10 000 images costs far more than a small set's training between two evaluation points.
 */
import type { Dataset } from "../data/types.ts";
import { Rng } from "../engine/random.ts";
import { backend, type Tensor } from "../engine/tensor.ts";
import { createModel } from "../models/registry.ts";
import type { Metrics } from "./metrics.ts";
import { epochsFor, type LabelSpec, optimizerFor } from "./protocols.ts";
import { pretrained } from "./pretrained.ts";
import type { Classifier } from "../models/module.ts";
import { accuracy, passesFor, trainClassifier } from "./train.ts";
import { HostImages, setForTraining, splitToDevice } from "./device_data.ts";
import type { CurvePoint, EvalRequest, EvalResult, HoldoutSplit } from "./types.ts";
import { loadOrFitZca, zcaEpsOf, zcaSplitToDevice, zcaToDevice } from "../data/zca.ts";
import { withoutHoldout } from "./holdout.ts";
import { type ModelSnapshot, restoreModel, snapshotModel } from "../models/checkpoint.ts";

interface DeviceSplit {
  x: Tensor;
  y: Int32Array;
}

// Test and held-out images stay on the device across repeats and cells of the same dataset.
const deviceCache = new Map<string, DeviceSplit>();

function cached(key: string, make: () => DeviceSplit): DeviceSplit {
  const k = `${backend().name}:${key}`;
  let v = deviceCache.get(k);
  if (!v || v.x.disposed) {
    v = make();
    v.x.keep();
    deviceCache.set(k, v);
  }
  return v;
}

export function evalSplits(
  dataset: Dataset,
  holdout: Int32Array,
  testLimit?: number,
): { hold: DeviceSplit; test: DeviceSplit } {
  const h = dataset.manifest.hash;
  const hold = cached(
    `${h}:holdout:${holdout.length}:${holdout[0] ?? 0}:${holdout[holdout.length - 1] ?? 0}`,
    () => splitToDevice(dataset, dataset.train, holdout),
  );
  const n = Math.min(testLimit ?? dataset.test.count, dataset.test.count);
  const test = cached(
    `${h}:test:${n}`,
    () => splitToDevice(dataset, dataset.test, Int32Array.from({ length: n }, (_, i) => i)),
  );
  return { hold, test };
}

/**
 * Held-out and test images in the space of a ZCA-whitened set (MTT's `--zca`): whitened with the
 * transform fitted on the training split the method saw (without the holdout), cached like the rest.
 */
export async function zcaSplits(
  dataset: Dataset,
  holdout: HoldoutSplit,
  eps: number,
  testLimit?: number,
): Promise<{ hold: DeviceSplit; test: DeviceSplit }> {
  const h = dataset.manifest.hash;
  const n = Math.min(testLimit ?? dataset.test.count, dataset.test.count);
  const keys = {
    hold: `${backend().name}:${h}:zca${eps}:holdout:${holdout.holdout.length}:${holdout.holdout[0] ?? 0}:` +
      `${holdout.holdout[holdout.holdout.length - 1] ?? 0}:${holdout.train.length}`,
    test: `${backend().name}:${h}:zca${eps}:${holdout.train.length}:test:${n}`,
  };
  const have = (k: string) => {
    const v = deviceCache.get(k);
    return v && !v.x.disposed ? v : undefined;
  };
  let hold = have(keys.hold), test = have(keys.test);
  if (!hold || !test) {
    const fit = await loadOrFitZca(withoutHoldout(dataset, holdout), { eps });
    const z = zcaToDevice(fit.transform);
    try {
      hold ??= await zcaSplitToDevice(z, dataset.train, holdout.holdout);
      test ??= await zcaSplitToDevice(z, dataset.test, Int32Array.from({ length: n }, (_, i) => i));
    } finally {
      z.dispose();
    }
    for (const [k, v] of [[keys.hold, hold], [keys.test, test]] as const) {
      v.x.keep();
      deviceCache.set(k, v);
    }
  }
  return { hold, test };
}

export async function evaluate(req: EvalRequest): Promise<EvalResult> {
  const t0 = performance.now();
  const { set, dataset, protocol } = req;
  const [, c, h] = set.shape;
  if (c !== dataset.info.shape.channels) {
    throw new Error(
      `distilled set has ${c} channels but ${dataset.info.id} has ${dataset.info.shape.channels}`,
    );
  }
  // A set distilled in ZCA-whitened space is tested in that space (MTT's --zca).
  const zcaEps = zcaEpsOf(set.meta.extra?.zca);
  const { hold, test } = zcaEps === null
    ? evalSplits(dataset, req.holdout.holdout, req.testLimit)
    : await zcaSplits(dataset, req.holdout, zcaEps, req.testLimit);
  if (zcaEps !== null && protocol.labels.kind === "soft-kd") {
    throw new Error(
      `this ${set.meta.method} set is ZCA-whitened (meta extra.zca "${set.meta.extra.zca}"), but protocol ` +
        `"${protocol.id}" relabels it with a teacher trained on normalised images; evaluate it with a ` +
        `hard-label protocol`,
    );
  }
  const teacher = protocol.labels.kind === "soft-kd"
    ? {
      models: await teachersFor(req, protocol.labels),
      temperature: protocol.labels.temperature,
    }
    : undefined;
  const rng = new Rng(req.seed);
  const model = createModel(req.model, rng.fork(1), {
    channels: c,
    classes: dataset.info.numClasses,
    imageSize: h,
  });
  const x = setForTraining(set);
  if (!(x instanceof HostImages)) x.keep();
  const epochs = passesFor(protocol.decay, epochsFor(protocol, set.meta.ipc > 0 ? set.meta.ipc : null));
  const curve: CurvePoint[] = [];
  // Without `testCurve`, evaluation points measure the holdout only; the test split is measured once
  // for the last weights and once for a snapshot of the best-holdout weights (when they differ).
  const testCurve = protocol.testCurve === true;
  const sel: { best: { point: CurvePoint; holdoutAcc: number; state: ModelSnapshot | null } | null } = {
    best: null,
  };
  const started = performance.now();
  try {
    await trainClassifier(model, { x, y: set.labels, ...(teacher ? { teacher } : {}) }, {
      epochs,
      batchSize: protocol.batchSize,
      optimizer: optimizerFor(protocol, set.meta),
      decay: protocol.decay,
      augment: protocol.augment,
      digits: dataset.info.digits,
      rng: rng.fork(2),
      signal: req.signal,
      lossEvery: protocol.evalEvery,
      onEpochEnd: async (epoch, loss) => {
        const last = epoch === epochs - 1;
        if ((epoch + 1) % protocol.evalEvery !== 0 && !last) return;
        const holdoutAcc = hold.y.length ? await accuracy(model, hold.x, hold.y) : undefined;
        const testAcc = testCurve || last ? await accuracy(model, test.x, test.y) : undefined;
        const point: CurvePoint = { epoch: epoch + 1, trainLoss: loss ?? NaN, holdoutAcc, testAcc };
        curve.push(point);
        if (!testCurve && holdoutAcc !== undefined && holdoutAcc > (sel.best?.holdoutAcc ?? -1)) {
          // The same rule as metricsFromCurve: the first point with the highest holdout accuracy.
          sel.best?.state?.dispose();
          sel.best = { point, holdoutAcc, state: last ? null : snapshotModel(model) };
        }
        const el = (performance.now() - started) / 1000;
        const eta = (el / (epoch + 1)) * (epochs - epoch - 1);
        const shown = testAcc !== undefined
          ? `test ${testAcc.toFixed(1)}%`
          : holdoutAcc !== undefined
          ? `holdout ${holdoutAcc.toFixed(1)}%`
          : "";
        req.progress?.update(
          epoch + 1,
          epochs,
          `epoch (loss ${loss?.toFixed(3)}, ${shown}, ETA ${eta.toFixed(0)}s)`,
        );
      },
    });
    if (sel.best?.state) {
      restoreModel(model, sel.best.state);
      sel.best.point.testAcc = await accuracy(model, test.x, test.y);
    }
  } finally {
    sel.best?.state?.dispose();
    x.dispose();
    model.dispose();
    teacher?.models.forEach((m) => m.dispose());
  }
  return { metrics: metricsFromCurve(curve), curve, seconds: (performance.now() - t0) / 1000, epochs };
}

/**
 * The KD teachers: trained by ddrepro on the training split without the holdout (whole-dataset recipe,
 * seeds 0…n−1, so every repeat and cell of a dataset shares them) and cached; see pretrained.ts.
 */
async function teachersFor(
  req: EvalRequest,
  labels: Extract<LabelSpec, { kind: "soft-kd" }>,
): Promise<Classifier[]> {
  const out: Classifier[] = [];
  try {
    for (let seed = 0; seed < (labels.teachers ?? 1); seed++) {
      out.push(
        await pretrained(
          {
            model: labels.teacher,
            dataset: req.dataset,
            epochs: labels.teacherEpochs,
            seed,
            pool: req.holdout.train,
            ...(labels.teacherTrainLimit !== null ? { trainLimit: labels.teacherTrainLimit } : {}),
          },
          req.progress,
          req.signal,
        ),
      );
    }
    return out;
  } catch (e) {
    out.forEach((m) => m.dispose());
    throw e;
  }
}

/**
 * The reported numbers from the evaluation points of one training run. `bestTestAcc` (the max over the
 * curve) only when every point was tested (the protocol's `testCurve`); with no holdout, the best
 * holdout point is the last one.
 */
export function metricsFromCurve(curve: readonly CurvePoint[]): Metrics {
  if (curve.length === 0) throw new Error("no evaluation points recorded");
  const last = curve[curve.length - 1];
  let best = curve.some((p) => p.holdoutAcc !== undefined) ? curve[0] : last;
  for (const p of curve) if ((p.holdoutAcc ?? -1) > (best.holdoutAcc ?? -1)) best = p;
  if (last.testAcc === undefined || best.testAcc === undefined) {
    throw new Error(`the last and the best-holdout evaluation points need a test accuracy`);
  }
  const clamp = (v: number) => Math.min(100, Math.max(0, v));
  const tested = curve.map((p) => p.testAcc);
  return {
    lastTestAcc: clamp(last.testAcc),
    bestHoldoutAcc: clamp(best.holdoutAcc ?? 0),
    testAccAtBestHoldout: clamp(best.testAcc),
    ...(tested.every((t) => t !== undefined)
      ? { bestTestAcc: clamp(Math.max(...(tested as number[]))) }
      : {}),
  };
}
