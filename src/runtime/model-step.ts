/**
 * A model step: builds the request — the system prompt, the session's history and the turn's
 * messages, the agent's settings, then whatever the agent's `prepareStep` changes for this call —
 * streams the model's answer into an assistant message (text, reasoning, files and tool calls in the
 * order they came, with what the provider attached to each), and feeds the turn's machine
 * `model.done` or `model.failed`.
 *
 * Retries. A transient failure — a 429 or 5xx, a timeout, a dropped connection, a stream that ended
 * before the answer did — is tried again in place, after an exponential backoff with jitter that
 * honours the provider's `retry-after` (`retry` option, `kernel/retry-policy.ts`). Each retry is a
 * `model.retry` event. A retry starts the step clean: nothing of the failed try reaches the history,
 * and the event says how much streamed text to drop. It writes no step checkpoint (the turn's
 * checkpoint was written before the step began and still holds). A cancel during the backoff ends
 * the wait at once. Any other failure fails the turn with the provider's message.
 *
 * Fast path: a step whose system prompt is a string, with no `prepareStep`, whose model returns a
 * synchronous iterable is drained inline, with no promise, timer or dispatcher hop.
 *
 * @packageDocumentation
 */
import { ModelCallError } from "../errors.js";
import { type Message, systemMessage } from "../kernel/messages.js";
import { describeCause } from "../kernel/outcome.js";
import { decideRetry, type RetryPolicy } from "../kernel/retry-policy.js";
import type { ModelAgent, StepOverrides } from "./agent.js";
import type { LiveTurn } from "./live-turn.js";
import { retryPolicyOf } from "./model-agent-options.js";
import { checkStepOverrides, requestSettings } from "./model-request.js";
import type { RuntimeParts } from "./parts.js";
import type { Model, ModelPart, ModelRequest, ModelSettings, ModelTool } from "./ports/model.js";
import { classifyModelError, describeModelError } from "./ports/model-failure.js";
import { StepAnswer } from "./step-answer.js";

const NO_PROMPT: readonly Message[] = [];
const NO_TOOLS: readonly ModelTool[] = [];

/** The system prompt a `system` function gave each running turn (computed once per turn). */
const turnSystems = new WeakMap<LiveTurn, Message | null>();
/** Models seen to answer with a synchronous iterable: their steps get no idle timer or own signal. */
const syncModels = new WeakSet<Model>();

/** Runs one model step of `turn` (its number is `step`) and feeds its result. */
export function callModel(parts: RuntimeParts, turn: LiveTurn, agent: ModelAgent, step: number): void {
  new ModelStep(parts, turn, agent, step).begin();
}

class ModelStep {
  readonly #parts: RuntimeParts;
  readonly #turn: LiveTurn;
  readonly #agent: ModelAgent;
  readonly #model: Model;
  readonly #step: number;
  #policy: RetryPolicy | undefined;
  // The request without its signal, which each try adds: kept as fields rather than one object that
  // each try spreads (bench/NOTES.md, "no request spread").
  #prompt: readonly Message[] = NO_PROMPT;
  #tools: readonly ModelTool[] = NO_TOOLS;
  #settings: ModelSettings | undefined;
  #tries = 0;
  #answer: StepAnswer | undefined;
  #timer: unknown;

  constructor(parts: RuntimeParts, turn: LiveTurn, agent: ModelAgent, step: number) {
    this.#parts = parts;
    this.#turn = turn;
    this.#agent = agent;
    this.#model = parts.models.of(agent.model);
    this.#step = step;
  }

