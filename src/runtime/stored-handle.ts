/**
 * The handle of an input that is not live in this process: settled from what the store says of
 * it, or, while another process runs it, following the store until it settles there.
 *
 * @packageDocumentation
 */
import { LiveInput } from "./live-input.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord, InputSnapshot } from "./ports/store.js";
import { TurnHandle } from "./turn-handle.js";
import { DETACHED } from "./turn-stops.js";

/** A handle for a stored input that is not live here (see the file's story). */
export function storedHandle(parts: RuntimeParts, snapshot: InputSnapshot): TurnHandle {
  const { leaseKeeper, run, store } = parts;
  // Live in another process: the handle follows what the store says of it.
  if (snapshot.outcome === undefined && leaseKeeper !== undefined && run.state === "running")
    return leaseKeeper.follow(snapshot.id, () => followed(parts, snapshot));
  const handle = new TurnHandle(parts, snapshot.id, snapshot.sessionId, snapshot.status);
  handle.markStored(store.receipt);
  if (snapshot.outcome !== undefined) handle.settle(snapshot.outcome, snapshot.turnId, undefined);
  // Not live and not terminal: the runtime is not running (or its store fails). Settle it as
  // stop() (or the store's failure) settles live handles, or nothing would ever settle it (the
  // next start, or the recovery, tracks the input with a new handle).
  else handle.settle(parts.health.keptOutcome() ?? DETACHED, undefined, undefined);
  return handle;
}

/** The live input of a stored input that another process runs, for its handle here to follow. */
function followed(parts: RuntimeParts, snapshot: InputSnapshot): LiveInput {
  const { dispatcher, store } = parts;
  const record: InputRecord = {
    id: snapshot.id,
    sessionId: snapshot.sessionId,
    seq: 0,
    payload: snapshot.payload,
    policy: "enqueue",
    acceptedAtMs: dispatcher.epochNow(),
  };
  const status = snapshot.status === "running" ? "running" : "queued";
  const live = new LiveInput(parts, record, status, "enqueue", dispatcher.stamp());
  live.markStored(store.receipt);
  return live;
}
