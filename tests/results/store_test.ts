import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { openStore, StoreError } from "../../results/store.ts";
import { fakeResult, repeats } from "./_fixtures.ts";
import { contentKeyV1 } from "../../results/key.ts";
import type { CellRepeatResult } from "../../results/types.ts";

function tmpDb(): string {
  return Deno.makeTempDirSync({ prefix: "ddrepro-store-" }) + "/results.db";
}

Deno.test("store: put/get/list round trip keeps every field", () => {
  const path = tmpDb();
  const store = openStore(path);
  const substitutions = [{ field: "dataset", from: "imagewoof", to: "fashion-mnist", reason: "absent" }];
  const rows = [
    ...repeats("dm-10", [48.1, 48.7], { substitutions }),
    fakeResult({ cellId: "ours-10", acc: 51.2, profile: "quick" }),
  ];
  // The artifact is not part of the key (it is an output, like the metrics).
  rows[0].artifact = { path: "artifacts/dm-10-0.safetensors", sha256: "a".repeat(64) };
  for (const r of rows) ok(store.put(r));
  store.close();

  const again = openStore(path);
  eq(again.count(), 3);
  eq(again.get(rows[0].key), rows[0]);
  ok(again.has(rows[2].key));
  ok(!again.has("f".repeat(64)));
  eq(again.list({ cellId: "dm-10" }).map((r) => r.repeat), [0, 1]);
  eq(again.list({ profile: "quick" }).map((r) => r.key), [rows[2].key]);
  eq(again.list({ tableId: "other/table" }), []);
  eq(JSON.parse(JSON.stringify(again.exportAll())), again.list());
  eq(again.integrityCheck(), "ok");
  again.close();
});

Deno.test("store: put is idempotent on the content key", () => {
  const store = openStore(tmpDb());
  const r = fakeResult({ cellId: "dm-10", acc: 48.0 });
  ok(store.put(r));
  ok(!store.put(r));
  // Same key, different numbers (a nondeterministic rerun): the first committed row stays.
  ok(!store.put({ ...r, metrics: { ...r.metrics, lastTestAcc: 10 } }));
  eq(store.count(), 1);
  eq(store.get(r.key)?.metrics.lastTestAcc, 48.0);
  store.close();
});

Deno.test("store: refuses malformed results and keys that do not match the content", () => {
  const store = openStore(tmpDb());
  const r = fakeResult({ cellId: "dm-10", acc: 48.0 });
  throws(
    () => store.put({ ...r, key: "0".repeat(64) }),
    (e) => e instanceof StoreError && e.message.includes("content hashes to"),
  );
  throws(
    () => store.put({ ...r, metrics: { ...r.metrics, lastTestAcc: 140 } }),
    (e) => e instanceof StoreError && e.message.includes("malformed"),
  );
  eq(store.count(), 0);
  store.close();
});

Deno.test("store: merge adds missing rows, skips duplicates, and is repeatable", () => {
  const a = openStore(tmpDb());
  const bPath = tmpDb();
  const b = openStore(bPath);
  const shared = repeats("dm-10", [48.1, 48.7, 49.0]);
  for (const r of shared) (a.put(r), b.put(r));
  const onlyB = repeats("ours-10", [51.0, 52.0]);
  for (const r of onlyB) b.put(r);
  b.close();

  eq(a.merge(bPath), { added: 2, skipped: 3 });
  eq(a.merge(bPath), { added: 0, skipped: 5 });
  eq(a.count(), 5);
  eq(new Set(a.list().map((r) => r.key)).size, 5);
  throws(() => a.merge(bPath + ".missing"), (e) => e instanceof StoreError && e.message.includes(".missing"));
  a.close();
});

