/**
 * What a pool's worker thread runs for each worker tool call: imports the module that exports the
 * tool (once per module), finds the tool by name and runs its `execute`. It imports nothing of
 * Offstage's, so the worker starts with only this file to load.
 *
 * @packageDocumentation
 */

/** The data a call carries into the worker (a `WorkerCall` without its signal). */
interface WorkerTask {
  readonly module: string;
  readonly toolName: string;
  readonly args: unknown;
  readonly sessionId: string;
  readonly turnId: string;
  readonly toolCallId: string;
}

interface ExportedTool {
  readonly name: string;
  execute(args: unknown, context: object): unknown;
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * The worker cannot be told to stop but is terminated instead, so the signal a tool sees here never
 * fires.
 */
const NEVER = new AbortController().signal;

export default async function runWorkerTool(task: WorkerTask): Promise<unknown> {
  let loading = modules.get(task.module);
  if (loading === undefined) {
    loading = import(task.module) as Promise<Record<string, unknown>>;
    modules.set(task.module, loading);
  }
  const exports = await loading;
  const tool = findTool(exports, task.toolName);
  if (tool === undefined) {
    throw new Error(
      `the module ${task.module} exports no tool named ${JSON.stringify(task.toolName)} (a worker tool's module must export it, by any name or in an exported array)`,
    );
  }
  const { sessionId, turnId, toolCallId } = task;
  return tool.execute(task.args, { signal: NEVER, sessionId, turnId, toolCallId });
}

function findTool(exports: Record<string, unknown>, name: string): ExportedTool | undefined {
  for (const value of Object.values(exports)) {
    for (const candidate of Array.isArray(value) ? value : [value]) {
      if (isTool(candidate) && candidate.name === name) return candidate;
    }
  }
  return undefined;
}

function isTool(value: unknown): value is ExportedTool {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<ExportedTool>).name === "string" &&
    typeof (value as Partial<ExportedTool>).execute === "function"
  );
}
