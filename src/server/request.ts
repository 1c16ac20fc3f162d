/**
 * What a handler reads from a request, checked: the caller's grant, the JSON body against its
 * route's schema, and ids. Each failure throws an {@link HttpError} that the server answers as typed
 * JSON, before anything is changed.
 *
 * @packageDocumentation
 */
import { type Schema, Validator } from "@cfworker/json-schema";
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { Verb } from "../client/wire.js";
import { HttpError } from "./http-error.js";
import type { JsonSchema, RouteSpec } from "./routes.js";
import { allows, type Grant } from "./tokens.js";

/** Variables the server's middleware sets on a request's context. */
export interface RequestVars {
  grant: Grant | undefined;
}

export type ApiContext = Context<{ Variables: RequestVars }>;

/**
 * A request header (`name` in lower case). On Node's HTTP/1 server it is read from the headers Node
 * already parsed, so no `Headers` object is made for the request; elsewhere (the app mounted in
 * another server) from the request's `Headers`. Repeated headers read as Node reads them: joined
 * with ", ", or the first one for those that may appear once (`authorization`, `content-type`, ...).
 */
export function headerOf(c: Context, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming?.httpVersionMajor !== 1) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The request's grant; throws 401 when the route needs one and there is none. */
export function grantOf(c: ApiContext): Grant {
  const grant = c.get("grant");
  if (grant === undefined) throw new HttpError(401, "UNAUTHORIZED", "a valid bearer token is required");
  return grant;
}

/**
 * Throws 403 unless the grant allows `verb` on `sessionId` (on every session when undefined).
 * Whether the session exists is not told.
 */
export function requireScope(c: ApiContext, verb: Verb, sessionId: string | undefined): Grant {
  const grant = grantOf(c);
  if (!allows(grant, verb, sessionId))
    throw new HttpError(
      403,
      "FORBIDDEN",
      sessionId === undefined
        ? `this token may not ${verb} across every session`
        : `this token may not ${verb} this session`,
    );
  return grant;
}

/** Throws 403 unless the grant allows `verb` on some sessions (a handler then checks each one). */
export function requireVerb(c: ApiContext, verb: Verb): Grant {
  const grant = grantOf(c);
  if (!grant.verbs.has(verb)) throw new HttpError(403, "FORBIDDEN", `this token may not ${verb}`);
  return grant;
}

/** A path id: 1-256 printable characters (a session id as `runtime.session()` takes it). */
export function idParam(c: ApiContext, name = "id"): string {
  const id = c.req.param(name);
  if (id === undefined || id.length === 0 || id.length > 256 || hasControl(id))
    throw new HttpError(
      400,
      "INVALID_ARGUMENT",
      `the ${name} in the path must be 1-256 printable characters`,
    );
  return id;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

const validators = new WeakMap<JsonSchema, Validator>();

/** The JSON body, checked against the route's schema; an empty body reads as `{}`. */
export async function jsonBody<T>(c: ApiContext, route: RouteSpec): Promise<T> {
  const text = await c.req.text();
  if (text.trim() === "") return checked(route, {}) as T;
  const type = headerOf(c, "content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "INVALID_JSON", "the body is not well-formed JSON");
  }
  return checked(route, value) as T;
}

function checked(route: RouteSpec, value: unknown): unknown {
  const schema = route.body;
  if (schema === undefined) return value;
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = new Validator(schema as Schema, "2020-12", true);
    validators.set(schema, validator);
  }
  const result = validator.validate(value);
  if (!result.valid) {
    const first = result.errors.at(-1);
    const where = first?.instanceLocation.replace(/^#/, "") || "the body";
    throw new HttpError(400, "INVALID_ARGUMENT", `${where}: ${first?.error ?? "does not match the schema"}`);
  }
  return value;
}

/** A query or header value that must be a non-negative integer of at most `digits` digits. */
export function integerOf(value: string | undefined, name: string, digits: number): number | undefined {
  if (value === undefined) return undefined;
  if (!new RegExp(`^[0-9]{1,${digits}}$`).test(value))
    throw new HttpError(400, "INVALID_ARGUMENT", `${name} must be a non-negative integer`);
  return Number(value);
}
