/** Reading the environment knobs of the long suites (seeds, kill counts, durations). */

/** The integer in `name` (decimal or 0x-hex, in [0, 2^32)), or `fallback` when unset. */
export function envInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value =
    text.startsWith("0x") || text.startsWith("0X") ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff)
    throw new Error(`${name} must be an integer in [0, 2^32), got ${JSON.stringify(text)}`);
  return value;
}
