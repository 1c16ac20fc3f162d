// A fleet: P processes of one system on one PostgreSQL database, each forked with lib/fleet-member.mjs,
// each sending the inputs of every P-th session and running whatever work the system hands it. The
// parent only orders and measures: it starts the clock when it says "go" and stops it when the
// system's database says every completion is committed (`system.committed()`).
//
// A fleet system is `{ name, label, processes, module, applicationName, options, check(),
// prepare(pool), committed(pool, total), cleanup(pool) }`: `module` (a file: URL) exports
// `openFleetMember(name, options)` for lib/fleet-member.mjs, whose connections' application_name is LIKE `applicationName`;
// `prepare` makes a fresh schema before each run, `committed` resolves true once `total` completions
// are committed, `cleanup` drops what `prepare` made. `pool` is the parent's own (lib/postgres.mjs).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Latency } from "./latency.mjs";
import { log, ticker } from "./log.mjs";
import { cpuMeter, now, sleep } from "./meters.mjs";
import { makePool, postgresCpuMeter } from "./postgres.mjs";

const MEMBER = fileURLToPath(new URL("./fleet-member.mjs", import.meta.url));
/** A member that is not ready by then is stuck connecting or migrating. */
const READY_TIMEOUT_MS = 60_000;
/** A run that has not drained by then is stuck; the fleet is torn down and the run fails. */
const DRAIN_TIMEOUT_MS = 300_000;

/** One forked member, its last `ran` count and a way to wait for its next message of a type. */
function startMember(system) {
  const child = fork(MEMBER, [], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map();
  const state = { child, ran: 0, failed: undefined };
  child.on("message", (message) => {
    if (message.t === "ran") state.ran = message.n;
    else if (message.t === "error") state.failed = message.message;
    waiting.get(message.t)?.(message);
    waiting.delete(message.t);
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  state.next = (t, timeoutMs = DRAIN_TIMEOUT_MS) =>
    Promise.race([
      new Promise((resolve) => waiting.set(t, resolve)),
      exited.then((code) => {
        throw new Error(
          `${system.name}: a member exited (code ${code}) before "${t}": ${state.failed ?? ""}`,
        );
      }),
      sleep(timeoutMs).then(() => {
        throw new Error(`${system.name}: no "${t}" from a member within ${timeoutMs} ms`);
      }),
    ]);
  state.exited = exited;
  return state;
}

/**
 * One run: a fresh schema, `system.processes` members started and ready (untimed), then every input
 * of `sessions` × `inputs` sent in rounds and run to its committed completion (timed). Returns
 * turns/s, the CPU of the members and of the PostgreSQL backends that served them, the machine's
 * other load, and send→start percentiles over every member's samples.
 */
export async function runFleet(system, { sessions, inputs }) {
  const pool = makePool({ max: 2 });
  const members = [];
  try {
    await system.prepare(pool);
    for (let i = 0; i < system.processes; i++) members.push(startMember(system));
    await Promise.all(
      members.map((m) => {
        m.child.send({ t: "open", module: system.module, system: system.name, options: system.options });
        return m.next("ready", READY_TIMEOUT_MS);
      }),
    );
    const total = sessions * inputs;
    const machine = cpuMeter();
    const postgres = await postgresCpuMeter(system.applicationName);
    const started = now();
    members.forEach((m, index) => {
      m.child.send({ t: "go", index, processes: members.length, sessions, inputs });
    });
    const ran = () => members.reduce((sum, m) => sum + m.ran, 0);
    const stop = ticker(() => log(`  ${ran()}/${total} started`));
    try {
      const deadline = started + DRAIN_TIMEOUT_MS;
      for (;;) {
        const failed = members.find((m) => m.failed !== undefined);
        if (failed !== undefined) throw new Error(`${system.name}: a member failed: ${failed.failed}`);
        if (ran() >= total && (await system.committed(pool, total))) break;
        if (now() > deadline) throw new Error(`${system.name}: not drained within ${DRAIN_TIMEOUT_MS} ms`);
        await sleep(5);
      }
    } finally {
      stop();
    }
    const elapsedMs = now() - started;
    const backendCpuMs = await postgres.end();
    const wall = machine.end();
    const stats = await Promise.all(
      members.map((m) => {
        m.child.send({ t: "stats" });
        return m.next("stats");
      }),
    );
    const latency = new Latency();
    for (const s of stats) for (const ms of s.latencies) latency.recordMs(ms);
    const membersCpuMs = stats.reduce((sum, s) => sum + s.cpuMs, 0);
    // The machine's busy cores less this fleet's (members and their backends): other engineers'
    // work on this shared VM, and PostgreSQL's own background processes.
    const fleetCores = (membersCpuMs + backendCpuMs) / elapsedMs;
    const machineCores = (wall.otherCores ?? 0) + wall.ownCpuMs / elapsedMs;
    return {
      elapsedMs,
      perSecond: (total * 1000) / elapsedMs,
      membersCpuMs,
      backendCpuMs,
      perCpuSecond: (total * 1000) / (membersCpuMs + backendCpuMs),
      otherCores: Math.max(0, machineCores - fleetCores),
      latency: latency.stats(),
      ranPerMember: stats.map((s) => s.ran),
    };
  } finally {
    for (const m of members) if (m.child.connected) m.child.send({ t: "close" });
    await Promise.all(
      members.map((m) =>
        Promise.race([m.exited, sleep(20_000).then(() => m.child.kill("SIGKILL"))]).catch(() => undefined),
      ),
    );
    await system.cleanup(pool).catch((error) => log(`${system.name}: cleanup failed: ${error.message}`));
    await pool.end();
  }
}
