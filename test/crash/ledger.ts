/**
 * The parent's ledger: what the children reported, across every kill. It is built only from report
 * lines, so it holds exactly what a host would have been told — an input counts as accepted once
 * its durable receipt was reported, and as settled once its handle settled.
 *
 * Checks made as reports arrive: one input id per token and per idempotency key (a resend, even
 * after a kill, returns the original input); a settled input never settles again differently; an
 * input the parent saw accepted is never unknown to a restarted runtime; a background child is
 * reported dispatched under one parent only.
 *
 * @packageDocumentation
 */
import type { Report } from "./protocol.js";

export interface Settlement {
  readonly status: string;
  readonly code: string;
  readonly turnId: string | undefined;
  /** The output's digest, as the handle saw it. */
  readonly output: string;
  /** The process that reported it. */
  readonly inc: number;
}

export interface InputFact {
  readonly id: string;
  readonly session: string;
  readonly token: string;
  readonly policy: string;
  readonly acceptedInc: number;
  settled: Settlement | undefined;
}

export class Ledger {
  readonly inputs = new Map<string, InputFact>();
  /** Background children whose dispatch was reported committed: id → parent session and process. */
  readonly delegations = new Map<string, { readonly parent: string; readonly inc: number }>();
  readonly #tokens = new Map<string, string>();
  readonly #keys = new Map<string, string>();
  readonly violations: string[] = [];
  readonly counts: Record<string, number> = {};
  drained: string | undefined;

  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  fail(message: string): void {
    this.violations.push(message);
  }

  /** Inputs accepted and not yet settled: the next process follows them. */
  outstanding(): string[] {
    const ids: string[] = [];
    for (const fact of this.inputs.values()) if (fact.settled === undefined) ids.push(fact.id);
    return ids;
  }

  apply(inc: number, report: Report): void {
    switch (report.t) {
      case "ready":
        this.count("restarts (runtime.started)");
        this.count("queued inputs recovered", report.recovered);
        this.count("turns resumed", report.resumed);
        this.count("children running at a restart", report.children);
        return;
      case "dispatched":
        for (const child of report.delegations) {
          const known = this.delegations.get(child.id);
          if (known !== undefined && known.parent !== child.parent)
            this.fail(
              `process ${inc}: delegation ${child.id} was reported dispatched by ${child.parent}, earlier by ${known.parent} (process ${known.inc})`,
            );
          else if (known === undefined) this.delegations.set(child.id, { parent: child.parent, inc });
          this.count("delegations dispatched (reported committed)");
        }
        return;
      case "accepted":
        this.#accepted(inc, report);
        return;
      case "settled":
        this.#settled(inc, report);
        return;
      case "missing": {
        const fact = this.inputs.get(report.id);
        this.fail(
          `process ${inc}: input ${report.id} (${fact?.token ?? "?"}, durably accepted in process ${fact?.acceptedInc ?? "?"}) is unknown to the restarted runtime: lost`,
        );
        return;
      }
      case "violation":
        this.fail(`process ${inc}: ${report.message}`);
        return;
      case "drained":
        this.drained = report.status;
        return;
    }
  }

  #accepted(inc: number, r: Extract<Report, { t: "accepted" }>): void {
    this.count(r.resend ? "idempotent resends reported" : `accepted (${r.policy})`);
    const byToken = this.#tokens.get(r.token);
    if (byToken !== undefined && byToken !== r.id) {
      this.fail(
        `process ${inc}: ${r.token} (key ${String(r.key)}) was accepted as input ${byToken} and again as ${r.id}: an idempotent resend made a second input`,
      );
    }
    this.#tokens.set(r.token, r.id);
    if (r.key !== undefined) {
      const byKey = this.#keys.get(r.key);
      if (byKey !== undefined && byKey !== r.id)
        this.fail(`process ${inc}: idempotency key ${r.key} returned input ${r.id}, earlier ${byKey}`);
      this.#keys.set(r.key, r.id);
    }
    const fact = this.inputs.get(r.id);
    if (fact === undefined) {
      this.inputs.set(r.id, {
        id: r.id,
        session: r.session,
        token: r.token,
        policy: r.policy,
        acceptedInc: inc,
        settled: undefined,
      });
    } else if (fact.token !== r.token || fact.session !== r.session) {
      this.fail(`process ${inc}: input ${r.id} was reported as ${fact.token} and as ${r.token}`);
    }
  }

  #settled(inc: number, r: Extract<Report, { t: "settled" }>): void {
    const fact = this.inputs.get(r.id);
    if (fact === undefined) {
      this.fail(
        `process ${inc}: input ${r.id} settled (${r.status}) before its acceptance was reported durable: a handle settled ahead of the commit`,
      );
      return;
    }
    const was = fact.settled;
    if (was === undefined) {
      fact.settled = { status: r.status, code: r.code, turnId: r.turnId, output: r.output, inc };
      this.count(`settled ${r.status}/${r.code}`);
      return;
    }
    if (
      was.status !== r.status ||
      was.output !== r.output ||
      (r.turnId !== undefined && was.turnId !== r.turnId)
    ) {
      this.fail(
        `input ${r.id} settled ${was.status}/${was.code} in turn ${String(was.turnId)} with output ${was.output} (process ${was.inc}), then ${r.status}/${r.code} in turn ${String(r.turnId)} with output ${r.output} (process ${inc})`,
      );
    }
  }
}
