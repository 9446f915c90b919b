/** Profiles: substitutions (always with a reason), epoch scaling, repeats, and `paper` never substituting. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { z } from "zod";
import { PROFILE_IDS, type ProfileDef, PROFILES } from "../../experiments/profiles.ts";
import { budgetEpochs, type CellPlan, resolveCell, resolveTable } from "../../experiments/resolve.ts";
import { scaleConfig } from "../../experiments/budget.ts";
import { widthCompensation } from "../../methods/budget.ts";
import { dmMethod } from "../../baselines/dm.ts";
import { mttMethod } from "../../baselines/mtt.ts";
import { findTable } from "../../experiments/registry.ts";
import type { CellSpec, TableSpec } from "../../experiments/schema.ts";
import type { Availability } from "../../data/types.ts";
import type { MethodDef } from "../../methods/types.ts";
import type { Profile } from "../../results/types.ts";
import { randomMethod } from "../../baselines/random.ts";
import { tinyTable } from "../runner/_fixtures.ts";

/** Only the embedded datasets are present, whatever this machine has. */
const embeddedOnly = (id: string): Availability =>
  ["mnist", "fashion-mnist"].includes(id)
    ? { available: true, location: "/x", reason: "embedded" }
    : { available: false, location: null, reason: `${id}: not found. Fix: download it` };

const igds1 = findTable("igds/table1")!;
/** Quick's evaluator epochs at IPC 1, 10, 50, 100 on a 10-class stand-in (experiments/README.md). */
const QUICK_EPOCHS = [300, 84, 34, 23];
const cellOf = (t: TableSpec, id: string): CellSpec => t.cells.find((c) => c.id === id)!;
const sub = (p: CellPlan, field: string) => p.resolved.substitutions.find((s) => s.field === field);

Deno.test("profiles: every substitution names a field and a reason", () => {
  for (const profile of PROFILE_IDS) {
    for (const p of resolveTable(igds1, profile, { availability: embeddedOnly })) {
      for (const s of p.resolved.substitutions) ok(s.field && s.reason.length > 10, JSON.stringify(s));
    }
  }
});

Deno.test("profiles: quick substitutes ImageWoof, ConvNet-6 and ResNets, with bounded epochs", () => {
  const conv6 = resolveCell(igds1, cellOf(igds1, "woof-ipc10-convnet6-random"), "quick", {
    availability: embeddedOnly,
  });
  ok(conv6.runnable, conv6.reason);
  eq([conv6.resolved.dataset, conv6.resolved.model], ["fashion-mnist", "convnet3-w32"]);
  eq(sub(conv6, "dataset")?.from, "imagewoof");
  // Depth follows the image size, then quick narrows the width: two recorded steps.
  eq(
    conv6.resolved.substitutions.filter((s) => s.field === "model").map((s) => [s.from, s.to]),
    [["convnet6", "convnet3"], ["convnet3", "convnet3-w32"]],
  );
  const e = conv6.protocol.epochs.default;
  ok(e >= 2 && e <= 300 && e < 2000, `quick epochs ${e}`);
  eq(sub(conv6, "protocol.epochs")?.from, 2000);
  eq([conv6.repeats, conv6.seeds], [2, [0, 1]]);
  eq(conv6.testLimit, 1000);

  const resnet = resolveCell(igds1, cellOf(igds1, "woof-ipc10-resnet18-random"), "quick", {
    availability: embeddedOnly,
  });
  eq(resnet.resolved.model, "convnet3-w32");
  ok(/too slow/.test(sub(resnet, "model")!.reason));
});

Deno.test("profiles: smoke runs 1–3 epochs once; proxy keeps ResNets; paper keeps everything", () => {
  const c = cellOf(igds1, "woof-ipc50-resnetap10-random");
  const smoke = resolveCell(igds1, c, "smoke", { availability: embeddedOnly });
  ok(smoke.protocol.epochs.default >= 1 && smoke.protocol.epochs.default <= 3);
  eq(smoke.resolved.model, "convnet3-w32");
  const conv = resolveCell(igds1, cellOf(igds1, "woof-ipc50-convnet6-random"), "proxy", {
    availability: embeddedOnly,
  });
  eq(conv.resolved.model, "convnet3"); // proxy keeps the papers' width
  eq(smoke.repeats, 1);
  const proxy = resolveCell(igds1, c, "proxy", { availability: embeddedOnly });
  eq([proxy.resolved.model, proxy.repeats], ["resnetap10", 3]);
  const all = () => ({ available: true, location: "/x", reason: "ok" });
  const paper = resolveCell(igds1, c, "paper", { availability: all });
  ok(paper.runnable);
  eq([paper.resolved.dataset, paper.resolved.model, paper.protocol.epochs.byIpc["50"]], [
    "imagewoof",
    "resnetap10",
    1500,
  ]);
  eq(paper.resolved.substitutions.map((s) => s.field), ["data.holdout"]);
  eq(paper.repeats, 5, "tables without a published repeat count get 5");
});

