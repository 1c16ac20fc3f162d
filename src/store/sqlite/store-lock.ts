/**
 * The boot gate: one live runtime per SQLite file. The holder is a row of `store_lock` (token, pid,
 * host, since), written in the boot transaction and deleted by a clean `close()`. The check and the
 * claim run under the file's write lock (`BEGIN IMMEDIATE`), so two processes booting at once cannot
 * both win.
 *
 * A holder left behind by a process that died is *stale* and is taken over: on this host, a pid that
 * no longer exists (`process.kill(pid, 0)` fails with `ESRCH`), or this process's own pid with a token
 * no live store of this process holds (a store dropped without `close()`, as crash tests do). A holder
 * on another host cannot be checked from here and keeps the file locked.
 *
 * @packageDocumentation
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { DatabaseSync } from "node:sqlite";
import { BootError } from "../../errors.js";

/** Who holds a store file open. */
export interface LockHolder {
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  readonly sinceMs: number;
}

/** Tokens of the locks the stores of this process hold right now. */
const heldHere = new Set<string>();

/**
 * Claims the file for this process inside the open boot transaction (after the migrations, so the
 * table exists). Throws `BootError` `STORE_LOCKED` naming a live holder; replaces a stale one.
 */
export function claimLock(db: DatabaseSync, path: string, nowMs: number): LockHolder {
  const row = db.prepare("SELECT token, pid, host, since_ms FROM store_lock WHERE id = 1").get() as
    | { token: string; pid: number; host: string; since_ms: number }
    | undefined;
  if (row !== undefined) {
    const holder: LockHolder = { token: row.token, pid: row.pid, host: row.host, sinceMs: row.since_ms };
    if (isLive(holder)) {
      throw new BootError(
        "STORE_LOCKED",
        `${path} is held by another runtime: pid ${holder.pid} on host ${holder.host}, since ${new Date(holder.sinceMs).toISOString()}. ` +
          "Stop that runtime first, or give this one another path. (A holder on another host is never taken over; " +
          `if it is gone for sure, delete its row: DELETE FROM store_lock in ${path}.)`,
        { details: { path, pid: holder.pid, host: holder.host, sinceMs: holder.sinceMs } },
      );
    }
  }
  const mine: LockHolder = { token: randomUUID(), pid: process.pid, host: hostname(), sinceMs: nowMs };
  db.prepare("INSERT OR REPLACE INTO store_lock (id, token, pid, host, since_ms) VALUES (1, ?, ?, ?, ?)").run(
    mine.token,
    mine.pid,
    mine.host,
    mine.sinceMs,
  );
  return mine;
}

/** The boot transaction committed: this process now holds the lock. */
export function lockHeld(holder: LockHolder): void {
  heldHere.add(holder.token);
}

/** Deletes this holder's row (inside the closing store's last group). */
export function releaseLock(db: DatabaseSync, holder: LockHolder): void {
  db.prepare("DELETE FROM store_lock WHERE token = ?").run(holder.token);
  heldHere.delete(holder.token);
}

/** Forgets the lock without deleting its row, as a process that dies does: the next open takes it over. */
export function dropLock(holder: LockHolder): void {
  heldHere.delete(holder.token);
}

function isLive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  if (holder.pid === process.pid) return heldHere.has(holder.token);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the pid exists but belongs to another user; only ESRCH says it is gone.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
