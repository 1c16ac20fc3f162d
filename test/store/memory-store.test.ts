import { createMemoryStore } from "../../src/index.js";
import { runStoreConformance } from "../../src/testing/index.js";

// The memory store's data lives in the store object, so reopening it means opening the same object
// again, and a crash of the runtime that held it loses nothing: every write is committed at once.
runStoreConformance("memory", {
  create: () => createMemoryStore(),
  reopen: (store) => store,
  crash: () => {},
});