Deno.test("profiles: paper never substitutes data; a missing dataset makes the cell not runnable", () => {
  const p = resolveCell(igds1, cellOf(igds1, "woof-ipc10-convnet6-random"), "paper", {
    availability: embeddedOnly,
  });
  ok(!p.runnable);
  ok(/imagewoof/.test(p.reason!) && /Fix: download it/.test(p.reason!), p.reason);
  eq(p.resolved.dataset, "imagewoof");
});

Deno.test("profiles: unavailable models get stand-ins outside paper; measurement cells are not runnable", () => {
  const t4 = findTable("igds/table4")!;
  const c = t4.cells.find((x) => x.model === "resnet101")!;
  const rnd = { ...c, method: "random" };
  const proxy = resolveCell(t4, rnd, "proxy", { availability: embeddedOnly });
  eq(proxy.resolved.model, "resnet18");
  const paper = resolveCell(t4, rnd, "paper", {
    availability: () => ({ available: true, location: "/", reason: "" }),
  });
  ok(!paper.runnable && /resnet101/.test(paper.reason!));

  const timing = findTable("d3hr/table1")!.cells.find((x) => x.protocol === "sampling-time");
  const cost = findTable("cmi/table1")!.cells.find((x) => x.protocol === "distill-time");
  for (const cell of [timing, cost].filter((x) => x !== undefined)) {
    const r = resolveCell(igds1, { ...cell, method: "random", ipc: cell.ipc ?? 1 }, "quick", {
      availability: embeddedOnly,
    });
    ok(!r.runnable && /cost|measure|model/.test(r.reason!), r.reason);
  }
});

Deno.test("profiles: method config = scale(defaults ⊕ cell.config); scaled keys are recorded; bad config blocks", () => {
  const Cfg = z.object({ iterations: z.number().int(), lr: z.number() }).strict();
  type C = z.infer<typeof Cfg>;
  const fake: MethodDef<C> = {
    ...(randomMethod as unknown as MethodDef<C>),
    id: "fake",
    schema: Cfg,
    defaults: () => ({ iterations: 1000, lr: 0.1 }),
    scale: (c: C, { profile }) => (profile === "paper" ? c : { ...c, iterations: 10 }),
    scaleNotes: { iterations: "fewer iterations fit the budget" },
  };
  const opts = { findMethod: () => fake as unknown as MethodDef<Record<string, unknown>> };
  const t = tinyTable();
  const cell = { ...t.cells[0], method: "fake", config: { lr: 0.5 } };
  const quick = resolveCell(t, cell, "quick", opts);
  eq(quick.resolved.methodConfig, { iterations: 10, lr: 0.5 });
  eq(sub(quick, "method.iterations"), {
    field: "method.iterations",
    from: 1000,
    to: 10,
    reason: "quick profile: fewer iterations fit the budget",
  });
  const unnoted = { ...fake, scaleNotes: undefined } as unknown as MethodDef<Record<string, unknown>>;
  eq(
    sub(resolveCell(t, cell, "quick", { findMethod: () => unnoted }), "method.iterations")?.reason,
    "quick profile: the method's scale() changes its paper setting",
  );
  eq(resolveCell(t, cell, "paper", opts).resolved.methodConfig, { iterations: 1000, lr: 0.5 });
  const bad = resolveCell(t, { ...cell, config: { lr: "fast" } }, "quick", opts);
  ok(!bad.runnable && /lr/.test(bad.reason!), bad.reason);
});

