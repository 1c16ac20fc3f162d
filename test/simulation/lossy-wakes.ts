/** The simulated wake channel: wakes go missing, late or twice, as on a lossy bus. */
import type { WakeChannel } from "../../src/runtime/wake-channel.js";
import type { World } from "./world.js";

/** A wake channel that drops, delays and duplicates wakes; the recovery poll must cover for it. */
export function lossyWakes(world: World): WakeChannel {
  let receiver: ((sessionId: string) => void) | undefined;
  const { wakeDropP, wakeDelayP, wakeDupP } = world.config;
  const r = world.streams.wakes;
  return {
    notify(sessionId) {
      if (!world.alive()) return;
      const roll = r.next();
      if (roll < wakeDropP) {
        world.count("wake dropped");
        world.trace.add(`wake ${sessionId} dropped`);
        return;
      }
      if (roll < wakeDropP + wakeDelayP) {
        const delayMs = r.int(0, 60);
        world.trace.add(`wake ${sessionId} delayed ${delayMs}ms`);
        world.clock.setTimeout(() => receiver?.(sessionId), delayMs);
        return;
      }
      receiver?.(sessionId);
      if (r.chance(wakeDupP)) receiver?.(sessionId);
    },
    subscribe(next) {
      receiver = next;
      return () => {
        if (receiver === next) receiver = undefined;
      };
    },
  };
}
