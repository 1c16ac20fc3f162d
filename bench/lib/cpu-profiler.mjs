// A CPU profile of one stretch of a benchmark, taken from inside the process (node --cpu-prof
// profiles the whole run; recovery wants only start() → the first recovered turn).
import { Session } from "node:inspector/promises";

/** Starts V8's CPU profiler in this process; `stop()` resolves with the profile. */
export async function startProfiler() {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      return profile;
    },
  };
}
