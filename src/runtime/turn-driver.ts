/**
 * The turn driver: runs begun turns. It feeds a turn's machine its events and performs the effects
 * the machine answers with — a model step, tool calls, a function agent's call (through
 * `turn-runner.ts`), an abort, a steered input dropped, the end. A turn's end is written to the
 * store at once and *finished* (its handles settle, its slot is freed, its session driven again)
 * only once the commit gate has seen it committed. Turns ended or let go of from outside their
 * machine (a stop, a lost lease, a failed store) are `turn-stops.ts`'s.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import { type Message, userMessage } from "../kernel/messages.js";
import type { Reason, TerminalStatus } from "../kernel/outcome.js";
import { endTurn } from "../kernel/session/inbox.js";
import { stepTurn, type TurnMachineEvent } from "../kernel/turn/turn-machine.js";
import { isFunctionAgent } from "./agent.js";
import { admitModelCall } from "./delegation/model-admission.js";
import type { TurnEvent } from "./events.js";
import type { LiveInput } from "./live-input.js";
import { LiveTurn, openingMessages } from "./live-turn.js";
import { callModel } from "./model-step.js";
import type { RuntimeParts } from "./parts.js";
import type { SessionEntry } from "./session-table.js";
import { TurnBatch } from "./turn-batch.js";
import { runFunction, runTools } from "./turn-runner.js";

/** Turn ends finished per dispatcher job; see `#finishCommitted`. */
const FINISHES_PER_JOB = 256;
const START: TurnMachineEvent = { type: "start" };
const NO_INPUTS: readonly LiveInput[] = [];

/** A turn resumed after a crash: its attempt, and the checkpointed messages and step it goes on from. */
export interface Resumed {
  readonly attempt: number;
  readonly messages: readonly Message[];
  readonly step: number;
}

