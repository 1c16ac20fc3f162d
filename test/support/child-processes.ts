/**
 * Child processes a test starts (real processes, killed with SIGKILL): {@link keepChild} keeps one,
 * {@link firstLine} reads the line it says it is ready with, {@link killChildren} kills those still
 * alive and waits for their exit (call it after each test).
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

const children: ChildProcess[] = [];

/** Keeps `child` for {@link killChildren}; returns it. */
export function keepChild(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

/** The first line `child` writes to its stdout (piped), without its line end. */
export async function firstLine(child: ChildProcess): Promise<string> {
  let out = "";
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes("\n")) break;
  }
  return out.trim();
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
