/**
 * Soft-label knowledge distillation in the training loop: with a teacher, the loss is the KL to the
 * teacher's tempered softmax on each (augmented, CutMix'ed) batch, and training moves the student's
 * predictions onto the teacher's. Small 8 px inputs keep it fast; evaluate_test.ts runs the protocol.
 */
import { ok } from "node:assert";
import { gpu } from "../engine/helpers.ts";
import { noGrad, setBackend, tidy } from "../../engine/tensor.ts";
import { Rng } from "../../engine/random.ts";
import * as T from "../../engine/ops/mod.ts";
import * as E from "../../engine/expr.ts";
import { inp } from "../../engine/expr.ts";
import { createModel } from "../../models/registry.ts";
import { teacherLogits, trainClassifier } from "../../evaluator/train.ts";

Deno.test("kd: training on a teacher's tempered logits moves the student onto the teacher", async () => {
  setBackend(gpu);
  const rng = new Rng(11);
  const input = { channels: 1, classes: 10, imageSize: 8 };
  const teacher = createModel("convnet3", rng.fork(1), input).eval();
  const student = createModel("convnet3", rng.fork(2), input);
  const x = rng.normal([100, 8, 8, 1]).keep();
  const temperature = 4;
  const measure = async () => {
    student.eval();
    const [kl, agree] = noGrad(() =>
      tidy(() => {
        const s = student.forward(x), t = teacher.forward(x);
        return [
          T.klDivSoft(s, t, temperature),
          T.sumOf(E.bin("eq", inp(0), inp(1)), [T.argmax(s, -1), T.argmax(t, -1)]),
        ];
      })
    );
    const r = { kl: await kl.item(), agree: await agree.item() };
    kl.dispose();
    agree.dispose();
    student.train();
    return r;
  };
  const before = await measure();
  // The hard labels are deliberately wrong (all class 0): only the teacher can teach anything.
  await trainClassifier(student, { x, y: new Int32Array(100), teacher: { models: [teacher], temperature } }, {
    epochs: 20,
    batchSize: 50,
    optimizer: { kind: "adamw", lr: 0.003, weightDecay: 0.01 },
    decay: { kind: "none" },
    augment: { kind: "none", cutmix: { prob: 1, beta: 1 } },
    digits: true,
    rng: rng.fork(3),
  });
  const after = await measure();
  ok(after.kl < before.kl / 4, `KL to the teacher ${before.kl} → ${after.kl}`);
  ok(after.agree >= 80, `argmax agreement with the teacher ${before.agree} → ${after.agree} of 100`);
  [x, teacher, student].forEach((t) => t.dispose());
});

Deno.test("kd: an ensemble's target is the mean of the teachers' tempered softmax (D3S's averaged soft labels)", async () => {
  setBackend(gpu);
  const rng = new Rng(12);
  const input = { channels: 1, classes: 10, imageSize: 8 };
  const teachers = [1, 2, 3].map((k) => createModel("convnet3", rng.fork(k), input).eval());
  const x = rng.normal([6, 8, 8, 1]).keep();
  const temperature = 4;
  try {
    const [got, ...each] = await Promise.all(
      noGrad(() =>
        tidy(() => [
          T.softmax(T.mul(teacherLogits(teachers, x, temperature), 1 / temperature)),
          ...teachers.map((t) => T.softmax(T.mul(t.forward(x), 1 / temperature))),
        ])
      ).map(async (t) => {
        const v = await t.f32();
        t.dispose();
        return v;
      }),
    );
    let worst = 0;
    got.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - (each[0][i] + each[1][i] + each[2][i]) / 3));
    });
    ok(worst < 1e-5, `ensemble target differs from the mean soft label by ${worst}`);
    // The mean differs from any single teacher's, so averaging is not a no-op here.
    ok(got.some((v, i) => Math.abs(v - each[0][i]) > 1e-4), "the ensemble equals teacher 0");
    const one = await noGrad(() => teacherLogits([teachers[0]], x, temperature)).f32();
    const direct = await noGrad(() => teachers[0].forward(x)).f32();
    ok(one.every((v, i) => v === direct[i]), "one teacher: its own logits");
  } finally {
    [x, ...teachers].forEach((t) => t.dispose());
  }
});
