import { ok } from "node:assert";
import {
  cosineSchedule,
  dcSchedule,
  halfCosineSchedule,
  idcSchedule,
  lrAt,
  parseSchedule,
  resetsAt,
  type ScheduleConfig,
} from "../../engine/schedule.ts";

function assertNear(a: number, b: number, what: string, tol = 1e-12): void {
  if (!(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)))) throw new Error(`${what}: ${a} vs ${b}`);
}

Deno.test("schedule: DC step decay drops ×0.1 after pass ⌊E/2⌋+1 and resets the optimizer there", () => {
  const c = dcSchedule(0.01, 300); // passes 0…300, drop after pass 151
  assertNear(lrAt(c, 0), 0.01, "start");
  assertNear(lrAt(c, 151), 0.01, "the pass with index ⌊E/2⌋+1 still uses the base rate");
  assertNear(lrAt(c, 152), 0.001, "first decayed pass");
  assertNear(lrAt(c, 300), 0.001, "last pass");
  ok(resetsAt(c, 152) && !resetsAt(c, 151) && !resetsAt(c, 153) && !resetsAt(c, 0), "reset only at 152");
  const c1000 = dcSchedule(0.01, 1000);
  assertNear(lrAt(c1000, 501), 0.01, "E=1000 pass 501");
  assertNear(lrAt(c1000, 502), 0.001, "E=1000 pass 502");
});

Deno.test("schedule: IDC multistep at ⌊2E/3⌋ and ⌊5E/6⌋ with γ 0.2 (torch MultiStepLR)", () => {
  const c = idcSchedule(0.01, 1000); // milestones 666, 833
  assertNear(lrAt(c, 665), 0.01, "before first milestone");
  assertNear(lrAt(c, 666), 0.002, "at the first milestone");
  assertNear(lrAt(c, 832), 0.002, "before the second");
  assertNear(lrAt(c, 833), 0.0004, "at the second");
  assertNear(lrAt(c, 999), 0.0004, "last epoch");
  ok(!resetsAt(c, 666), "IDC keeps momentum");
  const r: ScheduleConfig = {
    kind: "multistep",
    lr: 0.01,
    milestones: [666, 833],
    gamma: 0.2,
    resetState: true,
  };
  ok(resetsAt(r, 666) && resetsAt(r, 833) && !resetsAt(r, 700), "resetState marks every milestone");
});

Deno.test("schedule: cosine (torch CosineAnnealingLR closed form) with warm-up and eta_min", () => {
  const c = cosineSchedule(0.1, 100);
  assertNear(lrAt(c, 0), 0.1, "start");
  assertNear(lrAt(c, 50), 0.05, "half way");
  assertNear(lrAt(c, 25), 0.1 * 0.5 * (1 + Math.SQRT1_2), "quarter");
  assertNear(lrAt(c, 100), 0, "end");
  assertNear(lrAt(c, 150), 0, "past the end stays at eta_min");
  const m = cosineSchedule(0.1, 100, { etaMin: 0.01 });
  assertNear(lrAt(m, 50), 0.055, "eta_min half way");
  assertNear(lrAt(m, 100), 0.01, "eta_min end");
  // SRe²L lr_cosine_policy: (t+1)/warmup during warm-up, then cosine over the remaining span.
  const w = cosineSchedule(0.25, 110, { warmup: 10 });
  assertNear(lrAt(w, 0), 0.025, "warm-up first");
  assertNear(lrAt(w, 9), 0.25, "warm-up last reaches lr");
  assertNear(lrAt(w, 10), 0.25, "cosine starts at lr");
  assertNear(lrAt(w, 60), 0.125, "cosine half way after warm-up");
});

Deno.test("schedule: RDED/D³HR half-cosine falls from lr to lr/2 over E epochs", () => {
  const c = halfCosineSchedule(0.001, 300);
  assertNear(lrAt(c, 0), 0.001, "start");
  assertNear(lrAt(c, 150), 0.001 * 0.5 * (1 + Math.SQRT1_2), "half way = 0.5(1 + cos(π/4))");
  assertNear(lrAt(c, 300), 0.0005, "end = lr/2");
  assertNear(lrAt(c, 100), 0.001 * 0.5 * (1 + Math.cos(Math.PI / 6)), "t = E/3");
  for (let t = 1; t <= 300; t++) ok(lrAt(c, t) < lrAt(c, t - 1), "monotone decreasing");
});

Deno.test("schedule: constant, validation of stored configs, bad t", () => {
  assertNear(lrAt({ kind: "constant", lr: 0.3 }, 12345), 0.3, "constant");
  const stored = JSON.parse(JSON.stringify(dcSchedule(0.01, 300)));
  assertNear(lrAt(parseSchedule(stored), 200), 0.001, "parsed config works");
  const bad: unknown[] = [
    { kind: "constant", lr: -1 },
    { kind: "cosine", lr: 0.1, total: 0, etaMin: 0, warmup: 0 },
    { kind: "multistep", lr: 0.1, milestones: [1.5], gamma: 0.1, resetState: false },
    { kind: "step", lr: 0.1, dropAfter: 3, gamma: 0.1 }, // resetState missing
    { kind: "half-cosine", lr: 0.1, total: 10, extra: 1 },
    { kind: "linear", lr: 0.1 },
  ];
  for (const b of bad) {
    let threw = false;
    try {
      parseSchedule(b);
    } catch {
      threw = true;
    }
    ok(threw, `rejected: ${JSON.stringify(b)}`);
  }
  for (const t of [-1, 0.5, NaN]) {
    let threw = false;
    try {
      lrAt({ kind: "constant", lr: 1 }, t);
    } catch {
      threw = true;
    }
    ok(threw, `t = ${t} rejected`);
  }
});
