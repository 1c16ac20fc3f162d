/**
 * What the fuzz suite throws at Offstage: random values of every JavaScript type (fast-check's
 * `anything`, with dates, maps, sets, typed arrays, sparse arrays, boxed values, null prototypes and
 * BigInt), mixed with hand-made adversarial ones — values that throw when read or printed, proxies,
 * cycles, huge strings, numbers just past each bound — and the run settings: a fixed seed, and a
 * number of runs that `OFFSTAGE_FUZZ_RUNS` raises for a longer campaign.
 */
import fc from "fast-check";

/** fast-check's parameters for one property: replayable by seed, longer with `OFFSTAGE_FUZZ_RUNS`. */
export function fuzzParameters(defaultRuns: number): fc.Parameters<unknown> {
  const runs = Number.parseInt(process.env.OFFSTAGE_FUZZ_RUNS ?? "", 10);
  const seed = Number.parseInt(process.env.OFFSTAGE_FUZZ_SEED ?? "", 10);
  return {
    seed: Number.isFinite(seed) ? seed : 0x15_2026,
    numRuns: Number.isFinite(runs) && runs > 0 ? runs : defaultRuns,
    // A failure prints its seed and path; `OFFSTAGE_FUZZ_SEED=<seed>` replays it.
    verbose: fc.VerbosityLevel.Verbose,
  };
}

/**
 * Text that is not well-formed or not printable, made to collide in a store that keeps UTF-8: lone
 * surrogates (each becomes U+FFFD there, so `"user-\uD83C"` and `"user-\uD83D"` would be one id),
 * a pair in the wrong order, and control characters JSON leaves as they are (DEL, C1, U+2028/9).
 */
export const ILL_FORMED_TEXT: readonly string[] = [
  "user-\uD83C",
  "user-\uD83D",
  "\uD800",
  "\uDFFF",
  "\uDE00\uD83D",
  "a\u007fb",
  "a\u0085b",
  "a\u009b[31m",
  "a\u2028b",
  "a\u2029b",
];

/**
 * An id or key: short random text, text of any UTF-16 code units (lone surrogates included), or one
 * of {@link ILL_FORMED_TEXT}.
 */
export function idLike(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 8 }),
    fc.constantFrom(...ILL_FORMED_TEXT),
  );
}

/** What an accepted id must be: well-formed UTF-16 without control characters or U+2028/9. */
export function isPrintableId(id: unknown): boolean {
  return (
    typeof id === "string" &&
    id.length > 0 &&
    id.length <= 256 &&
    // Checked code unit by code unit, independently of the code under test's regular expression.
    [...id].every((char) => {
      const code = char.codePointAt(0)!;
      const lone = char.length === 1 && code >= 0xd800 && code <= 0xdfff;
      return !lone && code >= 0x20 && !(code >= 0x7f && code <= 0x9f) && code !== 0x2028 && code !== 0x2029;
    })
  );
}

/** Values made by hand to break code that prints, copies or inspects what it is given. */
export function adversarialValues(): unknown[] {
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const trapAll = new Proxy(
    {},
    {
      get: () => {
        throw new Error("get trap");
      },
      has: () => {
        throw new Error("has trap");
      },
      ownKeys: () => {
        throw new Error("ownKeys trap");
      },
      getPrototypeOf: () => {
        throw new Error("getPrototypeOf trap");
      },
      getOwnPropertyDescriptor: () => {
        throw new Error("getOwnPropertyDescriptor trap");
      },
    },
  );
  const cycle: Record<string, unknown> = { name: "cycle" };
  cycle.self = cycle;
  let deep: unknown = 0;
  for (let i = 0; i < 2_000; i++) deep = { d: deep };
  const throwing = {
    toString() {
      throw new Error("toString");
    },
    valueOf() {
      throw new Error("valueOf");
    },
    get policy() {
      throw new Error("policy getter");
    },
    get timeoutMs() {
      throw new Error("timeoutMs getter");
    },
    get goal() {
      throw new Error("goal getter");
    },
  };
  class Thing {
    readonly x = 1;
  }
  return [
    Object.create(null),
    Object.assign(Object.create(null), { agent: "f" }),
    throwing,
    { [Symbol.toPrimitive]: () => ({}) },
    revocable.proxy,
    trapAll,
    cycle,
    [cycle],
    deep,
    Symbol("hostile"),
    "x".repeat(300_000),
    "é".repeat(150_000),
    "",
    " ",
    "a\u0000b",
    "a>b",
    ...ILL_FORMED_TEXT,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    -1,
    0.5,
    2 ** 31,
    3e9,
    Number.MAX_SAFE_INTEGER + 2,
    10n,
    new Date(Number.NaN),
    new Map([["k", 1]]),
    new Set([1]),
    new Thing(),
    () => 1,
    Promise.resolve(1),
    {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is exactly what is being tested.
      then() {
        throw new Error("then");
      },
    },
    Object.create({ inherited: 1, agent: "f", policy: "enqueue" }),
    new Error("an error as a value"),
    sparse(),
    new Uint8Array(3),
    { toJSON: () => ({ fine: true }) },
    { __proto__: null, constructor: 1 },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    null,
    undefined,
    true,
  ];
}