Deno.test("store: rows name their evaluation; the index answers lookups and travels with merge", () => {
  const aPath = tmpDb(), bPath = tmpDb();
  const b = openStore(bPath);
  eq(b.byEvaluation("e1"), undefined, "a store without the index has nothing to share");
  const [r0, r1] = repeats("dm-10", [48.1, 48.7]);
  ok(b.put(r0, "e1"));
  ok(b.put(r1));
  eq(b.byEvaluation("e1"), r0);
  eq(b.byEvaluation("e2"), undefined);
  // Naming an already stored row adds the name, not the row.
  ok(!b.put(r0, "e3"));
  eq([b.count(), b.byEvaluation("e3")], [2, r0]);
  b.close();
  const a = openStore(aPath);
  eq(a.merge(bPath), { added: 2, skipped: 0 });
  eq([a.byEvaluation("e1"), a.byEvaluation("e3")], [r0, r0]);
  a.close();
});

Deno.test("store: a non-SQLite file is rejected with an error naming it", () => {
  const path = tmpDb();
  Deno.writeTextFileSync(path, "these are not the rows you are looking for\n".repeat(100));
  throws(() => openStore(path), (e) => e instanceof StoreError && e.message.includes(path));
});

Deno.test("store: a foreign SQLite database is rejected", () => {
  const path = tmpDb();
  const db = new DatabaseSync(path);
  db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
  db.close();
  throws(
    () => openStore(path),
    (e) =>
      e instanceof StoreError && e.message.includes("not a ddrepro results store") &&
      e.message.includes(path),
  );
  // Refused before anything was changed: the foreign file is still in its own journal mode.
  const again = new DatabaseSync(path);
  eq(again.prepare("PRAGMA journal_mode").get()?.journal_mode, "delete");
  again.close();
});

Deno.test("store: a row edited into invalid JSON fails on read, naming file and row", () => {
  const path = tmpDb();
  const store = openStore(path);
  const r = fakeResult({ cellId: "dm-10", acc: 48.0 });
  store.put(r);
  store.close();
  const db = new DatabaseSync(path);
  db.prepare("UPDATE results SET metrics = ? WHERE key = ?").run('{"lastTestAcc": "high"}', r.key);
  db.close();
  const again = openStore(path);
  throws(
    () => again.list(),
    (e) =>
      e instanceof StoreError && e.message.includes("metrics") && e.message.includes(path) &&
      e.message.includes(r.key),
  );
  again.close();
});

/** Runs kill_writer.ts until it acknowledged `target` rows, SIGKILLs it, returns the acknowledged keys. */
async function writeThenKill(path: string, writerId: string, target: number): Promise<string[]> {
  const writer = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", new URL("./kill_writer.ts", import.meta.url).pathname, path, writerId],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const committed: string[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = writer.stdout.getReader();
  // Read acknowledged keys; kill once enough rows are in (the writer keeps writing meanwhile).
  while (committed.length < target) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    committed.push(...lines.filter((l) => l.length > 0));
  }
  writer.kill("SIGKILL");
  // Drain what was acknowledged before the kill landed.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
  }
  committed.push(...buffer.split("\n").filter((l) => /^[0-9a-f]{64}$/.test(l)));
  const status = await writer.status;
  const stderr = new TextDecoder().decode(await new Response(writer.stderr).arrayBuffer());
  eq(status.signal, "SIGKILL", `writer ended on its own: ${stderr}`);
  ok(committed.length >= target, `writer acknowledged only ${committed.length} rows: ${stderr}`);
  return committed;
}

Deno.test("store: SIGKILL mid-write loses no committed row and leaves the file intact", async () => {
  const path = tmpDb();
  const committed = await writeThenKill(path, "solo", 60);
  // The kill left an un-checkpointed write-ahead log: reopening exercises SQLite's recovery path.
  ok(Deno.statSync(path + "-wal").size > 0, "expected a WAL file left behind");
  const store = openStore(path);
  eq(store.integrityCheck(), "ok");
  const stored = new Set(store.list().map((r) => r.key));
  for (const key of committed) ok(stored.has(key), `committed row ${key} lost`);
  // At most the one in-flight put may have committed without being acknowledged.
  ok(stored.size - committed.length <= 1, `${stored.size} stored vs ${committed.length} acknowledged`);
  store.close();
});

