/**
 * The dashboard's files at `/ui`: the page and its module from the package's `dashboard/` folder,
 * and the package's own client (`dist/client/`) under `/ui/client/`, which the module imports. No
 * build step, nothing from a CDN. The files hold no data: what the page shows comes from the API,
 * with the token typed into it.
 *
 * @packageDocumentation
 */
import { readFile } from "node:fs/promises";
import type { Hono } from "hono";

const DASHBOARD = new URL("../../dashboard/", import.meta.url);
const CLIENT = new URL("../client/", import.meta.url);
const HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
};

/** Serves the dashboard on `app`. */
// biome-ignore lint/suspicious/noExplicitAny: the app's bindings do not matter to static files
export function mountDashboard(app: Hono<any>): void {
  app.get("/ui", async (c) =>
    c.body(await readFile(new URL("index.html", DASHBOARD), "utf8"), 200, {
      ...HEADERS,
      "content-type": "text/html; charset=utf-8",
    }),
  );
  app.get("/ui/app.js", async (c) =>
    c.body(await readFile(new URL("app.js", DASHBOARD), "utf8"), 200, {
      ...HEADERS,
      "content-type": "text/javascript; charset=utf-8",
    }),
  );
  app.get("/ui/client/:file", async (c) => {
    const file = c.req.param("file");
    // Only the client's own modules, by plain name: nothing else of the package is readable here.
    if (!/^[a-z-]+\.js$/.test(file))
      return c.json({ error: { code: "NOT_FOUND", message: "no such file" } }, 404);
    const text = await readFile(new URL(file, CLIENT), "utf8").catch(() => undefined);
    if (text === undefined) return c.json({ error: { code: "NOT_FOUND", message: "no such file" } }, 404);
    return c.body(text, 200, { ...HEADERS, "content-type": "text/javascript; charset=utf-8" });
  });
}
