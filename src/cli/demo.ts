/**
 * The guided demo behind `npm start`: a person can follow what Offstage does while it runs. Several
 * sessions receive inputs at once, the demo model asks real file tools to look at a small workspace,
 * and each inbox policy (reject, interrupt, merge, steer), a cancel and a withdraw are shown. It ends
 * with a summary: turns by status, dispatcher lag, send→start latency and throughput.
 *
 * Everything is offline and deterministic: the model is the demo model, clearly named as such.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createRuntime } from "../create-runtime.js";
import { isOffstageError } from "../errors.js";
import { createDemoModel } from "../models/demo/demo-model.js";
import type { RuntimeEvent } from "../runtime/events.js";
import { silentLogger } from "../runtime/logger.js";
import type { Store } from "../runtime/ports/store.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TurnHandle } from "../runtime/turn-handle.js";
import { createMemoryStore } from "../store/memory/memory-store.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store-options.js";
import { createFileTools } from "../tools/builtin/file-tools.js";

export interface DemoOptions {
  /** SQLite file; `undefined` keeps everything in memory. */
  readonly dbPath: string | undefined;
  readonly workspace: string;
  readonly quiet: boolean;
  readonly out: NodeJS.WritableStream;
}

const FILES: Record<string, string> = {
  "README.md": "# Demo workspace\n\nA small project the demo agents look at.\n",
  "src/app.ts": "export function greet(name: string) {\n  return 'hello ' + name;\n}\n",
  "src/util.ts": "export const sum = (a: number, b: number) => a + b;\nexport const id = <T>(x: T) => x;\n",
  "notes/todo.txt": "write the report\nreview the store\nship the demo\n",
  "notes/ideas.txt": "background sub-agents\nsteer at step boundaries\n",
};

