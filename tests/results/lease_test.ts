/** Leases in the store: who computes what, expiry, dead owners, renewal, release. */
import { assert, assertEquals } from "./_assert.ts";
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
  assertEquals(a.claim("k", A, 1000), { claimed: true });
  assertEquals(a.claim("k", A, 1000), { claimed: true }, "the owner may claim again");
  const busy = b.claim("k", B, 1000);
  assert(!busy.claimed && busy.holder.pid === 11 && busy.holder.host === "h1", JSON.stringify(busy));
  c.t += 900;
  assertEquals(a.renewLeases(A, 1000), 1);
  c.t += 900; // 1800 after the claim, 900 after the renewal: still held
  assert(!b.claim("k", B, 1000).claimed);
  c.t += 200; // expired
  assertEquals(b.claim("k", B, 1000), { claimed: true });
  assert(!a.claim("k", A, 1000).claimed, "the old owner lost it");
  a.releaseLeases(A, "k"); // not A's any more: nothing happens
  assertEquals(b.leases().map((l) => [l.key, l.pid]), [["k", 22]]);
  b.releaseLeases(B);
  assertEquals(a.leases(), []);
  assertEquals(a.claim("k", A, 1000), { claimed: true });
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
  assertEquals(s.claim("here", me, 1000), { claimed: true }, "same host, dead pid");
  assert(!s.claim("there", me, 1000).claimed, "another host's pid says nothing here");
  // Leases are not results: they never show in list/export/merge.
  s.put(fakeResult({ cellId: "c", acc: 1 }));
  assertEquals(s.count(), 1);
  s.close();
});

Deno.test("processAlive: this process is alive, an exited child is not", async () => {
  assert(processAlive(Deno.pid));
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
  await child.status;
  assert(!processAlive(child.pid));
  assert(!processAlive(0) && !processAlive(-1));
});