/**
 * A generated value in a box. fast-check inspects each value a property receives (`in`, to look for
 * a clone method; printing, to report a failure), which a revoked proxy refuses; boxed, only the
 * property ever touches the value, and a failure is reported by its label.
 */
export interface Boxed {
  readonly v: unknown;
  readonly label: string;
  readonly [BOXED]: true;
}

const BOXED = Symbol("boxed");

function box(v: unknown, label: string): Boxed {
  return { v, label, [BOXED]: true, [fc.toStringMethod]: () => label } as Boxed;
}

/** A plausible value is boxed here; one already boxed (a nested options object) stays as it is. */
function boxed(v: unknown): Boxed {
  return typeof v === "object" && v !== null && (v as Partial<Boxed>)[BOXED] === true
    ? (v as Boxed)
    : box(v, labelOf(v));
}

/** A label for a random value: fast-check's own rendering, or its type when that fails. */
function labelOf(v: unknown): string {
  try {
    return fc.stringify(v).slice(0, 200);
  } catch {
    return `<${typeof v}>`;
  }
}

/** An array with a hole at 0 (JSON would turn it into null). */
function sparse(): unknown[] {
  const array: unknown[] = [];
  array[1] = 1;
  return array;
}

/** Any value at all: random ones of every type, or one of the adversarial ones. */
export function hostile(): fc.Arbitrary<Boxed> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.anything(ANYTHING).map((v) => box(v, labelOf(v))) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...adversarialValues().map((v, i) => box(v, `adversarialValues()[${i}]`))),
    },
  );
}

/** A plausible value of `arbitrary` or a hostile one, boxed. */
function either(arbitrary: fc.Arbitrary<unknown>): fc.Arbitrary<Boxed> {
  return fc.oneof(arbitrary.map(boxed), hostile());
}

const ANYTHING = {
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  maxDepth: 3,
} as const;

/**
 * An options object: some of the keys a call knows (with plausible or hostile values), maybe an
 * unknown or misspelt key, or not an object at all.
 */
export function optionsLike(known: Readonly<Record<string, fc.Arbitrary<unknown>>>): fc.Arbitrary<Boxed> {
  const keys = Object.keys(known);
  const strange = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(...keys.map((k) => k.toUpperCase()), "__proto__", "constructor", "toString"),
  );
  const entry = fc.oneof(
    fc.constantFrom(...keys).chain((key) => fc.tuple(fc.constant(key), either(known[key]!))),
    fc.tuple(strange, hostile()),
  );
  const object = fc.array(entry, { maxLength: 4 }).map((entries) => {
    const built = Object.fromEntries(entries.map(([key, value]) => [key, value.v]));
    return box(built, `{ ${entries.map(([key, value]) => `${key}: ${value.label}`).join(", ")} }`);
  });
  return fc.oneof({ weight: 4, arbitrary: object }, { weight: 1, arbitrary: hostile() });
}

/** A plausible value or a hostile one, boxed (for arguments that are not options objects). */
export function argument(plausible: fc.Arbitrary<unknown>): fc.Arbitrary<Boxed> {
  return either(plausible);
}

/**
 * Collects what escapes a test file as an uncaught exception or an unhandled rejection (the fuzz
 * suites assert that nothing does): installs the collectors before the file's tests, removes them
 * after.
 */
export function collectEscapes(hooks: {
  beforeAll(fn: () => void): void;
  afterAll(fn: () => void): void;
}): unknown[] {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  hooks.beforeAll(() => {
    process.on("unhandledRejection", onEscape);
    process.on("uncaughtException", onEscape);
  });
  hooks.afterAll(() => {
    process.off("unhandledRejection", onEscape);
    process.off("uncaughtException", onEscape);
  });
  return escaped;
}
