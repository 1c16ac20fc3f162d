/**
 * A terminal game loop that never awaits, with NPCs that talk through Offstage.
 *
 * Every frame (60 Hz) the loop moves the player, lets the host queue run the tool calls that must
 * see the game state (`host.drain({ budgetMs: 2 })`), asks each idle NPC for a line now and then
 * (`npc.slot.submit(...)`, refused while its last line is still being written) and takes whatever
 * line has arrived (`npc.slot.poll()`), then draws. The NPCs are sessions on an agent whose only
 * tool, `look_around`, runs on this loop's thread, so it reads the world without locks or copies.
 *
 * The runtime runs in a worker thread (`startRuntimeWorker`): model steps, store writes and the
 * runtime's bookkeeping take none of the loop's thread. Agents are functions, which do not cross
 * threads, so the worker imports this very file for its options (`options()` below); the rest runs
 * in the main thread only. `--thread main` runs the runtime in the loop's thread instead, between
 * frames, for comparison.
 *
 *   node examples/frame-loop/main.ts                  # draws until Ctrl-C
 *   node examples/frame-loop/main.ts --seconds 5 --json   # no drawing; prints frame timing as JSON
 *   node examples/frame-loop/main.ts --thread main        # the runtime in this thread
 *
 * The model is the offline demo model (`use <tool> {json}` calls a tool), with 250 ms of latency,
 * so it runs with no key and no network. Swap in a real model name to hear real NPCs.
 */
import { isMainThread } from "node:worker_threads";
import {
  createHostQueue,
  createMemoryStore,
  createRuntime,
  createSessionSlot,
  defineTool,
  type RuntimeOptions,
  type SessionSlot,
  silentLogger,
} from "offstage";
import { createDemoModel } from "offstage/demo";
import { startRuntimeWorker } from "offstage/worker";

const FRAME_MS = 1000 / 60;

interface Npc {
  readonly name: string;
  readonly x: number;
  readonly y: number;
  readonly slot: SessionSlot;
  /** The frame on which this NPC next asks for a line. */
  nextTalkFrame: number;
  line: string;
}

interface World {
  frame: number;
  playerX: number;
  playerY: number;
}

const world: World = { frame: 0, playerX: 20, playerY: 5 };
const npcs: Npc[] = [];

// Runs on the loop's thread, inside host.drain(): the world is read as it is this frame.
const lookAround = defineTool({
  name: "look_around",
  description: "What an NPC sees from where it stands.",
  schema: { type: "object", properties: { npc: { type: "string" } }, required: ["npc"] },
  executor: "host",
  timeoutMs: 2_000,
  execute: ({ npc }: { npc: string }) => {
    const me = npcs.find((n) => n.name === npc);
    if (me === undefined) return `nobody called ${npc} is here`;
    const dx = world.playerX - me.x;
    const dy = world.playerY - me.y;
    const steps = Math.abs(dx) + Math.abs(dy);
    const side = Math.abs(dx) >= Math.abs(dy) ? (dx >= 0 ? "east" : "west") : dy >= 0 ? "south" : "north";
    return `${npc} sees the traveller ${steps} steps ${side} on frame ${world.frame}`;
  },
});

/** The runtime's options: the worker imports this file and calls it (with `--thread main`, this thread does). */
export function options(): RuntimeOptions {
  return {
    store: createMemoryStore(),
    logger: silentLogger,
    agents: { npc: { model: createDemoModel({ latencyMs: 250 }), tools: [lookAround] } },
  };
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : (process.argv[index + 1] ?? "");
}

// Not awaited: the worker runtime imports this module in this thread too, to find its host tools,
// and an import of a module still in its top-level await would wait for itself.
if (isMainThread) void run();