/** Runs the demo and returns the process exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const write = (line: string) => options.out.write(`${line}\n`);
  // `--quiet` prints the summary (and why the demo could not start) and nothing else.
  const say = options.quiet ? () => {} : write;
  const show = say;
  const root = resolve(options.workspace);
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const store: Store =
    options.dbPath === undefined ? createMemoryStore() : createSqliteStore({ path: options.dbPath });
  const runtime = createRuntime({
    store,
    logger: silentLogger,
    delegation: { perParentRunningMax: 3 },
    agents: {
      assistant: {
        model: createDemoModel({ latencyMs: 40, slowOn: "slowly", slowMs: 1500 }),
        system: "You are a demo assistant that looks at files with tools.",
        tools: createFileTools({ root }),
      },
      lead: {
        model: createDemoModel({ latencyMs: 40, slowOn: "slowly", slowMs: 1200 }),
        system: "You lead a small team of background workers.",
        tools: createFileTools({ root }),
        delegates: true,
      },
      tally: {
        // A session that is a state machine, not a conversation: it counts what it was sent.
        run: (input, { history }) => `tally #${history.length / 2 + 1}: ${JSON.stringify(input)}`,
      },
    },
  });
  try {
    await runtime.start();
  } catch (error) {
    // A locked, damaged or newer file: say which and why, in one line, and leave it as it is.
    write(
      `offstage demo: cannot start: ${isOffstageError(error) ? `${error.code}: ${error.message}` : String(error)}`,
    );
    return 2;
  }
  say("Offstage demo — the model is the offline demo model; tools work on real files.");
  say(`  workspace: ${root}`);
  say(
    options.dbPath === undefined
      ? "  store: memory (nothing is kept after exit)"
      : `  store: SQLite at ${resolve(options.dbPath)} (receipts are ${runtime.receipt})`,
  );
  const earlier = runtime.sessionIds().length;
  if (earlier > 0) {
    say(
      `  found ${earlier} sessions from an earlier run; alice's history has ${historyOf(runtime, "alice")} messages`,
    );
  }
  const stopEvents = runtime.on(progress(show));
  let lastTick = "";
  const ticker = setInterval(() => {
    const m = runtime.metrics();
    const tick = `  … running ${m.runningTurns}, queued ${m.queuedInputs}, ended ${sum(m.ended)}`;
    // Repeating an unchanged line is noise; a changed one shows the work moving.
    if (tick !== lastTick) show(tick);
    lastTick = tick;
  }, 500);
  try {
    await scenes(runtime, say);
  } finally {
    clearInterval(ticker);
    stopEvents();
  }
  const metrics = runtime.metrics();
  const status = await runtime.stop({ drain: true, timeoutMs: 5_000 });
  await store.close();
  say("");
  write("Summary");
  write(`  stop status: ${status}`);
  write(`  inputs by status: ${formatCounts(metrics.ended)}`);
  write(
    `  dispatcher lag: p50 ${ms(metrics.dispatcherLag.p50Ms)}, p99 ${ms(metrics.dispatcherLag.p99Ms)}, max ${ms(metrics.dispatcherLag.maxMs)}`,
  );
  write(`  send→start: p50 ${ms(metrics.sendToStart.p50Ms)}, p99 ${ms(metrics.sendToStart.p99Ms)}`);
  write(
    `  throughput: ${metrics.throughputPerSecond.toFixed(1)} inputs/s over ${(metrics.uptimeMs / 1000).toFixed(1)} s`,
  );
  if (options.dbPath !== undefined)
    write("  run it again: the next run finds these sessions and their history.");
  return status === "clean" ? 0 : 1;
}

async function scenes(runtime: Runtime, say: (line: string) => void): Promise<void> {
  const alice = runtime.session("alice", { agent: "assistant" });
  const bob = runtime.session("bob", { agent: "assistant" });
  const carol = runtime.session("carol", { agent: "assistant" });
  const dave = runtime.session("dave", { agent: "assistant" });
  const tally = runtime.session("tally", { agent: "tally" });

  say("\n1. Four sessions at once; each session's inputs run one turn at a time, in order.");
  const first = [
    alice.send("list . and count src"),
    bob.send("read notes/todo.txt"),
    carol.send("stat README.md"),
    dave.send("count notes"),
    alice.send("read src/app.ts"),
    bob.send("list notes"),
    tally.send({ event: "signup", user: "erin" }),
    tally.send({ event: "login", user: "erin" }),
  ];
  await settleAll(first);

  say("\n2. Policy reject: a busy session refuses new input, and nothing is recorded.");
  const busy = bob.send("slowly read notes/ideas.txt");
  try {
    bob.send("are you there?", { policy: "reject" });
  } catch (error) {
    say(`   refused: ${isOffstageError(error) ? `${error.code}: ${error.message}` : String(error)}`);
  }

  say("\n3. Policy interrupt: carol starts slow work, then new input cancels it and runs next.");
  const slow = carol.send("slowly count src");
  await waitFor(slow, "running");
  const urgent = carol.send("stat src/app.ts", { policy: "interrupt" });
  await settleAll([slow, urgent]);
  say(
    `   first input ended ${slow.status} (${slow.poll()?.outcome.reason.code}); the urgent one ${urgent.status}`,
  );

  say("\n4. Policy merge: three inputs queued behind a running turn are answered by one turn.");
  const running = dave.send("slowly list .");
  await waitFor(running, "running");
  const merged = ["read notes/todo.txt", "read notes/ideas.txt", "stat README.md"].map((text) =>
    dave.send(text, { policy: "merge" }),
  );
  await settleAll([running, ...merged]);
  say(
    `   merged inputs share turn ${merged[0]?.turnId}: ${merged.every((h) => h.turnId === merged[0]?.turnId)}`,
  );

  say(
    "\n5. Policy steer: input joins alice's running turn at its next step boundary (after the tool results).",
  );
  const steered = alice.send("list src");
  await waitFor(steered, "running");
  const extra = alice.send("also read README.md", { policy: "steer" });
  await settleAll([steered, extra]);
  say(`   steered input answered by the same turn: ${extra.turnId === steered.turnId}`);

  say("\n6. Cancel and withdraw: a slow turn is cancelled; a queued input is withdrawn before it starts.");
  const doomed = bob.send("slowly read src/util.ts");
  const queued = bob.send("list .");
  queued.withdraw();
  await waitFor(doomed, "running");
  const cancelled = await doomed.cancel({ reason: "the user changed their mind" });
  await settleAll([busy]);
  say(`   cancelled turn: ${cancelled}; withdrawn input: ${queued.status}`);

  say("\n7. Background sub-agents: lead hands three folder jobs to workers and keeps answering.");
  const lead = runtime.session("lead", { agent: "lead" });
  const before = new Set(runtime.delegations.list({ parentSessionId: "lead" }).map((d) => d.id));
  const plan = lead.send(
    "delegate slowly count src; delegate slowly list notes; delegate slowly stat README.md",
  );
  await plan.result();
  const chat = lead.send("read notes/ideas.txt");
  await chat.result();
  say("   the lead answered a new question while its workers run");
  const over = lead.delegate({ goal: "count .", agent: "lead" });
  say(
    `   a fourth job while three run: ${over.status}${over.status === "rejected" ? ` (${over.code})` : ""}`,
  );
  while (
    runtime.delegations.list({ parentSessionId: "lead" }).some((d) => d.delivery !== "delivered") ||
    runtime.metrics().runningTurns > 0
  )
    await new Promise((r) => setTimeout(r, 20));
  const finished = runtime.delegations.list({ parentSessionId: "lead" }).filter((d) => !before.has(d.id));
  say(
    `   ${finished.length} results came back as new turns of lead: ${finished.map((d) => d.completion?.status).join(", ")}`,
  );
}

/**
 * Prints what happens as it happens: turns starting, tool calls, children, and each answer streamed
 * line by line as the model writes it (lines of sessions running at once interleave, each line whole
 * and labelled with its session).
 */
