import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { canonicalJson, contentKey } from "../../results/key.ts";
import { fakeResult } from "./_fixtures.ts";

Deno.test("canonicalJson: key order does not matter, nesting is sorted, undefined members dropped", () => {
  eq(
    canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: "x" } }),
    canonicalJson({ a: { c: "x", d: [1, { y: null, z: 0 }] }, b: 1 }),
  );
  eq(canonicalJson({ b: 1, a: [true, "s"] }), '{"a":[true,"s"],"b":1}');
  eq(canonicalJson({ a: undefined, b: -0 }), '{"b":0}');
});

Deno.test("canonicalJson: refuses values JSON would silently mangle", () => {
  throws(() => canonicalJson({ x: NaN }), (e) => e instanceof TypeError && e.message.includes("$.x"));
  throws(
    () => canonicalJson({ x: [1, undefined] }),
    (e) => e instanceof TypeError && e.message.includes("$.x[1]"),
  );
  throws(
    () => canonicalJson({ when: new Date(0) }),
    (e) => e instanceof TypeError && e.message.includes("non-plain"),
  );
  throws(() => canonicalJson(10n), TypeError);
});

Deno.test("contentKey: changes with config, code version, dataset, seed and repeat — not with key order", () => {
  const r = fakeResult({ cellId: "dm-10", acc: 50, methodConfig: { lr: 1, iters: 1000 } });
  const k = contentKey(r.resolved, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash);
  eq(k, r.key);
  ok(/^[0-9a-f]{64}$/.test(k));
  const reordered = { ...r.resolved, methodConfig: { iters: 1000, lr: 1 } };
  eq(contentKey(reordered, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash), k);
  const variants = [
    contentKey(
      { ...r.resolved, methodConfig: { lr: 2, iters: 1000 } },
      r.repeat,
      r.seed,
      r.codeVersion,
      r.datasetManifestHash,
    ),
    contentKey({ ...r.resolved, profile: "quick" }, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash),
    contentKey(r.resolved, r.repeat, r.seed, "m2", r.datasetManifestHash),
    contentKey(r.resolved, r.repeat, r.seed, r.codeVersion, "d2"),
    contentKey(r.resolved, r.repeat, r.seed + 1, r.codeVersion, r.datasetManifestHash),
    contentKey(r.resolved, r.repeat + 1, r.seed, r.codeVersion, r.datasetManifestHash),
  ];
  eq(new Set([k, ...variants]).size, variants.length + 1);
});

Deno.test("contentKey: ignores a substitution's prose reason, not what it substituted", () => {
  const sub = {
    field: "dataset",
    from: "cifar10",
    to: "fashion-mnist",
    reason: "CIFAR-10 is not on this machine",
  };
  const key = (s: typeof sub) => {
    const r = fakeResult({ cellId: "dm-10", acc: 50, substitutions: [s] });
    return contentKey(r.resolved, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash);
  };
  const k = key(sub);
  eq(key({ ...sub, reason: "reworded: no CIFAR-10 offline" }), k);
  ok(key({ ...sub, to: "mnist" }) !== k);
  ok(key({ ...sub, from: "svhn" }) !== k);
  ok(key({ ...sub, field: "model" }) !== k);
  ok(fakeResult({ cellId: "dm-10", acc: 50 }).key !== k);
});
