/**
 * Lets the crash child run the TypeScript sources directly under Node 24's type stripping: the
 * sources import each other with `.js` specifiers (as `tsc` wants), which Node resolves literally.
 * This hook maps such a specifier, from a `.ts` file, to the `.ts` file beside it when no `.js`
 * file exists. Loaded with `node --import ./test/crash/ts-hook.ts`.
 *
 * @packageDocumentation
 */
import { existsSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (specifier.startsWith(".") && specifier.endsWith(".js") && parent?.endsWith(".ts") === true) {
      const url = new URL(specifier, parent);
      if (url.protocol === "file:" && !existsSync(fileURLToPath(url))) {
        const source = new URL(`${specifier.slice(0, -3)}.ts`, parent);
        if (existsSync(fileURLToPath(source))) return nextResolve(source.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
