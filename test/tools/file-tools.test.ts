import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError, type Tool, type ToolContext } from "../../src/index.js";
import { createFileTools } from "../../src/tools/builtin/file-tools.js";

let base: string;
let root: string;
let tools: Map<string, Tool>;

function context(signal = new AbortController().signal): ToolContext {
  return { signal, sessionId: "s", turnId: "t", toolCallId: "c" };
}

/** Checks and runs a tool the way the runtime does. */
async function run(name: string, args: unknown, signal?: AbortSignal): Promise<unknown> {
  const tool = tools.get(name)!;
  const checked = await tool.check(args);
  if (!checked.ok) throw new Error(`invalid: ${checked.message}`);
  return tool.execute(checked.value, context(signal));
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "offstage-file-tools-"));
  root = join(base, "workspace");
  await mkdir(join(root, "src", "deep"), { recursive: true });
  await mkdir(join(root, "empty"));
  await writeFile(join(root, "README.md"), "# Title\n\nText.\n");
  await writeFile(join(root, "src", "app.ts"), "a\nb\nc"); // no final newline: still 3 lines
  await writeFile(join(root, "src", "deep", "util.ts"), "x\ny\n");
  await writeFile(join(root, "big.txt"), `${"é".repeat(40)}tail`); // 80 bytes of two-byte characters, then 4
  await writeFile(join(root, "blob.bin"), Buffer.from([1, 0, 2]));
  await writeFile(join(base, "secret.txt"), "outside\n");
  await symlink(join(base, "secret.txt"), join(root, "escape.txt"));
  await symlink(join(root, "src", "app.ts"), join(root, "src", "link.ts"));
  tools = new Map(createFileTools({ root, readBytesMax: 41 }).map((tool) => [tool.name, tool]));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("createFileTools", () => {
  it("makes four tools with object schemas", () => {
    expect([...tools.keys()]).toEqual(["list_files", "read_file", "count_lines", "file_info"]);
    for (const tool of tools.values()) expect(tool.inputSchema).toMatchObject({ type: "object" });
  });

  it("refuses a missing root or a bad bound", () => {
    expect(() => createFileTools({ root: "" })).toThrow(InvalidInputError);
    expect(() => createFileTools({} as never)).toThrow(
      "createFileTools(): options.root must be a directory path; got undefined (undefined)",
    );
    expect(() => createFileTools({ root, readBytesMax: 0 })).toThrow(
      "createFileTools(): options.readBytesMax must be a positive integer; got 0 (number)",
    );
  });
});

describe("list_files", () => {
  it("lists a directory in name order, directories marked, the root by default", async () => {
    expect(await run("list_files", {})).toBe(
      [".: 6 entries", "README.md", "big.txt", "blob.bin", "empty/", "escape.txt", "src/"].join("\n"),
    );
    expect(await run("list_files", { path: "src" })).toBe("src: 3 entries\napp.ts\ndeep/\nlink.ts");
    expect(await run("list_files", { path: "empty/" })).toBe("empty: empty directory");
  });

  it("caps the entries it shows", async () => {
    const few = new Map(createFileTools({ root, listEntriesMax: 2 }).map((t) => [t.name, t]));
    const out = await few.get("list_files")!.execute({ path: "." }, context());
    expect(out).toBe(".: 6 entries\nREADME.md\nbig.txt\n… and 4 more");
  });

  it("says when the path is a file", async () => {
    await expect(run("list_files", { path: "README.md" })).rejects.toThrow(
      "README.md is a file, not a directory",
    );
  });
});

