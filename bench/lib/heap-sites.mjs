// Allocation by site: V8's sampling heap profiler over `run` (objects the GC collected included),
// each sample named by the innermost frame whose file `owns` (so a built-in such as Array.map or
// Map.set counts for its caller, with the built-in named after an arrow).
import { Session } from "node:inspector/promises";

/** Resolves with `{ bySite: Map<site, bytes>, total }` for the allocations made while `run` ran. */
export async function allocationSites(run, owns, samplingInterval = 256) {
  const inspector = new Session();
  inspector.connect();
  await inspector.post("HeapProfiler.enable");
  await inspector.post("HeapProfiler.startSampling", {
    samplingInterval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await run();
  const { profile } = await inspector.post("HeapProfiler.stopSampling");
  inspector.disconnect();
  const bySite = new Map();
  let total = 0;
  const walk = (node, stack) => {
    const frame = node.callFrame;
    const url = frame.url.replace(/^file:\/\//, "").replace(/^.*\/(dist|node_modules|bench)\//, "$1/");
    const here = {
      name: `${frame.functionName || "(anonymous)"}  ${url}${url ? `:${frame.lineNumber + 1}` : ""}`,
      url,
    };
    if (node.selfSize > 0) {
      const own = owns(url) ? here : (stack.findLast((s) => owns(s.url)) ?? here);
      const site = own === here ? here.name : `${own.name}  → ${frame.functionName || "(native)"}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child, [...stack, here]);
  };
  walk(profile.head, []);
  return { bySite, total };
}

/** The `top` sites of `bySite` by bytes, largest first. */
export const topSites = (bySite, top) => [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top);
