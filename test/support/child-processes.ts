/**
 * Child processes a test starts (real processes, killed with SIGKILL): {@link keepChild} keeps one,
 * {@link killChildren} kills those still alive and waits for their exit. Call it after each test.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

const children: ChildProcess[] = [];

/** Keeps `child` for {@link killChildren}; returns it. */
export function keepChild(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

/** SIGKILLs every kept child still alive, and resolves once each has exited. */
export async function killChildren(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
}
