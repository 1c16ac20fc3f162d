/**
 * What the crash test's parent and child agree on: the child's configuration, the report lines it
 * writes to stdout, the effect markers its agents append to a log, and the files they share.
 *
 * Reports go to stdout one JSON line each, written with `writeSync` on fd 1 (not `process.stdout`,
 * whose writes to a pipe are asynchronous on POSIX): once the call returns, the line is in the pipe
 * and survives a `kill -9` right after it. So the parent never misses a report the child finished
 * writing, and a line cut short by the kill is dropped, never half-read.
 *
 * @packageDocumentation
 */
import { join } from "node:path";

/** `work`: recover, then run the workload until killed. `drain`: recover, finish everything, stop. */
export type ChildMode = "work" | "drain";

/** The child's whole configuration, passed as one JSON argument. */
export interface ChildConfig {
  readonly dir: string;
  readonly mode: ChildMode;
  /** Which start this is (0 for the first); part of every token and marker the child makes. */
  readonly incarnation: number;
  readonly seed: number;
  readonly groupCommitMs: number;
  /** Both survive `kill -9` (`normal` only loses commits to a power loss or an OS crash). */
  readonly durability: "full" | "normal";
  readonly sessions: number;
  /**
   * `delegation.staleAfterMs` of this process; `undefined` keeps the default (24 h). A short one
   * holds the completions still waiting at the start, for the workload to deliver or drop.
   */
  readonly staleAfterMs: number | undefined;
  /** Inputs the parent saw accepted and not yet settled: the child follows them to their end. */
  readonly outstanding: readonly string[];
  /**
   * Set for a process of the fleet test (`test/fleet/`): the child runs on this PostgreSQL schema,
   * beside other processes, instead of the SQLite file (`groupCommitMs` and `durability` unused).
   */
  readonly postgres?: PostgresChild | undefined;
  /** A `work` child ends itself after this long (default 60 s), so a broken parent leaves no orphan. */
  readonly lifetimeMs?: number | undefined;
}

/** Where a fleet process's store lives and what it is called there. */
export interface PostgresChild {
  readonly connectionString: string;
  readonly schema: string;
  /** The process's name in the lease table: a restart may reuse the name of the process it replaces. */
  readonly processId: string;
  readonly leaseMs: number;
}

/** A line the child writes to stdout. */
export type Report =
  /** `children`: background children still running after recovery (restored from the file). */
  | {
      readonly t: "ready";
      readonly recovered: number;
      readonly resumed: number;
      readonly children: number;
    }
  /**
   * An input whose durable receipt arrived (`resend`: an idempotent send that returned a handle).
   * Never written before `handle.stored()` resolved `durable`.
   */
  | {
      readonly t: "accepted";
      readonly id: string;
      readonly session: string;
      readonly token: string;
      readonly key: string | undefined;
      readonly policy: string;
      readonly resend: boolean;
    }
  /** A handle settled; for a turn's end or a withdrawal only after the store committed it. */
  | {
      readonly t: "settled";
      readonly id: string;
      readonly status: string;
      readonly code: string;
      readonly turnId: string | undefined;
      /** {@link digest} of the outcome's output as JSON (`-` when there is none). */
      readonly output: string;
    }
  /** `runtime.handle(id)` knew nothing of an input the parent saw accepted: a lost input. */
  | { readonly t: "missing"; readonly id: string }
  /**
   * Background children dispatched (by the host or by a model's `delegate` tool), each with its
   * parent session. Never written before a commit holding their dispatch resolved.
   */
  | { readonly t: "dispatched"; readonly delegations: readonly DispatchedChild[] }
  | { readonly t: "violation"; readonly message: string }
  | { readonly t: "drained"; readonly status: string };

export interface DispatchedChild {
  readonly id: string;
  readonly parent: string;
}

/** An effect a tool or a function agent performed, appended to `effects.log` as it happens. */
export type Marker =
  | {
      readonly k: "tool";
      readonly inc: number;
      readonly session: string;
      readonly turnId: string;
      readonly callId: string;
      readonly nonce: string;
    }
  | {
      readonly k: "fn-start" | "fn-done" | "fn-abort" | "fn-throw";
      readonly inc: number;
      readonly session: string;
      readonly turnId: string;
      readonly nonce: string;
    };

/** A key the child is about to send with, appended to `keys.log` before the send. */
export interface KeyRecord {
  readonly key: string;
  readonly session: string;
  readonly token: string;
}

/** The files of one crash run, all under its directory. */
export function pathsOf(dir: string) {
  return {
    database: join(dir, "store.sqlite"),
    workspace: join(dir, "workspace"),
    effects: join(dir, "effects.log"),
    keys: join(dir, "keys.log"),
  };
}

/** Every input's user message carries its token, so history can be searched for it exactly. */
export const TOKEN_PATTERN = /#t(\d+)\.(\d+)#/g;

export function tokenOf(incarnation: number, n: number): string {
  return `#t${incarnation}.${n}#`;
}

/** What the tool wrapper puts in front of a tool's output, so history names the execution it holds. */
export const EFFECT_PATTERN = /^\[effect (\S+)\]/;

/** FNV-1a of a text, in hex: names an output without carrying it. */
export function digest(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

/** What a report or the store says about an outcome's output, as {@link digest} compares it. */
export function outputDigest(output: unknown): string {
  return output === undefined ? "-" : digest(JSON.stringify(output));
}

/** Parses a JSON-lines text, skipping a last line cut short by a kill. */
export function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // Only the line being written when the process died can be torn; the next start appends after it.
    }
  }
  return out;
}