function progress(show: (line: string) => void): (event: RuntimeEvent) => void {
  /** The unfinished last line of each turn's answer so far, and whether the turn streamed anything. */
  const partial = new Map<string, string>();
  const answer = (sessionId: string, line: string) => show(`  [${sessionId}] │ ${line}`);
  return (event) => {
    switch (event.type) {
      case "turn.started":
        show(
          `  [${event.sessionId}] turn started (${event.inputIds.length} input${event.inputIds.length > 1 ? "s" : ""})`,
        );
        break;
      case "model.text": {
        const lines = `${partial.get(event.turnId) ?? ""}${event.delta}`.split("\n");
        partial.set(event.turnId, lines.pop()!);
        for (const line of lines) answer(event.sessionId, line);
        break;
      }
      case "tool.ended":
        show(
          `  [${event.sessionId}]   tool ${event.toolName} ${event.isError ? "failed" : "ok"} in ${ms(event.durationMs)}`,
        );
        break;
      case "delegation.dispatched":
        show(`  [${event.parentSessionId}] dispatched a worker (${shortId(event.childSessionId)})`);
        break;
      case "delegation.rejected":
        show(`  [${event.parentSessionId}] dispatch rejected: ${event.reason}`);
        break;
      case "delegation.completed":
        show(
          `  [${event.parentSessionId}] worker ${event.delegationId} finished ${event.status}; its result waits in the inbox`,
        );
        break;
      case "turn.ended": {
        const rest = partial.get(event.turnId);
        partial.delete(event.turnId);
        if (rest !== undefined && rest !== "") answer(event.sessionId, rest);
        const { outcome } = event;
        if (outcome.status !== "completed") {
          show(`  [${event.sessionId}] ${outcome.status}: ${outcome.reason.message}`);
        } else if (rest === undefined) {
          // Nothing streamed (a function agent): its output is the answer.
          const output = typeof outcome.output === "string" ? outcome.output : JSON.stringify(outcome.output);
          show(`  [${event.sessionId}] completed: ${output}`);
        } else {
          show(`  [${event.sessionId}] completed`);
        }
        break;
      }
      default:
        break;
    }
  };
}

async function settleAll(handles: readonly TurnHandle[]): Promise<void> {
  await Promise.all(handles.map((h) => h.result().catch(() => undefined)));
}

/** Resolves when the handle reaches `status` (or settles). Demo-only polling; hosts use events. */
async function waitFor(handle: TurnHandle, status: string): Promise<void> {
  while (handle.status !== status && !handle.done) await new Promise((r) => setTimeout(r, 5));
}

function historyOf(runtime: Runtime, sessionId: string): number {
  return runtime.sessionIds().includes(sessionId) ? runtime.session(sessionId).history().length : 0;
}

/** The worker part of a child session id (`parent>id`). */
function shortId(sessionId: string): string {
  return sessionId.slice(sessionId.lastIndexOf(">") + 1);
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function formatCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${status} ${n}`)
    .join(", ");
}

function ms(value: number): string {
  return value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(1)} ms`;
}