/** The game, in the main thread: the runtime, the NPCs, and the loop. */
async function run(): Promise<void> {
  const seconds = option("seconds") === undefined ? Number.POSITIVE_INFINITY : Number(option("seconds"));
  const json = process.argv.includes("--json");
  const npcCount = Number(option("npcs") ?? 3);
  const thread = option("thread") ?? "worker";
  if (
    !(seconds > 0) ||
    !Number.isInteger(npcCount) ||
    npcCount < 0 ||
    npcCount > 26 ||
    !["worker", "main"].includes(thread)
  ) {
    console.error("usage: main.ts [--seconds <n>] [--npcs <0-26>] [--thread worker|main] [--json]");
    process.exit(2);
  }

  const host = createHostQueue();
  const runtime =
    thread === "worker"
      ? await startRuntimeWorker(import.meta.url, { exportName: "options", host })
      : createRuntime({ ...options(), host });
  if (thread === "main") await runtime.start();

  for (let i = 0; i < npcCount; i++) {
    const name = String.fromCharCode(65 + i);
    const session = runtime.session(`npc-${name}`, { agent: "npc" });
    npcs.push({
      name,
      x: 6 + ((i * 13) % 36),
      y: 2 + ((i * 5) % 8),
      slot: createSessionSlot(session, { name: `npc ${name}`, logger: silentLogger }),
      nextTalkFrame: i * 20,
      line: "…",
    });
  }

  const overrunsMs: number[] = [];
  const workMs: number[] = [];
  let linesHeard = 0;
  let refused = 0;
  const startedAt = performance.now();
  let dueAt = startedAt;
  let timer: NodeJS.Timeout | undefined;

  /** One frame: update, drain host calls, talk, draw. Synchronous from start to end. */
  function frame(): void {
    const begin = performance.now();
    overrunsMs.push(Math.max(0, begin - dueAt));
    world.frame += 1;
    const t = world.frame / 60;
    world.playerX = Math.round(24 + 16 * Math.cos(t / 2));
    world.playerY = Math.round(6 + 4 * Math.sin(t / 2));

    host.drain({ budgetMs: 2 });

    for (const npc of npcs) {
      // Poll before submitting: a submit replaces a finished line nobody took yet.
      const said = npc.slot.poll();
      if (typeof said === "string") {
        // The demo model's answer ends with the tool's report; a real model would speak for itself.
        npc.line = said
          .trim()
          .split("\n")
          .at(-1)!
          .replace(/^- look_around[^:]*: /, "");
        linesHeard += 1;
      }
      if (world.frame >= npc.nextTalkFrame) {
        // Refused (false) while the NPC's last line is still being written: it asks again next frame.
        if (npc.slot.submit(`use look_around {"npc":"${npc.name}"}`)) npc.nextTalkFrame = world.frame + 30;
        else refused += 1;
      }
    }

    if (!json && world.frame % 6 === 0) draw();
    workMs.push(performance.now() - begin);

    if (performance.now() - startedAt >= seconds * 1000) {
      void finish();
      return;
    }
    dueAt += FRAME_MS;
    timer = setTimeout(frame, Math.max(0, dueAt - performance.now()));
  }

  function draw(): void {
    const rows: string[][] = Array.from({ length: 12 }, () => Array.from({ length: 48 }, () => " "));
    for (const npc of npcs) rows[npc.y]![npc.x] = npc.name;
    rows[world.playerY]![world.playerX] = "@";
    const pending = npcs.filter((n) => n.slot.pending).length;
    const screen = [
      "\x1b[H\x1b[2J",
      `frame ${world.frame}  ·  ${pending} NPC(s) thinking  ·  host queue ${host.depth}`,
      `+${"-".repeat(48)}+`,
      ...rows.map((r) => `|${r.join("")}|`),
      `+${"-".repeat(48)}+`,
      ...npcs.map((n) => `${n.name}: ${n.line}`),
    ];
    process.stdout.write(`${screen.join("\n")}\n`);
  }

  function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  }

  let finished = false;

  async function finish(): Promise<void> {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    for (const npc of npcs) npc.slot.close();
    const hostMetrics = runtime.metrics().host!;
    await runtime.stop();
    const round = (ms: number) => Math.round(ms * 100) / 100;
    const summary = {
      frames: world.frame,
      seconds: round((performance.now() - startedAt) / 1000),
      overrunMs: {
        p50: round(percentile(overrunsMs, 50)),
        p99: round(percentile(overrunsMs, 99)),
        max: round(Math.max(...overrunsMs)),
      },
      frameWorkMs: {
        p50: round(percentile(workMs, 50)),
        p99: round(percentile(workMs, 99)),
        max: round(Math.max(...workMs)),
      },
      linesHeard,
      submitsRefused: refused,
      hostCalls: hostMetrics.ran,
      hostHoldMaxMs: round(hostMetrics.longest?.holdMs ?? 0),
    };
    console.log(json ? JSON.stringify(summary) : summary);
  }

  process.once("SIGINT", () => void finish());
  frame();
}
