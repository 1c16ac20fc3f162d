// One process of the fleet benchmark's Offstage system (`systems/offstage-postgres.mjs`), run in this
// process rather than forked, so that `node --cpu-prof` profiles it (its main thread and the store's
// worker threads, one .cpuprofile each): S sessions × I no-op inputs sent in rounds, timed until every
// input's end is committed. Prints turns/s, this process's and its PostgreSQL backends' CPU-ms, turns
// per CPU-second and send→start p50. OFFSTAGE_DIST picks the build, as for the other benchmarks.
//
//   npm exec -- node --cpu-prof --cpu-prof-dir bench/.tmp/prof bench/lab/fleet-profile.mjs [--sessions 10000] [--inputs 2]
//   npm exec -- node bench/lab/profile-summary.mjs bench/.tmp/prof/<file>.cpuprofile
import { count } from "../lib/args.mjs";
import { cpuMeter, now, sleep } from "../lib/meters.mjs";
import { makePool, postgresCpuMeter } from "../lib/postgres.mjs";
import { openFleetMember } from "../systems/offstage-postgres.mjs";

const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 2);
const SCHEMA = "offstage_bench_fleet";

const pool = makePool({ max: 2 });
await pool.query(`drop schema if exists ${SCHEMA} cascade`);
const member = await openFleetMember();
const backends = await postgresCpuMeter("offstage bench-fleet-%");
const cpu = cpuMeter();
const started = now();
for (let round = 0; round < INPUTS; round++) {
  for (let s = 0; s < SESSIONS; s++) member.send(s);
  await member.flush();
}
const sentMs = now() - started;
for (;;) {
  const { rows } = await pool.query(
    `select count(*)::int as n from ${SCHEMA}.inputs where status not in ('queued', 'running')`,
  );
  if (rows[0].n >= SESSIONS * INPUTS) break;
  await sleep(5);
}
const elapsedMs = now() - started;
const backendCpuMs = await backends.end();
const { ownCpuMs } = cpu.end();
const latencies = member.latencies().sort((a, b) => a - b);
const turns = SESSIONS * INPUTS;
console.log(
  JSON.stringify({
    turnsPerS: Math.round((turns * 1000) / elapsedMs),
    elapsedMs: Math.round(elapsedMs),
    sendMs: Math.round(sentMs),
    ownCpuMs: Math.round(ownCpuMs),
    backendCpuMs: Math.round(backendCpuMs),
    perCpuS: Math.round((turns * 1000) / (ownCpuMs + backendCpuMs)),
    sendToStartP50Ms: Math.round(latencies[latencies.length >> 1] ?? Number.NaN),
  }),
);
await member.close();
await pool.query(`drop schema if exists ${SCHEMA} cascade`);
await pool.end();
