/**
 * The resumable results store: one SQLite row per finished cell repeat.
 *
 * Durability: WAL journal + synchronous=FULL, and every write is its own transaction, so a process
 * killed at any instant leaves the file consistent and keeps every row whose put() returned.
 * Rows are immutable and keyed by content (results/key.ts); put() of an existing key is a no-op,
 * which makes reruns and merges idempotent. Everything read back is validated with zod.
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import type { z } from "zod";
import { contentKey, contentKeyV1 } from "./key.ts";
import { Artifact, CellRepeatResult, Metrics, type Profile, Provenance, ResolvedCell } from "./types.ts";
import { type Claim, type LeaseClock, type LeaseHolder, type LeaseOwner, LeaseTable } from "./lease.ts";

/**
 * Identifies a ddrepro store (vs. any other SQLite file) and its layout version. Version 2 keys rows
 * with key recipe 2 (results/key.ts); version-1 stores are rekeyed in place when opened.
 */
const STORE_KIND = "ddrepro-results";
const SCHEMA_VERSION = 2;

export class StoreError extends Error {
  constructor(readonly file: string, message: string, options?: ErrorOptions) {
    super(`results store ${file}: ${message}`, options);
    this.name = "StoreError";
  }
}

export interface ResultFilter {
  tableId?: string;
  cellId?: string;
  profile?: Profile;
}

export interface MergeCounts {
  added: number;
  skipped: number;
}

export interface ResultsStore {
  readonly path: string;
  has(key: string): boolean;
  get(key: string): CellRepeatResult | undefined;
  /**
   * Validates and inserts; returns false (and changes nothing) when the key is already stored. `evaluation`
   * names the evaluation the row's metrics come from (the runner's hash of set, model, protocol, seed and
   * test subset): rows of any table that need the same one can then take its numbers.
   */
  put(result: CellRepeatResult, evaluation?: string): boolean;
  /** Names the evaluations of stored rows (pairs of evaluation and row key; see put), in one transaction. */
  nameEvaluations(pairs: readonly (readonly [string, string])[]): void;
  /** A stored row whose metrics are the evaluation `evaluation` (see put), if any. */
  byEvaluation(evaluation: string): CellRepeatResult | undefined;
  /** Ordered by table, cell, repeat, seed. */
  list(filter?: ResultFilter): CellRepeatResult[];
  count(filter?: ResultFilter): number;
  /** Copies every row of another store file that this one lacks (one transaction). */
  merge(otherPath: string): MergeCounts;
  /** Plain JSON-able objects, same order as list(). */
  exportAll(): CellRepeatResult[];
  /** SQLite's own `PRAGMA integrity_check`: "ok" or the problems it found. */
  integrityCheck(): string;
  /**
   * Takes a lease on a unit of work (results/lease.ts) unless another live process holds it: how
   * concurrent runs on one store avoid computing the same repeats.
   */
  claim(key: string, owner: LeaseOwner, ttlMs: number): Claim;
  /** Extends every lease of `owner` (the runner calls it while it works). */
  renewLeases(owner: LeaseOwner, ttlMs: number): number;
  /** Releases one lease of `owner`, or all of them. */
  releaseLeases(owner: LeaseOwner, key?: string): void;
  /** Every lease currently recorded (expired ones included), by key. */
  leases(): (LeaseHolder & { key: string })[];
  close(): void;
}

export interface OpenStoreOptions {
  /** Time and liveness for leases (tests inject them). */
  clock?: LeaseClock;
}

const DDL = `
CREATE TABLE IF NOT EXISTS ddrepro_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS results (
  key TEXT PRIMARY KEY,
  table_id TEXT NOT NULL,
  cell_id TEXT NOT NULL,
  profile TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  code_version TEXT NOT NULL,
  dataset_manifest_hash TEXT NOT NULL,
  resolved TEXT NOT NULL,
  metrics TEXT NOT NULL,
  distill_metrics TEXT NOT NULL,
  artifact TEXT,
  provenance TEXT NOT NULL,
  inserted_at TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS results_by_cell ON results (table_id, cell_id, profile);
`;

/** Which row holds each evaluation's numbers (created with the first row that names one). */
const EVALUATIONS_DDL =
  "CREATE TABLE IF NOT EXISTS evaluations (evaluation TEXT PRIMARY KEY, result_key TEXT NOT NULL) STRICT";

