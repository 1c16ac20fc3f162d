/**
 * A batch of turns started together (`TurnDriver.startAll`, for the turns one scheduler pump
 * begins). Run one by one, each turn would go from its start through its model call, its answer
 * and the store write of its end before the next one starts: with a synchronous model that is all
 * one call chain, whose code no longer fits the instruction cache. In a batch the chain is cut in
 * three parts, each run for every turn in a row: the starts (answers of synchronous models are
 * held), then the answers (the ends they decide are held), then the ends' writes. Each turn sees
 * the same events in the same order, and all of it happens in one synchronous run, before the
 * commit that holds the ends (bench/NOTES.md, "start all, then answer").
 *
 * @packageDocumentation
 */
import type { TurnMachineEvent } from "../kernel/turn/turn-machine.js";
import type { LiveTurn } from "./live-turn.js";

export class TurnBatch {
  /** What is held now: model answers while the turns start, turn ends while the answers are fed. */
  holding: "answers" | "ends" = "answers";
  /** Turns whose model answered while they started, and the answers, index-aligned. */
  readonly answered: LiveTurn[] = [];
  readonly answers: TurnMachineEvent[] = [];
  /** Turns those answers ended, whose ends are written last. */
  readonly ended: LiveTurn[] = [];

  /** Holds a model's answer while the batch starts; false when it is to be fed now. */
  holdAnswer(turn: LiveTurn, event: TurnMachineEvent): boolean {
    if (this.holding !== "answers" || event.type !== "model.done") return false;
    this.answered.push(turn);
    this.answers.push(event);
    return true;
  }

  /** Holds a turn's end while the answers are fed; false when it is to be written now. */
  holdEnd(turn: LiveTurn): boolean {
    if (this.holding !== "ends") return false;
    this.ended.push(turn);
    return true;
  }
}
