/**
 * `offstage/mcp`: the Model Context Protocol, both ways. `mcpTools` turns an MCP server's tools
 * into Offstage tools (stdio or Streamable HTTP); `createSessionServer` makes a runtime's sessions
 * an MCP server any host can call (`send`, `status`, `result`, `cancel`, `delegate`,
 * `list_children`). Needs the optional peer dependencies `@modelcontextprotocol/sdk` and `zod`.
 *
 * @packageDocumentation
 */
export {
  type McpHttpConfig,
  type McpServerConfig,
  type McpStdioConfig,
  parseMcpCommand,
} from "./mcp-config.js";
export { type McpToolSet, type McpToolsOptions, mcpTools, type SkippedMcpTool } from "./mcp-tools.js";
export { createSessionServer, type SessionServerOptions } from "./session-server.js";
export { type McpCallResult, type McpContent, McpToolError, renderMcpResult } from "./tool-result.js";