const COLUMNS = "key, table_id, cell_id, profile, repeat, seed, code_version, dataset_manifest_hash, " +
  "resolved, metrics, distill_metrics, artifact, provenance";

type Row = Record<string, unknown>;

/** Opens (creating if absent) a store. Throws StoreError for non-SQLite or foreign SQLite files. */
export function openStore(path: string, opts: OpenStoreOptions = {}): ResultsStore {
  Deno.mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (e) {
    throw new StoreError(path, `cannot open: ${errorMessage(e)}`, { cause: e });
  }
  try {
    initialise(db, path);
  } catch (e) {
    db.close();
    throw e instanceof StoreError ? e : new StoreError(path, `not a usable SQLite file: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  return new SqliteStore(db, path, new LeaseTable(db, opts.clock));
}

function initialise(db: DatabaseSync, path: string): void {
  // Set first: several runner processes may open and write one store at the same time.
  db.exec("PRAGMA busy_timeout = 10000");
  // The first statement that reads the file is where "file is not a database" surfaces.
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    .map((r) => String(r.name));
  // Refuse foreign databases before changing anything in them (journal mode included).
  if (tables.length > 0 && !tables.includes("ddrepro_meta")) {
    throw new StoreError(
      path,
      `not a ddrepro results store (an SQLite file with tables ${tables.slice(0, 5).join(", ")})`,
    );
  }
  // Switching to WAL needs a moment of exclusive access, for which SQLite does not always call the
  // busy handler: retry while another process holds the file.
  retryWhileBusy(() => db.exec("PRAGMA journal_mode = WAL"));
  db.exec("PRAGMA synchronous = FULL");
  if (tables.length === 0) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(DDL);
      const put = db.prepare("INSERT OR IGNORE INTO ddrepro_meta (k, v) VALUES (?, ?)");
      put.run("kind", STORE_KIND);
      put.run("schema_version", String(SCHEMA_VERSION));
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
  const meta = new Map(
    db.prepare("SELECT k, v FROM ddrepro_meta").all().map((r) => [String(r.k), String(r.v)] as const),
  );
  if (meta.get("kind") !== STORE_KIND) {
    throw new StoreError(path, `not a ddrepro results store (kind = ${JSON.stringify(meta.get("kind"))})`);
  }
  if (Number(meta.get("schema_version")) === 1) migrateFromV1(db, path);
  const version = db.prepare("SELECT v FROM ddrepro_meta WHERE k = 'schema_version'").get()?.v;
  if (Number(version) !== SCHEMA_VERSION) {
    throw new StoreError(
      path,
      `store schema version ${version} is not supported (this code reads versions 1 and ${SCHEMA_VERSION})`,
    );
  }
}

/**
 * Version 1 → 2: recompute every row's key with recipe 2, which ignores the substitutions' prose.
 * Each old key is first checked against its content with recipe 1, so an edited row is refused rather
 * than laundered. Rows that differed only in that prose become one key; the newest row is kept. One
 * transaction: concurrent openers wait, and the loser finds the store already migrated.
 */
function migrateFromV1(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const now = db.prepare("SELECT v FROM ddrepro_meta WHERE k = 'schema_version'").get()?.v;
    if (String(now) === "1") {
      const rows = db.prepare(
        "SELECT key, repeat, seed, code_version, dataset_manifest_hash, resolved FROM results " +
          "ORDER BY inserted_at DESC, key",
      ).all();
      const taken = new Set<string>();
      const rekey = db.prepare("UPDATE results SET key = ? WHERE key = ?");
      const drop = db.prepare("DELETE FROM results WHERE key = ?");
      for (const row of rows) {
        const old = String(row.key);
        let resolved: ResolvedCell;
        try {
          resolved = ResolvedCell.parse(JSON.parse(String(row.resolved)));
        } catch (e) {
          throw new StoreError(path, `migrating row ${old}: its resolved cell is malformed`, { cause: e });
        }
        const args = [
          resolved,
          Number(row.repeat),
          Number(row.seed),
          String(row.code_version),
          String(row.dataset_manifest_hash),
        ] as const;
        if (contentKeyV1(...args) !== old) {
          throw new StoreError(
            path,
            `migrating row ${old}: its key does not match its content (edited row?)`,
          );
        }
        const key = contentKey(...args);
        if (taken.has(key)) drop.run(old);
        else (taken.add(key), rekey.run(key, old));
      }
      db.prepare("UPDATE ddrepro_meta SET v = ? WHERE k = 'schema_version'").run(String(SCHEMA_VERSION));
    }
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    if (e instanceof StoreError) throw e;
    const why = `cannot migrate from schema version 1 (the store must be writable): ${errorMessage(e)}`;
    throw new StoreError(path, why, { cause: e });
  }
}

class SqliteStore implements ResultsStore {
  constructor(
    private readonly db: DatabaseSync,
    readonly path: string,
    private readonly leaseTable: LeaseTable,
  ) {}

  has(key: string): boolean {
    return this.db.prepare("SELECT 1 FROM results WHERE key = ?").get(key) !== undefined;
  }

  get(key: string): CellRepeatResult | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM results WHERE key = ?`).get(key);
    return row === undefined ? undefined : this.decode(row);
  }

  put(result: CellRepeatResult, evaluation?: string): boolean {
    const r = validateForWrite(result, this.path);
    return this.transaction(() => {
      const added = this.insert(r);
      if (evaluation !== undefined) this.nameEvaluation(evaluation, r.key);
      return added;
    });
  }

  nameEvaluations(pairs: readonly (readonly [string, string])[]): void {
    if (pairs.length === 0) return;
    this.transaction(() => {
      for (const [evaluation, key] of pairs) this.nameEvaluation(evaluation, key);
    });
  }

  byEvaluation(evaluation: string): CellRepeatResult | undefined {
    if (!this.hasEvaluationIndex()) return undefined;
    const row = this.db.prepare(
      `SELECT ${COLUMNS.split(", ").map((c) => `r.${c}`).join(", ")} FROM evaluations e ` +
        "JOIN results r ON r.key = e.result_key WHERE e.evaluation = ?",
    ).get(evaluation);
    return row === undefined ? undefined : this.decode(row);
  }

  list(filter: ResultFilter = {}): CellRepeatResult[] {
    const { where, params } = whereClause(filter);
    return this.db.prepare(
      `SELECT ${COLUMNS} FROM results ${where} ORDER BY table_id, cell_id, profile, repeat, seed, key`,
    ).all(...params).map((row) => this.decode(row));
  }

  count(filter: ResultFilter = {}): number {
    const { where, params } = whereClause(filter);
    const row = this.db.prepare(`SELECT COUNT(*) AS n FROM results ${where}`).get(...params);
    return Number(row?.n ?? 0);
  }

  merge(otherPath: string): MergeCounts {
    try {
      Deno.statSync(otherPath);
    } catch (e) {
      throw new StoreError(otherPath, `cannot merge: ${errorMessage(e)}`, { cause: e });
    }
    // Reading through openStore validates the other file exactly like our own rows.
    const other = openStore(otherPath);
    let incoming: CellRepeatResult[];
    let named: [string, string][];
    try {
      incoming = other.exportAll();
      named = other instanceof SqliteStore ? other.evaluationIndex() : [];
    } finally {
      other.close();
    }
    return this.transaction(() => {
      let added = 0;
      for (const r of incoming) {
        if (this.insert(validateForWrite(r, otherPath))) added++;
      }
      for (const [evaluation, key] of named) this.nameEvaluation(evaluation, key);
      return { added, skipped: incoming.length - added };
    });
  }

  exportAll(): CellRepeatResult[] {
    return this.list();
  }

  integrityCheck(): string {
    return this.db.prepare("PRAGMA integrity_check").all().map((r) => String(r.integrity_check)).join("; ");
  }

  claim(key: string, owner: LeaseOwner, ttlMs: number): Claim {
    return this.transaction(() => this.leaseTable.claim(key, owner, ttlMs));
  }

  renewLeases(owner: LeaseOwner, ttlMs: number): number {
    return this.transaction(() => this.leaseTable.renew(owner, ttlMs));
  }

  releaseLeases(owner: LeaseOwner, key?: string): void {
    this.transaction(() => this.leaseTable.release(owner, key));
  }

  leases(): (LeaseHolder & { key: string })[] {
    return this.transaction(() => this.leaseTable.list());
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** (evaluation, row key) pairs of the evaluation index (merge copies them with the rows). */
  evaluationIndex(): [string, string][] {
    if (!this.hasEvaluationIndex()) return [];
    return this.db.prepare("SELECT evaluation, result_key FROM evaluations ORDER BY evaluation").all()
      .map((r) => [String(r.evaluation), String(r.result_key)]);
  }

  private nameEvaluation(evaluation: string, key: string): void {
    this.db.exec(EVALUATIONS_DDL);
    this.db.prepare("INSERT OR IGNORE INTO evaluations (evaluation, result_key) VALUES (?, ?)").run(
      evaluation,
      key,
    );
  }

  /** Stores written before the index existed have none (and may be read-only): nothing to share then. */
  private hasEvaluationIndex(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'evaluations'")
      .get() !== undefined;
  }

  private insert(r: CellRepeatResult): boolean {
    const info = this.db.prepare(
      `INSERT OR IGNORE INTO results (${COLUMNS}, inserted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      r.key,
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
      r.artifact === null ? null : JSON.stringify(r.artifact),
      JSON.stringify(r.provenance),
      new Date().toISOString(),
    );
    return Number(info.changes) === 1;
  }

  private transaction<T>(body: () => T): T {
    // IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout) instead of
    // failing half-way through with SQLITE_BUSY.
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = body();
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }

  private decode(row: Row): CellRepeatResult {
    const key = String(row.key);
    const json = <S extends z.ZodType>(column: string, schema: S): z.infer<S> => {
      const raw = row[column];
      let parsed: unknown;
      try {
        parsed = raw === null ? null : JSON.parse(String(raw));
      } catch (e) {
        throw new StoreError(this.path, `row ${key}: column ${column} is not valid JSON`, { cause: e });
      }
      const out = schema.safeParse(parsed);
      if (!out.success) {
        throw new StoreError(this.path, `row ${key}: column ${column} is malformed: ${out.error.message}`);
      }
      return out.data;
    };
    const candidate = {
      key,
      resolved: json("resolved", ResolvedCell),
      repeat: Number(row.repeat),
      seed: Number(row.seed),
      codeVersion: String(row.code_version),
      datasetManifestHash: String(row.dataset_manifest_hash),
      metrics: json("metrics", Metrics),
      distillMetrics: json("distill_metrics", CellRepeatResult.shape.distillMetrics),
      artifact: json("artifact", Artifact.nullable()),
      provenance: json("provenance", Provenance),
    };
    const out = CellRepeatResult.safeParse(candidate);
    if (!out.success) throw new StoreError(this.path, `row ${key} is malformed: ${out.error.message}`);
    // The indexed columns duplicate fields of `resolved`; a disagreement means the row was edited.
    const r = out.data;
    if (
      r.resolved.tableId !== row.table_id || r.resolved.cellId !== row.cell_id ||
      r.resolved.profile !== row.profile
    ) {
      throw new StoreError(this.path, `row ${key}: indexed columns disagree with its resolved cell`);
    }
    return r;
  }
}

/** Rejects results that are malformed or whose key does not match their content. */
function validateForWrite(result: CellRepeatResult, file: string): CellRepeatResult {
  const parsed = CellRepeatResult.safeParse(result);
  if (!parsed.success) throw new StoreError(file, `refusing malformed result: ${parsed.error.message}`);
  const r = parsed.data;
  const expected = contentKey(r.resolved, r.repeat, r.seed, r.codeVersion, r.datasetManifestHash);
  if (r.key !== expected) {
    throw new StoreError(
      file,
      `result ${r.resolved.tableId}:${r.resolved.cellId}#${r.repeat} has key ${r.key}, ` +
        `but its content hashes to ${expected} (build keys with contentKey())`,
    );
  }
  return r;
}

function whereClause(filter: ResultFilter): { where: string; params: string[] } {
  const clauses: string[] = [];
  const params: string[] = [];
  if (filter.tableId !== undefined) (clauses.push("table_id = ?"), params.push(filter.tableId));
  if (filter.cellId !== undefined) (clauses.push("cell_id = ?"), params.push(filter.cellId));
  if (filter.profile !== undefined) (clauses.push("profile = ?"), params.push(filter.profile));
  return { where: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", params };
}

function retryWhileBusy(action: () => void, attempts = 200): void {
  for (let i = 1;; i++) {
    try {
      return action();
    } catch (e) {
      if (i >= attempts || !/locked|busy/i.test(errorMessage(e))) throw e;
      // A synchronous 50 ms pause (the store API is synchronous, like node:sqlite).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
