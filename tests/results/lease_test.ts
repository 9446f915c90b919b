/** Leases in the store: who computes what, expiry, dead owners, renewal, release. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { openStore } from "../../results/store.ts";
import type { LeaseClock, LeaseOwner } from "../../results/lease.ts";
import { processAlive } from "../../data/atomic.ts";
import { fakeResult } from "./_fixtures.ts";

function clock(start = 1_000_000): LeaseClock & { t: number; dead: Set<number> } {
  const c = {
    t: start,
    dead: new Set<number>(),
    now: () => c.t,
    alive: (pid: number) => !c.dead.has(pid),
  };
  return c;
}

const owner = (host: string, pid: number): LeaseOwner => ({ id: `${host}:${pid}:x`, pid, host });

Deno.test("leases: a live owner's lease blocks others until it expires, renews or is released", () => {
  const path = Deno.makeTempDirSync({ prefix: "ddrepro-lease-" }) + "/results.db";
  const c = clock();
  const a = openStore(path, { clock: c }), b = openStore(path, { clock: c });
  const A = owner("h1", 11), B = owner("h2", 22);
  eq(a.claim("k", A, 1000), { claimed: true });
  eq(a.claim("k", A, 1000), { claimed: true }, "the owner may claim again");
  const busy = b.claim("k", B, 1000);
  ok(!busy.claimed && busy.holder.pid === 11 && busy.holder.host === "h1", JSON.stringify(busy));
  c.t += 900;
  eq(a.renewLeases(A, 1000), 1);
  c.t += 900; // 1800 after the claim, 900 after the renewal: still held
  ok(!b.claim("k", B, 1000).claimed);
  c.t += 200; // expired
  eq(b.claim("k", B, 1000), { claimed: true });
  ok(!a.claim("k", A, 1000).claimed, "the old owner lost it");
  a.releaseLeases(A, "k"); // not A's any more: nothing happens
  eq(b.leases().map((l) => [l.key, l.pid]), [["k", 22]]);
  b.releaseLeases(B);
  eq(a.leases(), []);
  eq(a.claim("k", A, 1000), { claimed: true });
  a.close();
  b.close();
});

Deno.test("leases: an owner on this host whose process is gone holds nothing; elsewhere, until expiry", () => {
  const path = Deno.makeTempDirSync({ prefix: "ddrepro-lease-" }) + "/results.db";
  const c = clock();
  const s = openStore(path, { clock: c });
  s.claim("here", owner("h1", 11), 60_000);
  s.claim("there", owner("h2", 12), 60_000);
  c.dead.add(11).add(12);
  const me = owner("h1", 33);
  eq(s.claim("here", me, 1000), { claimed: true }, "same host, dead pid");
  ok(!s.claim("there", me, 1000).claimed, "another host's pid says nothing here");
  // Leases are not results: they never show in list/export/merge.
  s.put(fakeResult({ cellId: "c", acc: 1 }));
  eq(s.count(), 1);
  s.close();
});

Deno.test("processAlive: this process is alive, an exited child is not", async () => {
  ok(processAlive(Deno.pid));
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
  await child.status;
  ok(!processAlive(child.pid));
  ok(!processAlive(0) && !processAlive(-1));
});
