/**
 * Offstage: runs AI-agent work — model turns, tool calls, background sub-agents — off the host's
 * loop, so the host never waits and no accepted work is lost, duplicated or left hanging.
 *
 * @packageDocumentation
 */
export {
  BootError,
  CapacityError,
  DeadlockError,
  InvalidInputError,
  isOffstageError,
  OffstageError,
  type OffstageErrorCode,
  TurnCancelled,
  TurnTimeout,
} from "./errors.js";
export type { ChildCompletion, ChildSpec, ChildStatus } from "./kernel/delegation/child-completion.js";
export type { DeliveryState } from "./kernel/delegation/completion-delivery.js";
export type { TreeBudget } from "./kernel/delegation/delegation-budget.js";
export type { DelegationCaps, DelegationRejectCode } from "./kernel/delegation/delegation-caps.js";
export type { Limits } from "./kernel/limits.js";
export { DEFAULT_LIMITS } from "./kernel/limits.js";
export type { Message, TextPart, ToolCallPart, ToolResultPart } from "./kernel/messages.js";
export type {
  InputStatus,
  Reason,
  ReasonCode,
  TerminalStatus,
  TurnOutcome,
  Usage,
} from "./kernel/outcome.js";
export type { Policy } from "./kernel/session/inbox.js";
export type { StopStatus } from "./kernel/shutdown/stop-status.js";
export type { CancelMode } from "./kernel/turn/turn-machine.js";
export { createDemoModel, type DemoModelOptions, type Sleep } from "./models/demo/demo-model.js";
export { createNoopModel } from "./models/noop-model.js";
export type { Agent, CrashPolicy, FunctionAgent, FunctionContext, ModelAgent } from "./runtime/agent.js";
export { type Clock, systemClock, type TimerToken } from "./runtime/clock.js";
export type {
  DelegateResult,
  DelegateSpec,
  DelegationInfo,
  DelegationOptions,
  Delegations,
} from "./runtime/delegations.js";
export {
  type EventListener,
  type Logger,
  type RuntimeEvent,
  silentLogger,
  stderrLogger,
  type TurnEvent,
} from "./runtime/events.js";
export type { LatencyStats } from "./runtime/latency-stats.js";
export type { RuntimeMetrics } from "./runtime/metrics.js";
export type { RuntimeOptions } from "./runtime/options.js";
export type {
  DelegationLog,
  DelegationRecord,
  DeliveryPlan,
  StoredChildSpec,
} from "./runtime/ports/delegation-log.js";
export type {
  FinishReason,
  JsonSchema,
  Model,
  ModelPart,
  ModelRequest,
  ModelTool,
} from "./runtime/ports/model.js";
export type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  InterruptedTurn,
  Receipt,
  RecoveredState,
  SessionRecord,
  SessionSlot,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "./runtime/ports/store.js";
export type { Tool, ToolArgsCheck, ToolContext } from "./runtime/ports/tool.js";
export {
  createRuntime,
  Runtime,
  type RuntimeState,
  type SessionOptions,
  type StopOptions,
} from "./runtime/runtime.js";
export { type SendOptions, Session } from "./runtime/session.js";
export {
  type CancelOptions,
  type ResultOptions,
  type Settled,
  TurnHandle,
  type TurnResult,
} from "./runtime/turn-handle.js";
export { createLocalWakeChannel, type WakeChannel } from "./runtime/wake-channel.js";
export { createMemoryStore, type MemoryStoreOptions } from "./store/memory/memory-store.js";
export {
  createSqliteStore,
  SqliteStore,
  type SqliteStoreOptions,
  type SqliteStoreStats,
} from "./store/sqlite/sqlite-store.js";
export { createFileTools, type FileToolsOptions } from "./tools/builtin/file-tools.js";
export {
  defineTool,
  type JsonSchemaToolDefinition,
  type StandardToolDefinition,
  TOOL_NAME_PATTERN,
} from "./tools/define-tool.js";
