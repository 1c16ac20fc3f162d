/**
 * Offstage: runs AI-agent work — model turns, tool calls, background sub-agents — off the host's
 * loop, so the host never waits and no accepted work is lost, duplicated or left hanging.
 *
 * The root holds what an application needs. Adapters and kits sit behind subpaths:
 * `offstage/sqlite` (the default store's options), `offstage/demo` (the offline demo model),
 * `offstage/tools` (built-in file tools), `offstage/testing` (virtual clock, model doubles) and
 * `offstage/testing/conformance` (the store conformance suite, on vitest).
 *
 * @packageDocumentation
 */
export { createRuntime } from "./create-runtime.js";
export {
  BootError,
  CapacityError,
  DeadlockError,
  HostThreadError,
  InvalidInputError,
  isOffstageError,
  ModelCallError,
  OffstageError,
  type OffstageErrorCode,
  TurnCancelled,
  TurnTimeout,
} from "./errors.js";
export { createHostQueue, type DrainOptions, HostQueue, type HostQueueOptions } from "./host/host-queue.js";
export { createSessionSlot, SessionSlot, type SlotSession, type SlotTurn } from "./host/session-slot.js";
export { createSlot, Slot, type SlotFactory, type SlotOptions } from "./host/slot.js";
export { estimateTokens, fitTokenBudget, lastMessages } from "./kernel/context-window.js";
export type { ChildCompletion, ChildSpec, ChildStatus } from "./kernel/delegation/child-completion.js";
export type { DeliveryState } from "./kernel/delegation/completion-delivery.js";
export type { TreeBudget, TreeSpend } from "./kernel/delegation/delegation-budget.js";
export type { DelegationCaps, DelegationRejectCode } from "./kernel/delegation/delegation-caps.js";
export { DEFAULT_LIMITS, DEFAULTS, type Limits } from "./kernel/limits.js";
export {
  type AssistantPart,
  type FilePart,
  type Message,
  type ProviderMetadata,
  type ReasoningPart,
  type TextPart,
  type ToolCallPart,
  type ToolResultPart,
  type UserPart,
  userMessage,
} from "./kernel/messages.js";
export type {
  InputStatus,
  Reason,
  ReasonCode,
  TerminalStatus,
  TurnOutcome,
  Usage,
} from "./kernel/outcome.js";
export type { RetryPolicy } from "./kernel/retry-policy.js";
export type { Policy } from "./kernel/session/inbox.js";
export type { StopStatus } from "./kernel/shutdown/stop-status.js";
export type { CancelMode } from "./kernel/turn/turn-machine.js";
export {
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusOptions,
  renderPrometheus,
} from "./observability/prometheus.js";
export type {
  Agent,
  CrashPolicy,
  FunctionAgent,
  FunctionContext,
  ModelAgent,
  RetryOptions,
  StepContext,
  StepOverrides,
  SystemContext,
} from "./runtime/agent.js";
export { type Clock, systemClock, type TimerToken } from "./runtime/clock.js";
export type { DelegateResult, DelegateSpec } from "./runtime/delegation/delegate-spec.js";
export type { DelegationOptions } from "./runtime/delegation/delegation-options.js";
export type {
  DelegationInfo,
  Delegations,
  ListDelegationsOptions,
  StopChildrenOptions,
} from "./runtime/delegation/delegations.js";
export type { HogSource } from "./runtime/dispatcher.js";
export type { DurationBucket, HistogramStats } from "./runtime/duration-histogram.js";
export type { EventLogOptions } from "./runtime/event-log-options.js";
export type { EventListener, RuntimeEvent, TurnEvent } from "./runtime/events.js";
export type { LatencyStats } from "./runtime/latency-stats.js";
export {
  createStderrLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  type StderrLoggerOptions,
  silentLogger,
  stderrLogger,
} from "./runtime/logger.js";
export type { CallMetrics, RetryMetrics, RuntimeMetrics, TokenMetrics } from "./runtime/metrics.js";
export type { RuntimeOptions } from "./runtime/options.js";
export type {
  DelegationLog,
  DelegationRecord,
  DeliveryPlan,
  StoredChildSpec,
  TreeCharge,
} from "./runtime/ports/delegation-log.js";
export type { EventLog, LoggedEvent, LoggedEventType, SessionEvent } from "./runtime/ports/event-log.js";
export type {
  HostCall,
  HostExecutor,
  HostQueueMetrics,
  HostToolMetrics,
} from "./runtime/ports/host-executor.js";
export type {
  FinishReason,
  JsonSchema,
  Model,
  ModelPart,
  ModelRequest,
  ModelSettings,
  ModelTool,
  ProviderOptions,
  ToolChoice,
} from "./runtime/ports/model.js";
export type { ModelResolveContext, ModelResolver, ProviderSettings } from "./runtime/ports/model-resolver.js";
export type {
  Abandoned,
  InputEnd,
  InputRecord,
  InputSnapshot,
  InterruptedTurn,
  OpenOptions,
  QueuedSession,
  Receipt,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "./runtime/ports/store.js";
export type {
  CallTelemetry,
  InputOrigin,
  MetricsSource,
  ModelCallEnd,
  ModelCallInfo,
  Telemetry,
  ToolCallEnd,
  ToolCallInfo,
  TraceContext,
  TurnEndInfo,
  TurnEventName,
  TurnInfo,
  TurnInputInfo,
  TurnTelemetry,
} from "./runtime/ports/telemetry.js";
export {
  TOOL_EXECUTORS,
  TOOL_NAME_PATTERN,
  type Tool,
  type ToolArgsCheck,
  type ToolContext,
  type ToolExecutorKind,
} from "./runtime/ports/tool.js";
export type { WorkerCall, WorkerExecutor } from "./runtime/ports/worker-executor.js";
export type { Runtime, RuntimeState, SessionOptions, StopOptions } from "./runtime/runtime.js";
export type { SendOptions, Session, SessionEventsOptions, SessionInbox } from "./runtime/session.js";
export type { StoreHealthMetrics } from "./runtime/store-health.js";
export type { CancelOptions, HandleEventsOptions, TurnHandle } from "./runtime/turn-handle.js";
export type { ResultOptions, Settled, TurnResult } from "./runtime/turn-result.js";
export { createLocalWakeChannel, type WakeChannel } from "./runtime/wake-channel.js";
export { createMemoryStore, type MemoryStoreOptions } from "./store/memory/memory-store.js";
export type { RetentionOptions } from "./store/retention.js";
export {
  defineTool,
  type JsonSchemaToolDefinition,
  type StandardToolDefinition,
} from "./tools/define-tool.js";
