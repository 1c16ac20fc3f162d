// The loopback model provider of the `models` benchmark, in a process of its own so that its CPU is
// not the clients': the test suite's server (test/models/loopback-llm.ts, loaded with Node 24's type
// stripping) answering every conversation with the same three steps — two tool calls in parallel,
// then one, then an answer streamed in `--answer-parts` pieces. Prints `{"baseURL": …}` once
// listening; exits when its stdin closes.
import { startLoopbackLlm } from "../../test/models/loopback-llm.ts";

const answerParts = Number(process.argv[2] ?? 20);
const answer = Array.from({ length: answerParts }, (_, i) => `word${i} `);

/** The conversation the benchmark measures: 3 steps, 2 tools. */
function threeSteps(request) {
  switch (request.toolResults) {
    case 0:
      return {
        text: ["Let me ", "check."],
        toolCalls: [
          { id: "c1", name: "lookup", args: ['{"key":', '"a"}'] },
          { id: "c2", name: "weather", args: ['{"city":', '"Paris"}'] },
        ],
      };
    case 2:
      return { toolCalls: [{ id: "c3", name: "lookup", args: ['{"key":"b"}'] }] };
    default:
      return { text: answer };
  }
}

const llm = await startLoopbackLlm(threeSteps);
process.stdout.write(`${JSON.stringify({ baseURL: llm.baseURL })}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await llm.close();
  process.exit(0);
});
