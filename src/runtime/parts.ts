/**
 * The parts of one runtime. The runtime's constructor makes each part and hands it this object; a
 * part calls the others through it directly (`parts.intake.send(...)`), so a reader's "go to
 * definition" lands on the code that runs. A part's constructor only keeps the object: the others
 * may not exist yet.
 *
 * @packageDocumentation
 */
import type { Limits } from "../kernel/limits.js";
import type { Clock } from "./clock.js";
import type { CommitGate } from "./commit-gate.js";
import type { Children } from "./delegation/children.js";
import type { Dispatcher } from "./dispatcher.js";
import type { EventBus } from "./event-bus.js";
import type { Intake } from "./intake.js";
import type { KeepAlive } from "./keep-alive.js";
import type { LeaseKeeper } from "./lease-keeper.js";
import type { RuntimeLog } from "./logger.js";
import type { MetricsCounters } from "./metrics.js";
import type { ModelTable } from "./model-table.js";
import type { Observer } from "./observer.js";
import type { ResolvedOptions } from "./options.js";
import type { Store } from "./ports/store.js";
import type { RunState } from "./run-state.js";
import type { Scheduler } from "./scheduler.js";
import type { SessionTable } from "./session-table.js";
import type { TurnDriver } from "./turn-driver.js";
import type { WaitGraph } from "./turn-scope.js";

export interface RuntimeParts {
  readonly options: ResolvedOptions;
  readonly limits: Limits;
  readonly clock: Clock;
  readonly store: Store;
  readonly run: RunState;
  readonly dispatcher: Dispatcher;
  readonly events: EventBus;
  /** The host's logger, behind redaction and containment. */
  readonly log: RuntimeLog;
  readonly metrics: MetricsCounters;
  /** Where measuring points report: metrics, failure logs, and the telemetry adapter if any. */
  readonly observer: Observer;
  readonly sessions: SessionTable;
  /** Tells nobody about a write before the commit that holds it. */
  readonly gate: CommitGate;
  /** Sends, idempotency, withdraw and cancel: input on its way in. */
  readonly intake: Intake;
  /** Which session's turn starts when. */
  readonly scheduler: Scheduler;
  /** Runs begun turns: feeds them events and performs their effects. */
  readonly driver: TurnDriver;
  /** The models agents name by strings, resolved at start. */
  readonly models: ModelTable;
  /** Background children; `undefined` when the store keeps no delegation log. */
  readonly children: Children | undefined;
  /** Which sessions' turns wait on which sessions' inputs (cycles are deadlocks). */
  readonly waits: WaitGraph;
  /** Holds the host process alive while work is accepted and unsettled. */
  readonly keepAlive: KeepAlive;
  /** Sessions shared with other processes; `undefined` unless the store has leases. */
  readonly leaseKeeper: LeaseKeeper | undefined;
}
