/**
 * Helper process for store_test.ts (not a test): puts rows in a tight loop and prints each key on
 * stdout only after put() returned, i.e. after the row's transaction committed. The test kills it
 * with SIGKILL at an arbitrary moment and checks that every printed key survived.
 */
import { openStore } from "../../results/store.ts";
import { fakeResult } from "./_fixtures.ts";

const path = Deno.args[0];
/** Distinguishes concurrent writers, so each one writes its own keys. */
const writer = Deno.args[1] ?? "w";
const store = openStore(path);
const encoder = new TextEncoder();
// Large-ish rows make it likely that the kill lands inside a write.
const padding = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i * 0.5]));
for (let i = 0;; i++) {
  const r = fakeResult({
    cellId: `${writer}-cell-${i % 7}`,
    acc: (i * 7) % 100,
    repeat: i,
    methodConfig: padding,
  });
  store.put(r);
  Deno.stdout.writeSync(encoder.encode(r.key + "\n"));
}
