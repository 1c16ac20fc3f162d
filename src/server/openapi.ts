/**
 * The OpenAPI 3.1 document of the API, generated from the route table (`routes.ts`).
 *
 * @packageDocumentation
 */
import { ROUTES, type RouteSpec } from "./routes.js";

const ERROR = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

/** Builds the document (once per server: it never changes while it runs). */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, route] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(name, route);
  }
  return {
    openapi: "3.1.0",
    info: { title: "Offstage", version },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: ERROR },
    },
    paths,
  };
}

function operation(name: string, route: RouteSpec): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  for (const match of route.path.matchAll(/\{(\w+)\}/g))
    parameters.push({ name: match[1], in: "path", required: true, schema: { type: "string" } });
  for (const [key, schema] of Object.entries(route.query ?? {}))
    parameters.push({ name: key, in: "query", required: false, schema });
  for (const [key, schema] of Object.entries(route.headers ?? {}))
    parameters.push({ name: key, in: "header", required: false, schema });
  const content =
    route.ok.type === "sse"
      ? { "text/event-stream": { schema: { type: "string" } } }
      : route.ok.type === "text"
        ? { "text/plain": { schema: { type: "string" } } }
        : { "application/json": { schema: route.ok.schema ?? {} } };
  const errorContent = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
  return {
    operationId: name,
    summary: route.summary,
    ...(route.verb === undefined
      ? { security: [] }
      : route.verb === "any"
        ? { security: [{ bearer: [] }] }
        : { security: [{ bearer: [] }], "x-offstage-verb": route.verb }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined
      ? {}
      : { requestBody: { required: false, content: { "application/json": { schema: route.body } } } }),
    responses: {
      [String(route.ok.status)]: { description: "ok", content },
      "4XX": { description: "refused; nothing was changed", content: errorContent },
      "5XX": { description: "the server failed or is not ready", content: errorContent },
    },
  };
}
