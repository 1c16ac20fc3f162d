/**
 * Bearer tokens: each grants a set of verbs on the sessions whose id starts with a prefix. Tokens
 * are kept as SHA-256 digests only (a config may give the digest instead of the token), compared in
 * constant time; the token itself is never logged or echoed.
 *
 * @packageDocumentation
 */
import { hash, timingSafeEqual } from "node:crypto";
import { VERBS, type Verb } from "../client/wire.js";
import { checkArray, checkObject, checkOneOf, fail, optionsOf, readKeys } from "../validate.js";

/** A token as the config gives it: the token or its SHA-256 (hex), and what it may do. */
export interface TokenConfig {
  /** The bearer token itself (at least 16 characters). */
  readonly token?: string;
  /** Or its SHA-256 digest, as 64 hex digits, so the config holds no secret. */
  readonly sha256?: string;
  /** A name for logs and the dashboard (default `token-N`). */
  readonly name?: string;
  /** The sessions it reaches: those whose id starts with this (default `""`: every session). */
  readonly sessionPrefix?: string;
  /** What it may do (default: every verb). */
  readonly verbs?: readonly Verb[];
}

/** What an authenticated request may do. */
export interface Grant {
  readonly name: string;
  readonly sessionPrefix: string;
  readonly verbs: ReadonlySet<Verb>;
}

/** True when `grant` allows `verb` on `sessionId` (or on every session, when `sessionId` is undefined). */
export function allows(grant: Grant, verb: Verb, sessionId: string | undefined): boolean {
  if (!grant.verbs.has(verb)) return false;
  return sessionId === undefined ? grant.sessionPrefix === "" : sessionId.startsWith(grant.sessionPrefix);
}

interface StoredToken {
  readonly digest: Buffer;
  readonly grant: Grant;
}

const TOKEN_CHARS_MIN = 16;

/** The server's options: tokens come from the config of `offstage serve`, or `createApp`'s caller. */
export const SERVE = optionsOf("serve");

export class TokenTable {
  readonly #tokens: readonly StoredToken[];

  /** Throws `BootError` `INVALID_OPTIONS` for a malformed entry (without quoting a token). */
  constructor(configs: readonly TokenConfig[]) {
    this.#tokens = checkArray(SERVE, "tokens", configs, "an array of tokens").map((config, i) =>
      stored(config as TokenConfig, i),
    );
  }

  get size(): number {
    return this.#tokens.length;
  }

  /** The grant of an `Authorization` header's bearer token; `undefined` when it names none. */
  authenticate(header: string | undefined): Grant | undefined {
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (match === null) return undefined;
    const digest = sha256(match[1]!);
    let found: Grant | undefined;
    // Every entry is compared, so the time taken does not tell which one matched.
    for (const token of this.#tokens) if (timingSafeEqual(token.digest, digest)) found ??= token.grant;
    return found;
  }
}

function stored(config: TokenConfig, index: number): StoredToken {
  const where = `tokens[${index}]`;
  checkObject(SERVE, where, config);
  const {
    token,
    sha256: hex,
    name,
    sessionPrefix = "",
    verbs = VERBS,
  } = readKeys(SERVE, where, config, TOKEN_KEYS);
  let digest: Buffer;
  if (token !== undefined) {
    if (typeof token !== "string" || token.length < TOKEN_CHARS_MIN || !/^[\x21-\x7e]+$/.test(token))
      fail(SERVE, `${where}.token`, token, `${TOKEN_CHARS_MIN} or more printable ASCII characters`, {
        secret: true,
      });
    digest = sha256(token);
  } else if (typeof hex === "string" && /^[0-9a-f]{64}$/i.test(hex)) digest = Buffer.from(hex, "hex");
  else fail(SERVE, `${where}.sha256`, hex, "64 hex digits, when token is not given");
  if (typeof sessionPrefix !== "string") fail(SERVE, `${where}.sessionPrefix`, sessionPrefix, "a string");
  const granted = checkArray(SERVE, `${where}.verbs`, verbs, `an array of ${VERBS.join(", ")}`);
  for (const [i, verb] of granted.entries()) checkOneOf(SERVE, `${where}.verbs[${i}]`, verb, VERBS);
  const label = typeof name === "string" && name !== "" ? name : `token-${index + 1}`;
  return { digest, grant: { name: label, sessionPrefix, verbs: new Set(granted as Verb[]) } };
}

const TOKEN_KEYS = ["token", "sha256", "name", "sessionPrefix", "verbs"] as const;

/** The SHA-256 digest of a token, as the table keeps it. */
export function sha256(token: string): Buffer {
  // The one-shot hash: no Hash object per request.
  return hash("sha256", token, "buffer");
}