Deno.test("store: two processes writing one store concurrently, both killed, keep every committed row", async () => {
  const path = tmpDb();
  // No pre-created file: the two writers also race to initialise the store.
  const [a, b] = await Promise.all([writeThenKill(path, "a", 40), writeThenKill(path, "b", 40)]);
  const store = openStore(path);
  eq(store.integrityCheck(), "ok");
  const stored = new Set(store.list().map((r) => r.key));
  for (const key of [...a, ...b]) ok(stored.has(key), `committed row ${key} lost`);
  store.close();
});

/** A schema-version-1 store (key recipe 1) holding `rows`, written the way version 1 wrote them. */
function v1Store(rows: CellRepeatResult[]): string {
  const path = tmpDb();
  openStore(path).close();
  const db = new DatabaseSync(path);
  db.exec("UPDATE ddrepro_meta SET v = '1' WHERE k = 'schema_version'");
  const insert = db.prepare(
    "INSERT INTO results (key, table_id, cell_id, profile, repeat, seed, code_version, dataset_manifest_hash, " +
      "resolved, metrics, distill_metrics, artifact, provenance, inserted_at) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
  );
  rows.forEach((r, i) =>
    insert.run(
      contentKeyV1(r.resolved, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash),
      r.resolved.tableId,
      r.resolved.cellId,
      r.resolved.profile,
      r.repeat,
      r.seed,
      r.codeVersion,
      r.datasetManifestHash,
      JSON.stringify(r.resolved),
      JSON.stringify(r.metrics),
      JSON.stringify(r.distillMetrics),
      JSON.stringify(r.provenance),
      `2025-01-01T00:00:0${i}.000Z`,
    )
  );
  db.close();
  return path;
}

Deno.test("store: a version-1 store is rekeyed on open; rows differing only in a reason become one", () => {
  const sub = { field: "dataset", from: "cifar10", to: "mnist", reason: "old wording" };
  const old = fakeResult({ cellId: "dm-10", acc: 48.0, substitutions: [sub] });
  const reworded = fakeResult({
    cellId: "dm-10",
    acc: 48.0,
    substitutions: [{ ...sub, reason: "new wording" }],
  });
  const other = fakeResult({ cellId: "dm-10", acc: 49.0, repeat: 1 });
  const path = v1Store([old, reworded, other]);

  const store = openStore(path);
  eq(store.count(), 2);
  // The newest of the two rows is kept, under the current key recipe, and reads back whole.
  eq(store.get(reworded.key), reworded);
  eq(old.key, reworded.key);
  eq(store.get(other.key), other);
  // A rerun under today's wording finds it (put is a no-op), and reopening does not migrate again.
  ok(!store.put(old));
  store.close();
  const db = new DatabaseSync(path);
  eq(db.prepare("SELECT v FROM ddrepro_meta WHERE k = 'schema_version'").get()?.v, "2");
  db.close();
  eq(openStore(path).count(), 2);
});

Deno.test("store: migrating a version-1 row whose key does not match its content is refused, changing nothing", () => {
  const r = fakeResult({ cellId: "dm-10", acc: 48.0 });
  const path = v1Store([r]);
  const db = new DatabaseSync(path);
  db.prepare("UPDATE results SET resolved = ?").run(
    JSON.stringify({ ...r.resolved, methodConfig: { lr: 9 } }),
  );
  db.close();
  throws(
    () => openStore(path),
    (e) =>
      e instanceof StoreError && e.message.includes("does not match its content") && e.message.includes(path),
  );
  const again = new DatabaseSync(path);
  eq(again.prepare("SELECT v FROM ddrepro_meta WHERE k = 'schema_version'").get()?.v, "1");
  again.close();
});

Deno.test("store: an unknown schema version is refused, naming it", () => {
  const path = tmpDb();
  openStore(path).close();
  const db = new DatabaseSync(path);
  db.exec("UPDATE ddrepro_meta SET v = '9' WHERE k = 'schema_version'");
  db.close();
  throws(
    () => openStore(path),
    (e) => e instanceof StoreError && e.message.includes("schema version 9 is not supported"),
  );
});