  begin(): void {
    const turn = this.#turn;
    const agent = this.#agent;
    this.#parts.driver.callStarted();
    if (agent.prepareStep === undefined && typeof agent.system !== "function") {
      this.#build(turn.entry.system, undefined);
      this.#try();
      return;
    }
    void this.#prepare().then(
      () => this.#parts.dispatcher.post("model.prepared", () => this.#try()),
      (error: unknown) =>
        this.#parts.dispatcher.post("model.prepare failed", () =>
          this.#end(undefined, `${describeCause(error)}`, "context_error"),
        ),
    );
  }

  /** Builds the request with the system prompt and `prepareStep`'s changes, which may take time. */
  async #prepare(): Promise<void> {
    const turn = this.#turn;
    const agent = this.#agent;
    let system = turn.entry.system;
    if (typeof agent.system === "function") {
      let cached = turnSystems.get(turn);
      if (cached === undefined) {
        const text = await agent.system({
          sessionId: turn.sessionId,
          turnId: turn.turnId,
          signal: turn.signal,
          history: turn.history.slice(),
        });
        if (typeof text !== "string")
          throw new TypeError(`system() must return a string; it returned ${typeof text}`);
        cached = text === "" ? null : systemMessage(text);
        turnSystems.set(turn, cached);
      }
      system = cached ?? undefined;
    }
    let overrides: StepOverrides | undefined;
    if (agent.prepareStep !== undefined) {
      const answer = await agent.prepareStep({
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        step: this.#step,
        signal: turn.signal,
        system: system?.role === "system" ? system.content : undefined,
        messages: turn.history.concat(turn.messages),
        usage: turn.usage,
      });
      overrides = checkStepOverrides(answer);
    }
    this.#build(system, overrides);
  }

  /** Sets the request's prompt, tools and settings. */
  #build(system: Message | undefined, overrides: StepOverrides | undefined): void {
    const turn = this.#turn;
    const systemText = overrides?.system;
    const opening =
      systemText === undefined ? system : systemText === "" ? undefined : systemMessage(systemText);
    // A new array in every case: the model may keep its prompt, so it must not see later turns' messages.
    const given = overrides?.messages;
    const prompt =
      given !== undefined
        ? opening === undefined
          ? given.slice()
          : [opening].concat(given)
        : opening === undefined
          ? turn.history.concat(turn.messages)
          : [opening].concat(turn.history, turn.messages);
    let tools: readonly ModelTool[] = turn.entry.tools!.modelTools;
    const active = overrides?.activeTools;
    if (active !== undefined) tools = tools.filter((tool) => active.includes(tool.name));
    this.#prompt = prompt;
    this.#tools = tools;
    this.#settings = requestSettings(this.#agent, overrides);
  }

  /** Starts one try; its end comes back to `#tryEnded`. */
  #try(): void {
    const { observer, clock } = this.#parts;
    const turn = this.#turn;
    this.#tries += 1;
    const answer = new StepAnswer(turn.attempt, this.#step, clock.monotonicMs());
    this.#answer = answer;
    // Cancelled while the request was prepared or a backoff's retry waited for the dispatcher.
    if (turn.ended || turn.controller?.signal.aborted === true) {
      answer.settled = true;
      answer.fail(turn.signal.reason);
      this.#end(answer, describeModelError(answer.error), undefined);
      return;
    }
    const own = syncModels.has(this.#model) ? undefined : new AbortController();
    const abortSignal = own === undefined ? turn.signal : AbortSignal.any([turn.signal, own.signal]);
    const prompt = this.#prompt;
    const tools = this.#tools;
    const settings = this.#settings;
    const request: ModelRequest =
      settings === undefined ? { prompt, tools, abortSignal } : { ...settings, prompt, tools, abortSignal };
    const span = observer.modelCallStarted(turn, this.#step, this.#model.id, request);
    if (span === undefined) this.#stream(answer, request, own);
    else {
      answer.span = span;
      // The model runs inside its call's trace context: a provider's own spans nest under it.
      span.run(() => this.#stream(answer, request, own));
    }
  }

  /** Calls the model and takes its parts: inline for a synchronous iterable, else in the background. */
  #stream(answer: StepAnswer, request: ModelRequest, own: AbortController | undefined): void {
    let stream: ReturnType<Model["stream"]>;
    let sync: boolean;
    try {
      stream = this.#model.stream(request);
      // Inside the try: a hostile return value (a proxy) can throw when asked what it is.
      sync = isSyncIterable(stream);
    } catch (error) {
      answer.fail(error);
      this.#tryEnded(answer);
      return;
    }
    // Told only when it changes (`own` is undefined for a model already known to be synchronous).
    if (sync) {
      if (own !== undefined) syncModels.add(this.#model);
      const given = stream as Iterable<ModelPart>;
      try {
        if (Array.isArray(given)) {
          // Indexed: no iterator per step (bench/NOTES.md).
          for (let i = 0; i < given.length; i++) if (!this.#take(answer, given[i])) break;
        } else {
          for (const part of given) if (!this.#take(answer, part)) break;
        }
      } catch (error) {
        answer.fail(error);
      }
      this.#tryEnded(answer);
      return;
    }
    if (own === undefined) syncModels.delete(this.#model);
    else this.#watchIdle(answer, own);
    void (async () => {
      try {
        for await (const part of await stream) if (!this.#take(answer, part)) break;
      } catch (error) {
        answer.fail(error);
      }
      this.#parts.dispatcher.post("model.done", () => this.#tryEnded(answer));
    })();
  }

  /** Abandons the try when nothing streams for `idleTimeoutMs` (checked once per period: parts stay cheap). */
  #watchIdle(answer: StepAnswer, own: AbortController): void {
    const { clock, dispatcher } = this.#parts;
    const idleMs = this.#retryPolicy().idleTimeoutMs;
    let seen = answer.seen;
    const check = () => {
      if (answer.settled) return;
      if (answer.seen !== seen) {
        seen = answer.seen;
        this.#timer = clock.setTimeout(check, idleMs);
        return;
      }
      dispatcher.post("model.idle", () => {
        if (answer.settled) return;
        const error = new ModelCallError(`the model sent nothing for ${idleMs} ms`, { retryable: true });
        answer.fail(error);
        own.abort(error);
        this.#tryEnded(answer);
      });
    };
    this.#timer = clock.setTimeout(check, idleMs);
  }

  #take(answer: StepAnswer, part: ModelPart): boolean {
    // A stream may go on after its turn ended, was aborted or its try was abandoned: nothing it says
    // after that may reach the history or the handle's events.
    const turn = this.#turn;
    if (answer.settled || turn.ended || turn.controller?.signal.aborted === true) return false;
    // Taken first: the answer checks the part, so only a well-formed delta is told to listeners.
    if (!answer.add(part)) return false;
    if (
      (part.type === "text-delta" || part.type === "reasoning-delta") &&
      part.delta !== "" &&
      this.#parts.events.observed
    ) {
      const text = part.type === "text-delta";
      if (text) answer.emittedChars += part.delta.length;
      this.#parts.driver.emitTurn(turn, {
        type: text ? "model.text" : "model.reasoning",
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        delta: part.delta,
      });
    }
    return true;
  }

  /** A try ended: retry it, or end the step. Runs in a dispatcher job or inline on the fast path. */
  #tryEnded(answer: StepAnswer): void {
    if (answer.settled || answer !== this.#answer) return;
    answer.settled = true;
    this.#clearTimer();
    const decision = this.#decide(answer);
    this.#parts.observer.modelCallEnded(this.#turn, answer, this.#model.id, decision?.delayMs);
    if (decision === undefined || decision.message !== undefined)
      this.#end(answer, decision?.message, undefined);
    else this.#backoff(answer, decision.delayMs!, decision.statusCode);
  }

  /**
   * What follows a try: nothing to decide when it succeeded (`undefined`); else the step's failure
   * `message`, or a retry after `delayMs`.
   */
  #decide(
    answer: StepAnswer,
  ): { message?: string; delayMs?: number; statusCode?: number | undefined } | undefined {
    if (!answer.failed) {
      answer.finish();
      return undefined;
    }
    const turn = this.#turn;
    if (turn.ended || turn.signal.aborted) return { message: describeModelError(answer.error) };
    const failure = classifyModelError(answer.error);
    if (!failure.retryable) return { message: this.#failureMessage(answer.error, undefined) };
    const decision = decideRetry(
      this.#retryPolicy(),
      this.#tries,
      failure.retryAfterMs,
      this.#parts.options.random(),
    );
    if (!decision.retry) return { message: this.#failureMessage(answer.error, decision.why) };
    return { delayMs: decision.delayMs, statusCode: failure.statusCode };
  }

  /** Waits `delayMs`, then tries again; a cancel of the turn ends the wait at once. */
  #backoff(answer: StepAnswer, delayMs: number, statusCode: number | undefined): void {
    const { clock, dispatcher, events, driver } = this.#parts;
    const turn = this.#turn;
    const policy = this.#retryPolicy();
    if (events.observed) {
      driver.emitTurn(turn, {
        type: "model.retry",
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        step: this.#step,
        failedTry: this.#tries,
        attemptsMax: policy.attemptsMax,
        delayMs,
        ...(statusCode === undefined ? {} : { statusCode }),
        error: describeModelError(answer.error),
        discardedChars: answer.emittedChars,
      });
    }
    const signal = turn.signal;
    const onAbort = () => {
      this.#clearTimer();
      dispatcher.post("model.backoff cancelled", () =>
        this.#end(answer, describeModelError(answer.error), undefined),
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      signal.removeEventListener("abort", onAbort);
      dispatcher.post("model.retry", () => this.#try());
    }, delayMs);
  }

  /** Ends the step: feeds its answer, or its failure with `message`. */
  #end(answer: StepAnswer | undefined, message: string | undefined, code: "context_error" | undefined): void {
    const { driver, events } = this.#parts;
    const turn = this.#turn;
    driver.callEnded();
    const step = this.#step;
    if (answer === undefined || answer.failed) {
      driver.feed(turn, {
        type: "model.failed",
        attempt: turn.attempt,
        step,
        error: message ?? "the model step failed",
        ...(code === undefined ? {} : { code }),
      });
      return;
    }
    if (events.observed && !turn.ended) {
      driver.emitTurn(turn, {
        type: "model.step",
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        step,
        modelId: this.#model.id,
        finishReason: answer.finishReason ?? (answer.toolCalls.length > 0 ? "tool-calls" : "stop"),
        usage: answer.usage,
        tries: this.#tries,
        ...(answer.responseId === undefined ? {} : { responseId: answer.responseId }),
        ...(answer.providerMetadata === undefined ? {} : { providerMetadata: answer.providerMetadata }),
      });
    }
    driver.feed(turn, answer);
  }

  #failureMessage(error: unknown, why: string | undefined): string {
    const tries = this.#tries;
    const said = describeModelError(error);
    if (why !== undefined) return `${said} (${why})`;
    return tries === 1 ? said : `${said} (after ${tries} tries)`;
  }

  #retryPolicy(): RetryPolicy {
    this.#policy ??= retryPolicyOf(this.#agent);
    return this.#policy;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#parts.clock.clearTimeout(this.#timer as object);
      this.#timer = undefined;
    }
  }
}

function isSyncIterable<T>(value: unknown): value is Iterable<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Iterable<T>)[Symbol.iterator] === "function"
  );
}
