/**
 * The driver's sends: `session.send()` under every policy (idempotent re-sends with the same or a
 * different payload included) and `session.invoke()`. Each call is checked against a prediction made
 * from the checker's ledger alone — refused with which code, the same input again, queued (and which
 * turn it interrupts), or steered into which running turn — and a refused call must change nothing.
 */
import { isOffstageError, TurnCancelled, TurnTimeout } from "../../src/errors.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import { weighted } from "./actions.js";
import type { DriverParts } from "./driver-parts.js";

const POLICY_WEIGHTS: Record<"default" | "steer_heavy", [Policy, number][]> = {
  default: [
    ["enqueue", 30],
    ["reject", 15],
    ["interrupt", 15],
    ["merge", 15],
    ["steer", 25],
  ],
  steer_heavy: [
    ["enqueue", 15],
    ["reject", 5],
    ["interrupt", 20],
    ["merge", 15],
    ["steer", 45],
  ],
};

type Prediction =
  | { readonly kind: "refused"; readonly code: string }
  | { readonly kind: "same"; readonly inputId: string }
  | { readonly kind: "queued"; readonly interrupts: string | undefined }
  | { readonly kind: "steered"; readonly turnId: string };

export class SendDriver {
  readonly #p: DriverParts;
  /** Idempotency keys the driver used, per session: key → the input it names and its payload JSON. */
  readonly #keys = new Map<string, Map<string, { inputId: string; json: string; payload: unknown }>>();
  #payloads = 0;

  constructor(parts: DriverParts) {
    this.#p = parts;
  }

