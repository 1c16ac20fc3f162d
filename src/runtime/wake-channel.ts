/**
 * The wake channel carries "this session has new input" from `send()` to the scheduler. Wakes are the
 * fast path only: a lost wake delays work until the recovery poll, never loses it. In one process the
 * channel is a direct call; a shared database would carry wakes between processes (LISTEN/NOTIFY).
 *
 * @packageDocumentation
 */

/** Delivers wakes to one subscriber. */
export interface WakeChannel {
  notify(sessionId: string): void;
  /** Registers the scheduler's receiver; returns a function that unsubscribes. */
  subscribe(receiver: (sessionId: string) => void): () => void;
}

/** The in-process channel: a wake is delivered synchronously to the subscriber. */
export function createLocalWakeChannel(): WakeChannel {
  let receiver: ((sessionId: string) => void) | undefined;
  return {
    notify(sessionId) {
      receiver?.(sessionId);
    },
    subscribe(next) {
      receiver = next;
      return () => {
        if (receiver === next) receiver = undefined;
      };
    },
  };
}