Deno.test("profiles: user overrides apply after scale(), are recorded as the user's, and are validated", () => {
  const Cfg = z.object({ iterations: z.number().int(), lr: z.number() }).strict();
  type C = z.infer<typeof Cfg>;
  const fake: MethodDef<C> = {
    ...(randomMethod as unknown as MethodDef<C>),
    id: "fake",
    schema: Cfg,
    defaults: () => ({ iterations: 1000, lr: 0.1 }),
    scale: (c: C) => ({ ...c, iterations: Math.min(c.iterations, 10) }),
  };
  const t = tinyTable();
  const cell = { ...t.cells[0], method: "fake" };
  const resolve = (overrides: Record<string, Record<string, unknown>>) =>
    resolveCell(t, cell, "quick", {
      findMethod: () => fake as unknown as MethodDef<Record<string, unknown>>,
      overrides,
    });
  // Through cell.config the profile caps 300 to 10; an override is what runs.
  const swept = resolve({ fake: { iterations: 300 } });
  eq(swept.resolved.methodConfig, { iterations: 300, lr: 0.1 });
  eq(sub(swept, "method.iterations")?.to, 300);
  ok(/user/.test(sub(swept, "method.iterations")!.reason));
  eq(resolve({ other: { iterations: 300 } }).resolved.methodConfig.iterations, 10);
  const bad = resolve({ fake: { iterations: "many" } });
  ok(!bad.runnable && /override .*iterations/.test(bad.reason!), bad.reason);
  const typo = resolve({ fake: { iteration: 5 } });
  ok(!typo.runnable && /iteration/.test(typo.reason!), typo.reason);
  // A key the cell pins (a zero-iteration control) stays; the override's other keys still apply.
  const control = resolveCell(t, { ...cell, config: { iterations: 0 } }, "quick", {
    findMethod: () => fake as unknown as MethodDef<Record<string, unknown>>,
    overrides: { fake: { iterations: 300, lr: 0.3 } },
  });
  eq(control.resolved.methodConfig, { iterations: 0, lr: 0.3 });
});

Deno.test("profiles: a cell's `set` pins like --set under every profile, wins over it, and is validated", () => {
  const t = tinyTable();
  const base = { ...t.cells[0], method: "mtt", dataset: "mnist", ipc: 10 };
  const at = (cell: CellSpec, profile: Profile, overrides: Record<string, Record<string, unknown>> = {}) =>
    resolveCell(t, cell, profile, { availability: embeddedOnly, overrides });
  const arm = { ...base, id: "arm", set: { synSteps: 30, iterations: 60 } };
  // The same resolved config as the --set arm, so the two run the same computation.
  eq(
    at(arm, "quick").resolved.methodConfig,
    at(base, "quick", { mtt: { synSteps: 30, iterations: 60 } }).resolved.methodConfig,
  );
  eq(at(arm, "smoke").resolved.methodConfig.iterations, 60);
  ok(/pinned by the cell/.test(sub(at(arm, "quick"), "method.iterations")!.reason));
  // A user's --set cannot turn the arm into another arm; its other keys still apply.
  const both = at(arm, "quick", { mtt: { synSteps: 10, batchSyn: 20 } }).resolved.methodConfig;
  eq([both.synSteps, both.batchSyn], [30, 20]);
  const typo = at({ ...arm, set: { synStep: 30 } }, "quick");
  ok(!typo.runnable && /synStep/.test(typo.reason!), typo.reason);
});

Deno.test("profiles: a pinned key re-derives what the profile derives from it (image lr from steps, width)", () => {
  const t = tinyTable();
  const at = (method: string, overrides: Record<string, Record<string, unknown>> = {}) =>
    resolveCell(t, { ...t.cells[0], method, dataset: "mnist", ipc: 10 }, "quick", {
      availability: embeddedOnly,
      overrides,
    }).resolved.methodConfig;
  // MTT, MNIST IPC 10 (CIFAR-10's setting: 30 steps, lr 100): quick's 5 steps raise the lr 6×;
  // a pinned 30-step unroll runs at the paper's lr, a pinned 10 at 3×.
  eq([at("mtt").synSteps, at("mtt").lrImg], [5, 600]);
  eq([at("mtt", { mtt: { synSteps: 30 } }).synSteps, at("mtt", { mtt: { synSteps: 30 } }).lrImg], [30, 100]);
  eq(at("mtt", { mtt: { synSteps: 10 } }).lrImg, 300);
  // The start window follows pinned expert trajectories; a pinned lr still wins.
  eq(at("mtt", { mtt: { trainEpochs: 10 } }).maxStartEpoch, 9);
  eq(at("mtt", { mtt: { synSteps: 30, lrImg: 600 } }).lrImg, 600);
  // DM's width compensation follows a pinned width, through +cmi too (whose λ follows the lr raise).
  const dm = at("dm"), dm64 = at("dm", { dm: { width: 64 } });
  ok(Math.abs((dm64.lrImg as number) / (dm.lrImg as number) - 2 ** -0.75) < 1e-12, `${dm64.lrImg}`);
  const cmi = at("dm+cmi"), cmi64 = at("dm+cmi", { "dm+cmi": { width: 64 } });
  eq(cmi64.lrImg, dm64.lrImg);
  ok(Math.abs((cmi64.cmiLambda as number) / (cmi.cmiLambda as number) - 2 ** 0.75) < 1e-9);
});

