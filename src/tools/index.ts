/**
 * `offstage/tools`: built-in tools — sandboxed file tools (`read_file`, `list_files`, ...) over one
 * folder. `defineTool`, for your own tools, is in the package root.
 *
 * @packageDocumentation
 */
export { createFileTools, type FileToolsOptions } from "./builtin/file-tools.js";
