import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { canonicalJson, contentKey } from "../../results/key.ts";
import { fakeResult } from "./_fixtures.ts";

Deno.test("canonicalJson: key order does not matter, nesting is sorted, undefined members dropped", () => {
  assertEquals(
    canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: "x" } }),
    canonicalJson({ a: { c: "x", d: [1, { y: null, z: 0 }] }, b: 1 }),
  );
  assertEquals(canonicalJson({ b: 1, a: [true, "s"] }), '{"a":[true,"s"],"b":1}');
  assertEquals(canonicalJson({ a: undefined, b: -0 }), '{"b":0}');
});

Deno.test("canonicalJson: refuses values JSON would silently mangle", () => {
  assertThrows(() => canonicalJson({ x: NaN }), TypeError, "$.x");
  assertThrows(() => canonicalJson({ x: [1, undefined] }), TypeError, "$.x[1]");
  assertThrows(() => canonicalJson({ when: new Date(0) }), TypeError, "non-plain");
  assertThrows(() => canonicalJson(10n), TypeError);
});

Deno.test("contentKey: changes with config, code version, dataset, seed and repeat — not with key order", () => {
  const r = fakeResult({ cellId: "dm-10", acc: 50, methodConfig: { lr: 1, iters: 1000 } });
  const k = contentKey(r.resolved, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash);
  assertEquals(k, r.key);
  assert(/^[0-9a-f]{64}$/.test(k));
  const reordered = { ...r.resolved, methodConfig: { iters: 1000, lr: 1 } };
  assertEquals(contentKey(reordered, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash), k);
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
  assertEquals(new Set([k, ...variants]).size, variants.length + 1);
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
  assertEquals(key({ ...sub, reason: "reworded: no CIFAR-10 offline" }), k);
  assert(key({ ...sub, to: "mnist" }) !== k);
  assert(key({ ...sub, from: "svhn" }) !== k);
  assert(key({ ...sub, field: "model" }) !== k);
  assert(fakeResult({ cellId: "dm-10", acc: 50 }).key !== k);
});