export class TurnDriver {
  readonly #parts: RuntimeParts;
  /** Turns activated and not yet finished (their end may still wait for its commit). */
  #runningTurns = 0;
  /** Model, tool and function calls in flight. */
  #outstandingCalls = 0;
  /** Ends whose commit resolved, finished in order from `#committedHead` by bounded dispatcher jobs. */
  #committed: LiveTurn[] = [];
  #committedHead = 0;
  /** Called whenever work settles, while a stop waits for it. */
  onSettled: (() => void) | undefined;
  /** The batch `startAll` runs, while it runs. */
  #batch: TurnBatch | undefined;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  get runningTurns(): number {
    return this.#runningTurns;
  }

  get outstandingCalls(): number {
    return this.#outstandingCalls;
  }

  /**
   * Makes the turn of `inputs` (which it keeps as its inputs), loading the session's history: attempt
   * 1 of a new turn, or a later attempt of a turn resumed from its checkpoint. An arrow, so the
   * scheduler hands it to the inbox as it is.
   */
  readonly open = (entry: SessionEntry, turnId: string, inputs: LiveInput[], resumed?: Resumed): LiveTurn => {
    const { store, limits, dispatcher } = this.#parts;
    // Read at every turn from the store, which reads only what is new (an SQLite history is cached):
    // a session that always has work never holds a history that outgrows what the store keeps. Not
    // copied: nothing changes it before the turn's own end (the port's promise), each model step
    // builds its prompt as a new array anyway, and agents' code gets a copy.
    const history = store.history(entry.id);
    const { agent } = entry;
    const fn = isFunctionAgent(agent);
    return new LiveTurn(
      {
        turnId,
        attempt: resumed?.attempt ?? 1,
        kind: fn ? "function" : "model",
        modelCallsMax: (!fn && agent.modelCallsPerTurnMax) || limits.modelCallsPerTurnMax,
        toolCallsPerStepMax: (!fn && agent.toolCallsPerStepMax) || limits.toolCallsPerStepMax,
        inputs: openingMessages(inputs),
        resumedMessages: resumed?.messages,
        resumedStep: resumed?.step,
      },
      entry,
      inputs,
      history,
      dispatcher.monotonicNow(),
    );
  };

  /** The turn holds its session's inbox now: its inputs are running. */
  activate(turn: LiveTurn): void {
    const { metrics, children, events } = this.#parts;
    this.#runningTurns += 1;
    let completions: string[] | undefined;
    // Indexed loops on the turn's path: see bench/NOTES.md ("indexed loops").
    for (let i = 0; i < turn.inputs.length; i++) {
      const live = turn.inputs[i]!;
      live.markRunning(turn.turnId);
      metrics.started(turn.startedAtMs - live.sentAtMs);
      if (live.delegationId === undefined) continue;
      completions ??= [];
      completions.push(live.delegationId);
    }
    if (completions !== undefined) children?.delivered(completions);
    this.#parts.observer.turnStarted(turn);
    if (events.observed)
      this.emitTurn(turn, {
        type: "turn.started",
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        inputIds: turn.inputIds(),
        attempt: turn.attempt,
      });
  }

  start(turn: LiveTurn): void {
    this.feed(turn, START);
  }

  /** Starts begun turns as one batch (`turn-batch.ts`); `start` starts one, containing its throws. */
  startAll(turns: readonly LiveTurn[], start: (turn: LiveTurn) => void): void {
    const batch = new TurnBatch();
    this.#batch = batch;
    try {
      for (let i = 0; i < turns.length; i++) start(turns[i]!);
      batch.holding = "ends";
      const { answered, answers } = batch;
      for (let i = 0; i < answered.length; i++) this.#contained(answered[i]!, answers[i]);
    } finally {
      this.#batch = undefined;
    }
    for (let i = 0; i < batch.ended.length; i++) this.#contained(batch.ended[i]!, undefined);
  }

  /**
   * Feeds the turn its held answer, or writes its held end (no `answer`); a throw (a store write
   * that failed) is reported, not rethrown, so the batch's other turns go on.
   */
  #contained(turn: LiveTurn, answer: TurnMachineEvent | undefined): void {
    try {
      if (answer === undefined) this.#writeEnd(turn);
      else this.feed(turn, answer);
    } catch (error) {
      const what = answer === undefined ? "end" : "answer";
      this.#parts.events.report(`${what} of turn ${turn.turnId}`, error, {
        sessionId: turn.sessionId,
        turnId: turn.turnId,
      });
    }
  }

  /** A sent input joined the running turn (policy `steer`); the model sees it at the next step boundary. */
  steer(turn: LiveTurn, live: LiveInput): void {
    const { turnId, attempt } = turn;
    this.#parts.store.steer({ inputId: live.id, sessionId: turn.sessionId, turnId, attempt });
    live.markRunning(turnId);
    this.#parts.observer.steered(turn, live);
    const { events } = this.#parts;
    if (events.listening)
      events.emit({ type: "input.steered", sessionId: turn.sessionId, inputId: live.id, turnId });
    this.feed(turn, { type: "steer", inputId: live.id, message: userMessage(live.payload) });
  }

  /**
   * Feeds the turn's machine an event and performs the effects it answers with. A turn its session
   * let go of (a stop or a failed store abandoned it) takes no more events: its late results are
   * dropped, and it writes nothing.
   */
  feed(turn: LiveTurn, event: TurnMachineEvent): void {
    if (turn.entry.turn !== turn) return;
    if (this.#batch?.holdAnswer(turn, event) === true) return;
    if (event.type === "cancel") {
      const { mode, status, reason } = event.request;
      this.#parts.observer.cancelRequested(turn, mode, status, reason.code);
    }
    const effects = stepTurn(turn, event);
    for (let i = 0; i < effects.length; i++) {
      const effect = effects[i]!;
      switch (effect.type) {
        case "call_model":
          this.#callModel(turn, effect.step);
          break;
        case "run_tools":
          runTools(this.#parts, turn, effect.step, effect.calls);
          break;
        case "run_function":
          if (isFunctionAgent(turn.entry.agent)) runFunction(this.#parts, turn, turn.entry.agent);
          break;
        case "drop":
          this.#drop(turn, effect.inputId, effect.status, effect.reason);
          break;
        case "abort":
          turn.controller ??= new AbortController();
          turn.controller.abort(new OffstageError("TURN_CANCELLED", effect.reason.message));
          break;
        case "end":
          this.#end(turn, effect.unsteered);
          break;
      }
    }
  }

  /** Emits a turn's event to the listeners and to the handles of its inputs. */
  emitTurn(turn: LiveTurn, event: TurnEvent): void {
    this.#parts.events.emitTo(turn.inputs, event);
  }

  callStarted(): void {
    this.#outstandingCalls += 1;
  }

  callEnded(): void {
    this.#outstandingCalls -= 1;
    this.onSettled?.();
  }

  /** A running turn was let go of without an end (`abandonTurn`): its slot is free. */
  letGo(): void {
    this.#runningTurns -= 1;
    this.#parts.scheduler.releaseSlot();
    this.onSettled?.();
  }

  /** Every running turn was let go of at once (`detachAll`). */
  letGoAll(): void {
    this.#runningTurns = 0;
  }

  /** Turn ends whose commit resolved: finished in bounded dispatcher jobs. */
  committed(turns: readonly LiveTurn[]): void {
    const idle = this.#committed.length === this.#committedHead;
    for (let i = 0; i < turns.length; i++) this.#committed.push(turns[i]!);
    if (idle) this.#parts.dispatcher.post("turn ends", this.#finishCommitted);
  }

  #callModel(turn: LiveTurn, step: number): void {
    const { store, children } = this.#parts;
    if (step > 1) {
      const { turnId, sessionId, attempt, messages } = turn;
      store.checkpoint({ turnId, sessionId, attempt, step: step - 1, messages });
    }
    if (children === undefined) this.#modelCallAdmitted(turn, step);
    else
      admitModelCall(
        this.#parts,
        turn,
        () => this.#modelCallAdmitted(turn, step),
        (verdict) => {
          const reason: Reason = { code: "budget_exceeded", message: verdict.message };
          this.feed(turn, { type: "cancel", request: { mode: "immediate", status: "failed", reason } });
        },
      );
  }

  #modelCallAdmitted(turn: LiveTurn, step: number): void {
    const { agent } = turn.entry;
    if (!isFunctionAgent(agent)) callModel(this.#parts, turn, agent, step);
  }

  /** A steered input the model never saw leaves its turn (the turn goes on) and ends on its own. */
  #drop(turn: LiveTurn, inputId: string, status: TerminalStatus, reason: Reason): void {
    // The turn's inputs are its inbox's running inputs: taken out here, it is out of both.
    const at = turn.inputs.findIndex((live) => live.id === inputId);
    if (at < 0) return;
    const live = turn.inputs[at]!;
    turn.inputs.splice(at, 1);
    live.leaveTurn();
    this.#parts.intake.endAlone(live, turn.entry, live, status, reason, "cancel");
  }

  /** The machine ended the turn: its end is written now, or after the answers `startAll` feeds. */
  #end(turn: LiveTurn, unsteered: readonly string[]): void {
    turn.ended = true;
    turn.unsteered = unsteered;
    if (this.#batch?.holdEnd(turn) !== true) this.#writeEnd(turn);
  }

  /**
   * Writes the turn's end; the commit gate holds it until that write is committed. Not when its
   * session let go of it meanwhile (a store write of an earlier held end failed).
   */
  #writeEnd(turn: LiveTurn): void {
    if (turn.entry.turn !== turn) return;
    const { store, dispatcher, children, gate } = this.#parts;
    const { entry, unsteered } = turn;
    const outcome = turn.outcome!;
    store.endTurn({
      turnId: turn.turnId,
      sessionId: entry.id,
      attempt: turn.attempt,
      outcome,
      messages: turn.messages,
      inputIds: turn.inputIds(),
      requeued: unsteered,
      usage: turn.usage,
      endedAtMs: dispatcher.epochNow(),
    });
    // A child that is now settled writes its completion in this same store group.
    const queued = entry.queue.length + unsteered.length;
    if (children !== undefined) {
      const span = turn.telemetry;
      if (span === undefined) children.turnEnded(entry.id, outcome, turn.messages, turn.usage, queued);
      // Inside the turn's trace context: a child that completes now links its completion to this turn.
      else span.run(() => children.turnEnded(entry.id, outcome, turn.messages, turn.usage, queued));
    }
    gate.holdTurnEnd(turn);
  }

  /**
   * Finishes committed ends in bounded jobs: a group can hold thousands, and each may start (and,
   * with a synchronous model, end) its session's next turn, so one job for all of them would hold
   * the thread long enough to starve host IO and timers. A job finishes all of its turns, then
   * drives the scheduler for them (1.13x the throughput of finishing and driving turn by turn:
   * bench/NOTES.md).
   */
  readonly #finishCommitted = (): void => {
    const { dispatcher, scheduler } = this.#parts;
    const committed = this.#committed;
    const first = this.#committedHead;
    const stop = Math.min(committed.length, first + FINISHES_PER_JOB);
    this.#committedHead = stop;
    for (let i = first; i < stop; i++) this.#finish(committed[i]!);
    dispatcher.refreshTime();
    scheduler.pump(committed, first, stop);
    for (let i = first; i < stop; i++) scheduler.poke(committed[i]!.entry);
    this.onSettled?.();
    if (this.#runningTurns === 0) this.#parts.keepAlive.settled();
    if (this.#committedHead < this.#committed.length) {
      dispatcher.post("turn ends", this.#finishCommitted);
    } else {
      this.#committed = [];
      this.#committedHead = 0;
    }
  };

  /** The turn's end is committed: settle its handles and free its slot (its caller drives). */
  #finish(turn: LiveTurn): void {
    const { entry, unsteered } = turn;
    const outcome = turn.outcome!;
    if (entry.turn !== turn) return;
    // Held no more (cut off past its lease): its end may have been refused; the store has the truth.
    const keeper = this.#parts.leaseKeeper;
    if (keeper !== undefined && !keeper.holds(entry.id)) {
      keeper.letGo(entry);
      return;
    }
    const { events, metrics, scheduler, intake, dispatcher } = this.#parts;
    // Taken before the inbox moves the unseen steered inputs back to its queue: the turn's end is
    // told to every input it held.
    const held = events.observed ? [...turn.inputs] : undefined;
    const requeued =
      unsteered.length === 0 ? NO_INPUTS : turn.inputs.filter((live) => unsteered.includes(live.id));
    endTurn(entry, turn.turnId, requeued);
    this.#runningTurns -= 1;
    scheduler.releaseSlot();
    if (held !== undefined)
      events.emitTo(held, {
        type: "turn.ended",
        sessionId: entry.id,
        turnId: turn.turnId,
        inputIds: held.map((live) => live.id),
        outcome,
        usage: turn.usage,
        durationMs: dispatcher.monotonicNow() - turn.startedAtMs,
      });
    this.#parts.observer.turnEnded(turn);
    for (let i = 0; i < requeued.length; i++) requeued[i]!.markQueued();
    for (let i = 0; i < turn.inputs.length; i++) {
      const live = turn.inputs[i]!;
      intake.keys.forget(live);
      live.settle(outcome, turn.turnId, turn.usage);
      metrics.ended(outcome.status);
    }
  }
}