describe("read_file", () => {
  it("reads a small file whole", async () => {
    expect(await run("read_file", { path: "README.md" })).toBe("# Title\n\nText.\n");
  });

  it("cuts a long file at the byte limit without splitting a character, and says so", async () => {
    const out = (await run("read_file", { path: "big.txt" })) as string;
    expect(out).toBe(`${"é".repeat(20)}\n[truncated: showed the first 41 of 84 bytes of big.txt]`);
  });

  it("does not show binary files", async () => {
    expect(await run("read_file", { path: "blob.bin" })).toBe(
      "blob.bin is a binary file (3 bytes); not shown",
    );
  });

  it("explains missing files and directories", async () => {
    await expect(run("read_file", { path: "nope.txt" })).rejects.toThrow(
      '"nope.txt": no such file or directory',
    );
    await expect(run("read_file", { path: "src" })).rejects.toThrow("src is a directory; use list_files");
  });

  it("requires a path", async () => {
    expect(await tools.get("read_file")!.check({})).toMatchObject({
      ok: false,
      message: expect.stringContaining('required property "path"'),
    });
  });

  it("stops when the signal has fired", async () => {
    const controller = new AbortController();
    controller.abort(new Error("turn cancelled"));
    await expect(run("read_file", { path: "README.md" }, controller.signal)).rejects.toThrow(
      "turn cancelled",
    );
  });
});

describe("count_lines", () => {
  it("counts a file, with or without a final newline", async () => {
    expect(await run("count_lines", { path: "src/app.ts" })).toBe("src/app.ts: 3 lines");
    expect(await run("count_lines", { path: "README.md" })).toBe("README.md: 3 lines");
  });

  it("counts every file under a directory, not following symlinks", async () => {
    expect(await run("count_lines", { path: "src" })).toBe(
      "src: 5 lines in 2 files\napp.ts: 3\ndeep/util.ts: 2",
    );
  });

  it("stops after countFilesMax files and says so", async () => {
    const few = new Map(createFileTools({ root, countFilesMax: 1 }).map((t) => [t.name, t]));
    const out = await few.get("count_lines")!.execute({ path: "src" }, context());
    expect(out).toBe("src: 3 lines in 1 file\napp.ts: 3\n[stopped after 1 file]");
  });

  it("stops when the signal fires", async () => {
    const controller = new AbortController();
    controller.abort(new Error("timed out"));
    await expect(run("count_lines", { path: "." }, controller.signal)).rejects.toThrow("timed out");
  });
});

describe("file_info", () => {
  it("describes files and directories", async () => {
    expect(await run("file_info", { path: "README.md" })).toMatch(
      /^README\.md: file, 15 bytes, modified \d{4}-\d\d-\d\dT[\d:.]+Z$/,
    );
    expect(await run("file_info", { path: "src/deep" })).toMatch(/^src\/deep: directory, 1 entry, modified /);
    expect(await run("file_info", { path: "." })).toMatch(/^\.: directory, 6 entries/);
  });
});

describe("confinement to the workspace", () => {
  it.each([
    ["a .. escape", "../secret.txt", '"../secret.txt" is outside the workspace'],
    ["a deeper .. escape", "src/../../secret.txt", "is outside the workspace"],
    ["an absolute path outside", "/etc/passwd", '"/etc/passwd" is outside the workspace'],
    ["a symlink that leads outside", "escape.txt", '"escape.txt" leads outside the workspace'],
  ])("refuses %s", async (_name, path, message) => {
    for (const name of ["read_file", "file_info", "count_lines"]) {
      await expect(run(name, { path })).rejects.toThrow(message);
    }
  });

  it("allows absolute paths inside, and symlinks that stay inside", async () => {
    expect(await run("read_file", { path: join(root, "README.md") })).toBe("# Title\n\nText.\n");
    expect(await run("count_lines", { path: "src/link.ts" })).toBe("src/app.ts: 3 lines");
    expect(await run("list_files", { path: "src/deep/.." })).toMatch(/^src: 3 entries/);
  });

  it("reports a workspace that does not exist", async () => {
    const gone = new Map(createFileTools({ root: join(base, "missing") }).map((t) => [t.name, t]));
    await expect(gone.get("list_files")!.execute({}, context())).rejects.toThrow("is not readable (ENOENT)");
  });
});