Deno.test("profiles: the data are typed and documented", () => {
  for (const id of PROFILE_IDS) {
    eq(PROFILES[id].id, id);
    ok(PROFILES[id].description.length > 20);
  }
});

Deno.test("profiles: soft-kd teachers follow the model rules and get the profile's training budget", () => {
  const t = findTable("d3hr/table1")!;
  const cell = t.cells.find((c) => c.protocol === "d3hr")!;
  const quick = resolveCell(t, cell, "quick", { availability: embeddedOnly });
  const labels = quick.protocol.labels;
  ok(labels.kind === "soft-kd");
  eq([labels.teacher, labels.teacherEpochs, labels.teacherTrainLimit], ["convnet3-w32", 2, 5000]);
  eq(sub(quick, "protocol.labels.teacher")?.from, "resnet18-modified");
  eq(sub(quick, "protocol.labels.teacherTrainLimit")?.from, "all");
  const paper = resolveCell(t, cell, "paper", {
    availability: () => ({ available: true, location: "/x", reason: "" }),
  });
  const pl = paper.protocol.labels;
  ok(pl.kind === "soft-kd" && pl.teacher === "resnet18-modified" && pl.teacherTrainLimit === null);
  ok(!paper.resolved.substitutions.some((s) => s.field.startsWith("protocol.labels")));
});

Deno.test("profiles: budget rules give larger sets fewer epochs but never fewer images seen", () => {
  for (const profile of PROFILE_IDS) {
    const rule = PROFILES[profile].epochs;
    if (rule.kind !== "budget") continue;
    for (const batch of [64, 100, 128, 256]) {
      // Set sizes of the built-in tables: IPC 1…100 (IDC: f² per stored image) × 10 or 100 classes.
      const sizes = [
        ...new Set([1, 2, 5, 10, 20, 40, 50, 100, 200, 400].flatMap((ipc) => [ipc * 10, ipc * 100])),
      ]
        .sort((a, b) => a - b);
      const epochs = sizes.map((n) => budgetEpochs(rule, n, batch));
      for (let i = 1; i < sizes.length; i++) {
        const at = `${profile}, batch ${batch}: ${sizes[i - 1]} → ${sizes[i]} images`;
        ok(epochs[i] <= epochs[i - 1], `${at}: epochs ${epochs[i - 1]} → ${epochs[i]}`);
        // Whole epochs: the larger set may fall short by less than one of its epochs (a rounding step).
        ok(
          (epochs[i] + 1) * sizes[i] > epochs[i - 1] * sizes[i - 1],
          `${at}: images seen ${epochs[i - 1] * sizes[i - 1]} → ${epochs[i] * sizes[i]}`,
        );
      }
    }
  }
});

Deno.test("profiles: quick's evaluator sees more images and takes more steps as IGDS Table 1's IPC grows", () => {
  const runs = [1, 10, 50, 100].map((ipc) => {
    const plan = resolveCell(igds1, cellOf(igds1, `woof-ipc${ipc}-convnet6-random`), "quick", {
      availability: embeddedOnly,
    });
    const n = ipc * 10, batch = Math.min(plan.protocol.batchSize, n);
    const e = plan.protocol.epochs.default;
    return { ipc, epochs: e, images: e * n, steps: e * Math.ceil(n / batch) };
  });
  const rule = PROFILES.quick.epochs;
  if (rule.kind !== "budget") throw new Error("quick is a budget profile");
  for (let i = 1; i < runs.length; i++) {
    const [a, b] = [runs[i - 1], runs[i]];
    ok(b.epochs < a.epochs && b.images > a.images, JSON.stringify(runs));
  }
  for (const r of runs) ok(r.steps >= rule.minSteps, JSON.stringify(r));
  // The rule's own numbers, as experiments/README.md states them.
  eq(runs.map((r) => r.epochs), QUICK_EPOCHS);
});

