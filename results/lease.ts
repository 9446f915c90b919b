/**
 * Leases: which process is computing what, recorded in the store it will write to, so several `dd run`s
 * on one store share the work instead of each computing everything. A lease names its owner (process id,
 * host and a random token) and expires unless renewed; a process that crashed therefore stops blocking
 * others once its lease runs out, or at once when it ran on this host and its pid is gone.
 *
 * Leases are coordination, not results: merges, exports and reports never read them, and an old store
 * gains the table the first time a lease is taken.
 */
import type { DatabaseSync } from "node:sqlite";
import { processAlive } from "../data/atomic.ts";

export interface LeaseOwner {
  /** `host:pid:token`: unique even when a pid is reused. */
  id: string;
  pid: number;
  host: string;
}

export interface LeaseHolder {
  owner: string;
  pid: number;
  host: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type Claim = { claimed: true } | { claimed: false; holder: LeaseHolder };

/** This process as a lease owner (a fresh token per call: two runners in one process do not share). */
export function leaseOwner(): LeaseOwner {
  const host = hostname();
  const token = crypto.getRandomValues(new Uint32Array(2)).reduce((s, x) => s + x.toString(16), "");
  return { id: `${host}:${Deno.pid}:${token}`, pid: Deno.pid, host };
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}

const DDL = `CREATE TABLE IF NOT EXISTS leases (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  claimed_at TEXT NOT NULL
) STRICT`;

export interface LeaseClock {
  now(): number;
  /** Whether a pid on this host still runs (injectable for tests). */
  alive(pid: number): boolean;
}

export const SYSTEM_CLOCK: LeaseClock = { now: Date.now, alive: processAlive };

/**
 * The lease statements on an open store connection. Every method must run inside the caller's write
 * transaction (BEGIN IMMEDIATE), so a check and the claim that follows it are one step for other processes.
 */
export class LeaseTable {
  private ready = false;

  constructor(private readonly db: DatabaseSync, private readonly clock: LeaseClock = SYSTEM_CLOCK) {}

  private ensure(): void {
    if (!this.ready) this.db.exec(DDL);
    this.ready = true;
  }

  /** Takes `key` for `owner` unless another live owner holds an unexpired lease on it. */
  claim(key: string, owner: LeaseOwner, ttlMs: number): Claim {
    this.ensure();
    const now = this.clock.now();
    const row = this.db.prepare("SELECT owner, pid, host, expires_at FROM leases WHERE key = ?").get(key);
    if (row !== undefined && String(row.owner) !== owner.id) {
      const holder: LeaseHolder = {
        owner: String(row.owner),
        pid: Number(row.pid),
        host: String(row.host),
        expiresAt: Number(row.expires_at),
      };
      const deadHere = holder.host === owner.host && !this.clock.alive(holder.pid);
      if (holder.expiresAt > now && !deadHere) return { claimed: false, holder };
    }
    this.db.prepare(
      "INSERT OR REPLACE INTO leases (key, owner, pid, host, expires_at, claimed_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(key, owner.id, owner.pid, owner.host, now + ttlMs, new Date(now).toISOString());
    return { claimed: true };
  }

  /** Extends every lease `owner` holds; returns how many. */
  renew(owner: LeaseOwner, ttlMs: number): number {
    this.ensure();
    const info = this.db.prepare("UPDATE leases SET expires_at = ? WHERE owner = ?")
      .run(this.clock.now() + ttlMs, owner.id);
    return Number(info.changes);
  }

  /** Gives up `key` (or every lease of `owner`); a lease another owner took over is left alone. */
  release(owner: LeaseOwner, key?: string): void {
    this.ensure();
    if (key === undefined) this.db.prepare("DELETE FROM leases WHERE owner = ?").run(owner.id);
    else this.db.prepare("DELETE FROM leases WHERE key = ? AND owner = ?").run(key, owner.id);
  }

  /** Every lease, expired or not, by key (for messages and tests). */
  list(): (LeaseHolder & { key: string })[] {
    this.ensure();
    return this.db.prepare("SELECT key, owner, pid, host, expires_at FROM leases ORDER BY key").all()
      .map((row) => ({
        key: String(row.key),
        owner: String(row.owner),
        pid: Number(row.pid),
        host: String(row.host),
        expiresAt: Number(row.expires_at),
      }));
  }
}
