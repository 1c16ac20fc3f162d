import { configDefaults, defineConfig } from "vitest/config";

// The PostgreSQL fleet soak (test/fleet) still finds defects of a preview store (README, "Many
// processes: PostgreSQL"); it runs on its own with `npm run test:fleet` until they are fixed.
const fleet = process.env.OFFSTAGE_FLEET === "1";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: fleet ? configDefaults.exclude : [...configDefaults.exclude, "test/fleet/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
