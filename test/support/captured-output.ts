/**
 * Output streams for a CLI command run in process (`runInspect`, `runUnlock`): what it writes to
 * `out` and `err` is kept as text for the test to read.
 */

/** The `out` and `err` to hand the command, and what it has written to each so far. */
export interface CapturedOutput {
  readonly out: never;
  readonly err: never;
  readonly written: { readonly out: string; readonly err: string };
}

export function capturedOutput(): CapturedOutput {
  const written = { out: "", err: "" };
  const sink = (stream: "out" | "err") =>
    ({
      write: (s: string) => {
        written[stream] += s;
        return true;
      },
    }) as never;
  return { out: sink("out"), err: sink("err"), written };
}
