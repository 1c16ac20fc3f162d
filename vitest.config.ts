import { configDefaults, defineConfig } from "vitest/config";

// The PostgreSQL fleet soak (test/fleet) runs on its own with `npm run test:fleet` (and so in
// .ci/run, after `npm test`): its four processes and their kills load the machine for a minute.
const fleet = process.env.OFFSTAGE_FLEET === "1";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: fleet ? configDefaults.exclude : [...configDefaults.exclude, "test/fleet/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