  /** What the runtime must do with this send, from the ledger alone. */
  #predict(sessionId: string, policy: Policy, key: string | undefined, json: string): Prediction {
    const p = this.#p;
    const state = p.runtime().state;
    if (state !== "running")
      return { kind: "refused", code: state === "stopping" ? "STOPPING" : "NOT_RUNNING" };
    const known = key === undefined ? undefined : this.#keys.get(sessionId)?.get(key);
    if (known !== undefined) {
      return known.json === json
        ? { kind: "same", inputId: known.inputId }
        : { kind: "refused", code: "IDEMPOTENCY_CONFLICT" };
    }
    const open = p.checker.openTurn(sessionId);
    const queued = p.checker.queued(sessionId).length;
    if (policy === "reject" && (open !== undefined || queued > 0))
      return { kind: "refused", code: "SESSION_BUSY" };
    if (policy === "steer" && open !== undefined) return { kind: "steered", turnId: open.id };
    if (queued >= p.config.inboxLengthMax) return { kind: "refused", code: "INBOX_FULL" };
    return { kind: "queued", interrupts: policy === "interrupt" ? open?.id : undefined };
  }

  /** `session.send()` to a driver session under a weighted policy; `keyed` with an idempotency key. */
  send(keyed: boolean): void {
    const p = this.#p;
    const r = p.r;
    const sessionId = r.pick(p.config.sessions).id;
    const policy = weighted(
      r,
      POLICY_WEIGHTS[p.config.profile === "steer_heavy" ? "steer_heavy" : "default"],
    );
    let key: string | undefined;
    let payload: unknown;
    if (keyed) {
      key = `k${r.int(0, 3)}`;
      const known = this.#keys.get(sessionId)?.get(key);
      payload = known !== undefined && r.chance(0.6) ? known.payload : this.#payload();
    } else payload = this.#payload();
    const json = JSON.stringify(payload);
    const expect = this.#predict(sessionId, policy, key, json);
    const before = p.fingerprint();
    let handle: TurnHandle | undefined;
    let error: unknown;
    try {
      handle = p
        .session(sessionId)
        .send(payload, key === undefined ? { policy } : { policy, idempotencyKey: key });
    } catch (e) {
      error = e;
    }
    if (handle !== undefined) p.checker.sent(handle);
    const got =
      handle !== undefined
        ? `${handle.id} ${handle.status}`
        : `threw ${isOffstageError(error) ? error.code : String(error)}`;
    p.trace.add(
      `> send ${sessionId} ${json} ${policy}${key === undefined ? "" : ` key=${key}`} -> ${got} (expected ${expect.kind}${"code" in expect ? ` ${expect.code}` : ""})`,
    );
    const fail = (why: string) =>
      p.checker.fail(`send to ${sessionId} (${policy}${key === undefined ? "" : `, key ${key}`}): ${why}`);
    p.checker.count(`send ${expect.kind}${"code" in expect ? ` ${expect.code}` : ""}`);
    if (expect.kind === "refused") {
      if (handle !== undefined) {
        fail(`accepted as ${handle.id}; expected ${expect.code}`);
        return;
      }
      if (!isOffstageError(error) || error.code !== expect.code) {
        fail(`threw ${String(error)}; expected ${expect.code}`);
        return;
      }
      if (p.fingerprint() !== before) fail(`a refused send changed state: ${before} -> ${p.fingerprint()}`);
      return;
    }
    if (handle === undefined) {
      fail(`threw ${String(error)}; expected ${expect.kind}`);
      return;
    }
    if (expect.kind === "same") {
      if (handle.id !== expect.inputId) {
        fail(`returned input ${handle.id}; the key names ${expect.inputId}`);
        return;
      }
      const live = p.checker.inputs.get(handle.id)?.state !== "terminal";
      if (live && handle !== p.runtime().handle(handle.id))
        fail(`an idempotent re-send returned a copy, not the live handle`);
      if (p.fingerprint() !== before)
        fail(`an idempotent re-send changed state: ${before} -> ${p.fingerprint()}`);
      p.keep(handle, "resend");
      return;
    }
    const fact = p.checker.inputs.get(handle.id);
    if (fact === undefined) {
      fail(`input ${handle.id} was accepted without an input.accepted event`);
      return;
    }
    if (key !== undefined) {
      let keys = this.#keys.get(sessionId);
      if (keys === undefined) {
        keys = new Map();
        this.#keys.set(sessionId, keys);
      }
      keys.set(key, { inputId: handle.id, json, payload });
    }
    p.keep(handle, "send");
    if (expect.kind === "steered") {
      if (handle.status !== "running" || handle.turnId !== expect.turnId)
        fail(
          `expected to be steered into ${expect.turnId}; the handle is ${handle.status} in ${String(handle.turnId)}`,
        );
      return;
    }
    if (handle.status !== "queued" || fact.state !== "queued")
      fail(`expected queued; handle ${handle.status}, ledger ${fact.state}`);
    if (expect.interrupts !== undefined)
      p.checker.expectTurnEnd(expect.interrupts, ["interrupted"], `interrupt send ${handle.id}`);
  }

  #payload(): unknown {
    const p = this.#p;
    this.#payloads += 1;
    return p.r.chance(0.3) ? `m${this.#payloads}` : { n: this.#payloads, by: "driver" };
  }

  /** `session.invoke()`: send and wait in one call (never with steer: its handle is not returned). */
  invoke(): void {
    const p = this.#p;
    const r = p.r;
    const sessionId = r.pick(p.config.sessions).id;
    const policy = r.pick<Policy>(["enqueue", "reject", "interrupt", "merge"]);
    const payload = this.#payload();
    const expect = this.#predict(sessionId, policy, undefined, JSON.stringify(payload));
    const timeout = r.int(0, 400);
    const before = p.fingerprint();
    const promise = p.session(sessionId).invoke(payload, { policy, timeoutMs: timeout });
    p.trace.add(
      `> invoke ${sessionId} ${JSON.stringify(payload)} ${policy} timeout=${timeout} (expected ${expect.kind})`,
    );
    p.checker.watch(promise, `invoke(${sessionId})`);
    const refused = expect.kind === "refused";
    if (refused && p.fingerprint() !== before)
      p.checker.fail(`a refused invoke changed state: ${before} -> ${p.fingerprint()}`);
    if (!refused && p.fingerprint() === before)
      p.checker.fail(`invoke (${policy}) accepted nothing; expected ${expect.kind}`);
    promise.then(
      (result) => {
        p.trace.add(`  invoke -> ${result.inputId} ${result.status}`);
        if (refused) p.checker.fail(`invoke (${policy}) resolved; expected ${expect.code}`);
      },
      (error: unknown) => {
        p.trace.add(`  invoke threw ${isOffstageError(error) ? error.code : String(error)}`);
        if (refused) {
          if (!isOffstageError(error) || error.code !== expect.code)
            p.checker.fail(`invoke (${policy}) threw ${String(error)}; expected ${expect.code}`);
        } else if (!(error instanceof TurnTimeout) && !(error instanceof TurnCancelled)) {
          p.checker.fail(`invoke (${policy}) threw ${String(error)}`);
        }
      },
    );
  }
}
