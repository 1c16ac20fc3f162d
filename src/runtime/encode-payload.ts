/**
 * A sent payload as the JSON the store keeps. What JSON cannot carry as it is (NaN, a Date, a Map,
 * `undefined` inside, a cycle, a getter that throws) is refused, naming where, rather than silently
 * converted; so is a payload over `limits.payloadBytesMax`.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from "../errors.js";
import { describeCause } from "../kernel/outcome.js";
import { checkJson, fail, type Subject } from "../validate.js";

/** `payload` as JSON; throws `InvalidInputError` for what JSON cannot carry or what is too large. */
export function encodePayload(subject: Subject, payload: unknown, bytesMax: number): string {
  checkJson(subject, "payload", payload);
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    // A getter that answered differently the second time it was read.
    fail(subject, "payload", payload, `JSON-serialisable (${describeCause(error)})`);
  }
  if (json === undefined) fail(subject, "payload", payload, "a JSON value");
  // A UTF-16 unit is at most 3 UTF-8 bytes: only a long payload needs counting.
  if (json.length * 3 > bytesMax) {
    const bytes = Buffer.byteLength(json, "utf8");
    if (bytes > bytesMax) {
      throw new InvalidInputError(
        "PAYLOAD_TOO_LARGE",
        `send(): payload is ${bytes} bytes as JSON; the limit is ${bytesMax} (limits.payloadBytesMax)`,
        { details: { bytes, limit: bytesMax } },
      );
    }
  }
  return json;
}