Deno.test("profiles: --eval-epochs replaces the profile's epoch rule and is recorded", () => {
  const cell = cellOf(igds1, "woof-ipc10-convnet6-random");
  const plan = resolveCell(igds1, cell, "quick", { availability: embeddedOnly, evalEpochs: 300 });
  eq(plan.protocol.epochs.default, 300);
  eq(plan.protocol.evalEvery, 150); // quick's 2 evaluation points follow the new length
  const sub = plan.resolved.substitutions.find((s) => s.field === "protocol.epochs");
  ok(sub && sub.to === 300 && sub.reason.includes("--eval-epochs"), JSON.stringify(sub));
  const def = resolveCell(igds1, cell, "quick", { availability: embeddedOnly });
  ok(def.protocol.epochs.default !== 300, "without the flag quick's budget applies");
});

Deno.test("profiles: budgets count the images a method's set really has (IDC decodes f² per stored image)", () => {
  const cmi1 = findTable("cmi/table1")!;
  const plan = (id: string) => resolveCell(cmi1, cellOf(cmi1, id), "quick", { availability: embeddedOnly });
  const idc = plan("svhn-ipc10-convnet3-idc"), idcCmi = plan("svhn-ipc10-convnet3-idc+cmi");
  eq(idc.resolved.methodConfig.factor, 2);
  // 400 images (f = 2, IPC 10, 10 classes): ⌊3000 · 40^0.45 / 400⌋ = 39 epochs (IPC 10's 100 would get 84).
  eq([idc.protocol.batchSize, idc.protocol.epochs.default], [64, 39]);
  eq(idcCmi.protocol.epochs.default, 39, "+cmi forwards the base method's set size");
  // IDM's partition-and-expand (f = 2) under the DC protocol: 400 images, 2 batches of 256, 50 epochs.
  eq(plan("svhn-ipc10-convnet3-idm").protocol.epochs.default, 50);
  // DC-protocol rows of 100 plain images: one batch of 256 per epoch, so 100 epochs for 100 steps.
  eq(plan("svhn-ipc10-convnet3-dm").protocol.epochs.default, 100);
});

const everything = (): Availability => ({ available: true, location: "/x", reason: "" });

Deno.test("profiles: a cell's teacher, teacher ensemble and evaluator epochs reach its protocol (D³HR Tables 2, 4, A6, A8)", () => {
  // Table 2: the MobileNet-V2 teacher column. Kept where the model runs, a recorded ConvNet at quick.
  const t2 = findTable("d3hr/table2")!;
  const mbv2 = cellOf(t2, "in1k-ipc10-r18-tmbv2-d3hr");
  for (const [profile, availability] of [["paper", everything], ["proxy", embeddedOnly]] as const) {
    const l = resolveCell(t2, mbv2, profile, { availability }).protocol.labels;
    ok(l.kind === "soft-kd" && l.teacher === "mobilenetv2", `${profile}: teacher ${JSON.stringify(l)}`);
  }
  const quick = resolveCell(t2, mbv2, "quick", { availability: embeddedOnly });
  eq(sub(quick, "protocol.labels.teacher")?.from, "mobilenetv2");
  // Table A8: EfficientNet-B0 does not exist here: a recorded stand-in, never silently ResNet-18.
  const a8 = findTable("d3hr/tablea8")!;
  const eff = resolveCell(a8, cellOf(a8, "in1k-ipc10-r18-teffb0-d3hr"), "proxy", {
    availability: embeddedOnly,
  });
  const effSub = sub(eff, "protocol.labels.teacher");
  ok(effSub?.from === "efficientnet-b0" && effSub.to === "mobilenetv2", JSON.stringify(effSub));
  const effPaper = resolveCell(a8, cellOf(a8, "in1k-ipc10-r18-teffb0-d3hr"), "paper", {
    availability: everything,
  });
  ok(
    /efficientnet-b0/.test(effPaper.reason ?? ""),
    `paper: no EfficientNet-B0 teacher is a blocker (${effPaper.reason})`,
  );
  // Table 4: five teachers.
  const t4 = findTable("d3hr/table4")!;
  const five = resolveCell(t4, cellOf(t4, "in1k-ipc10-r18-d3hr-5t"), "paper", { availability: everything });
  ok(five.protocol.labels.kind === "soft-kd" && five.protocol.labels.teachers === 5, "Table 4: 5 teachers");
  // Table A6: 1000 epochs is the paper's setting for the cell; profiles scale from it.
  const a6 = findTable("d3hr/tablea6")!;
  const c = cellOf(a6, "c10-ipc50-r18-d3hr");
  eq(resolveCell(a6, c, "paper", { availability: everything }).protocol.epochs.default, 1000);
  eq(sub(resolveCell(a6, c, "proxy", { availability: embeddedOnly }), "protocol.epochs")?.from, 1000);
  // Table 1 (no evalEpochs) keeps Table A1's 400 on CIFAR.
  const t1 = findTable("d3hr/table1")!;
  eq(
    resolveCell(t1, cellOf(t1, "c10-ipc10-r18-d3hr"), "paper", { availability: everything }).protocol.epochs
      .default,
    400,
  );
});

