// Measuring a phase: wall time, this process's CPU and the machine's, what the heap allocated and
// what GC cost. This VM shares its host, so every number comes with how busy the rest of the machine
// was (`otherCores`), and allocation, which contention does not change, sits beside time.
import { readFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";
import { fmtCores } from "./format.mjs";
import { log } from "./log.mjs";

export const now = () => performance.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The event loop turns once: lets timers, IO and progress tickers run inside long loops. */
export const yieldLoop = () => new Promise((resolve) => setImmediate(resolve));

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Forces a full collection when the script runs with --expose-gc (bench/run.mjs passes it). */
export async function settleHeap() {
  if (typeof globalThis.gc !== "function") return false;
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

/** Busy and total CPU jiffies of the whole machine, from /proc/stat (undefined off Linux). */
function machineJiffies() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = cpu[3] + (cpu[4] ?? 0);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Starts measuring CPU: this process's own (user + system, GC threads included) and the machine's.
 * `end()` returns `{ wallMs, ownCpuMs, otherCores }`: `otherCores` is how many cores' worth of CPU
 * other processes used meanwhile (0 on a quiet machine, up to the core count on a saturated one), so
 * a reader can tell a slow run from a contended one.
 */
export function cpuMeter() {
  const wall0 = performance.now();
  const own0 = process.cpuUsage();
  const m0 = machineJiffies();
  return {
    end() {
      const wallMs = performance.now() - wall0;
      const own = process.cpuUsage(own0);
      const ownCpuMs = (own.user + own.system) / 1000;
      const m1 = machineJiffies();
      let otherCores;
      if (m0 !== undefined && m1 !== undefined && m1.total > m0.total) {
        const cores = os.availableParallelism();
        const busyCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores;
        otherCores = Math.max(0, busyCores - ownCpuMs / wallMs);
      }
      return { wallMs, ownCpuMs, otherCores };
    },
  };
}

/**
 * Starts counting what the heap allocates and what GC costs, with V8's GC profiler. `end()` returns
 * `{ allocatedBytes, gcMs, gcs }`. Allocation is the sum of used-heap growth between collections (V8
 * reports the used size before and after each GC), so short-lived objects count too. Contention from
 * other processes does not change it, which makes it a steadier signal than time on a shared machine.
 */
export function gcMeter() {
  const profiler = new v8.GCProfiler();
  const used0 = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  return {
    end() {
      const used1 = v8.getHeapStatistics().used_heap_size;
      const data = profiler.stop();
      let allocated = 0;
      let prev = used0;
      let gcUs = 0;
      for (const s of data?.statistics ?? []) {
        allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
        prev = s.afterGC.heapStatistics.usedHeapSize;
        gcUs += s.cost;
      }
      allocated += Math.max(0, used1 - prev);
      return { allocatedBytes: allocated, gcMs: gcUs / 1000, gcs: data?.statistics?.length ?? 0 };
    },
  };
}

/**
 * Waits (up to `maxS` seconds) until the machine has been quiet for a second: other processes using
 * less than `thresholdCores`. Returns the busy cores last seen. On a shared machine this keeps a
 * benchmark from starting in the middle of someone's test run; it cannot stop one starting later.
 */
export async function waitQuiet(maxS, thresholdCores = 0.3) {
  const deadline = performance.now() + maxS * 1000;
  let said = false;
  for (;;) {
    const meter = cpuMeter();
    await sleep(1000);
    const { otherCores } = meter.end();
    if (otherCores === undefined || otherCores < thresholdCores) return otherCores;
    if (performance.now() > deadline) {
      log(`machine still busy (${fmtCores(otherCores)} used by other processes); going ahead`);
      return otherCores;
    }
    if (!said) log(`waiting for a quiet machine (${fmtCores(otherCores)} used by other processes)...`);
    said = true;
  }
}

/**
 * Wall-clock milliseconds with a fraction, comparable across a producer and the workers of a peer
 * (one process), where a job's payload carries its send time.
 */
export const wallNow = () => performance.timeOrigin + performance.now();