Deno.test("profiles: a teacher on a hard-label protocol makes the cell not runnable", () => {
  const t = tinyTable();
  const cell = { ...t.cells[0], teacher: "convnet3" };
  const plan = resolveCell({ ...t, cells: [cell] }, cell, "smoke", { availability: embeddedOnly });
  ok(!plan.runnable && /hard labels/.test(plan.reason ?? ""), plan.reason);
});

Deno.test("profiles: a new profile is one data entry; every method's budget follows its knobs", () => {
  // No method names a profile: a profile only gives knob values, which each method maps onto its keys.
  const ci: ProfileDef = {
    ...PROFILES.quick,
    id: "ci",
    budget: { iterations: 3, width: 16, realBatch: 8, poolSize: 1, trainEpochs: 1, trainImages: 100 },
    tuned: {},
  };
  const dm = dmMethod.defaults("mnist", 10);
  const c = scaleConfig(dmMethod, dm, ci, 10);
  eq([c.iterations, c.width, c.batchReal], [3, 16, 8]);
  eq(c.lrImg, dm.lrImg * widthCompensation(128, 16), "the image lr follows the narrower net");
  const mtt = scaleConfig(mttMethod, mttMethod.defaults("mnist", 10), ci, 10);
  eq([mtt.iterations, mtt.numExperts, mtt.trainEpochs, mtt.expertTrainLimit], [3, 1, 1, 100]);
  eq([mtt.expertEpochs, mtt.maxStartEpoch], [1, 1], "the start window stays inside the shorter experts");
  // A pinned key wins, and what derives from it follows it.
  const pinned = scaleConfig(dmMethod, dm, ci, 10, { width: 64 });
  eq([pinned.width, pinned.lrImg], [64, dm.lrImg * widthCompensation(128, 64)]);
  // An empty budget (the paper profile) leaves every config as the paper's.
  eq(scaleConfig(dmMethod, dm, { ...ci, budget: {}, tuned: {} }, 10), dm);
});

Deno.test("profiles: no method module names a profile (their budgets are in experiments/profiles.ts)", async () => {
  for (const dir of ["baselines", "methods"]) {
    for await (const e of Deno.readDir(new URL(`../../${dir}/`, import.meta.url))) {
      if (!e.name.endsWith(".ts")) continue;
      const src = await Deno.readTextFile(new URL(`../../${dir}/${e.name}`, import.meta.url));
      // A branch on a profile id (`case "quick":`, `=== "smoke"`) or a lookup by profile; the foundation's
      // own training recipes (models/foundation.ts, e.g. "smoke") are not run profiles.
      for (const id of PROFILE_IDS) {
        const branch = new RegExp(`(case|[!=]==)\\s*"${id}"|"${id}"\\s*[!=]==`);
        ok(!branch.test(src), `${dir}/${e.name} branches on the ${id} profile`);
      }
      ok(!/\[(ctx\.)?profile\]/.test(src), `${dir}/${e.name} looks a value up by profile`);
    }
  }
});

Deno.test("profiles: quick skips an interior IPC of a row (IGDS Table 1's IPC 20), never a row's end", () => {
  const at = (ipc: number, t = igds1) =>
    resolveCell(t, cellOf(t, `woof-ipc${ipc}-convnet6-random`), "quick", { availability: embeddedOnly });
  const skipped = at(20);
  ok(
    !skipped.runnable && /IPC 20 is skipped between IPC 10 and 50/.test(skipped.reason ?? ""),
    skipped.reason,
  );
  for (const ipc of [1, 10, 50, 100]) ok(at(ipc).runnable, `IPC ${ipc}`);
  ok(
    resolveCell(igds1, cellOf(igds1, "woof-ipc20-convnet6-random"), "proxy", { availability: embeddedOnly })
      .runnable,
  );
  // Without a larger IPC in the row, IPC 20 is the curve's end and runs.
  const upTo20 = { ...igds1, cells: igds1.cells.filter((c) => (c.ipc ?? 0) <= 20) };
  ok(at(20, upTo20).runnable);
});
