// One process of a fleet (lib/fleet.mjs forks it): opens one member of a system — a worker process
// that also sends the inputs of its share of the sessions, as each instance of a web app would — and
// follows the parent's orders over IPC:
//
//   parent → member   { t: "open", module, system, options }  import the system module, open a member
//   member → parent   { t: "ready" }                          connected and working; nothing sent yet
//   parent → member   { t: "go" }                             send every input of its sessions, in rounds
//   member → parent   { t: "ran", n }                         turns (jobs) started here so far, every 100 ms
//   parent → member   { t: "stats" }                          after the parent saw everything committed
//   member → parent   { t: "stats", cpuMs, latencies, ran }   this process's CPU since "go", send→start samples
//   parent → member   { t: "close" }                          close the member and exit
//
// A system module exports `openFleetMember(options)` resolving to `{ send(s), flush(), ran(),
// latencies(), close() }`: `send(s)` offers one input to session index `s` (payload carrying its send
// time, `wallNow()`), `flush()` submits what was sent, `ran()` counts turns or jobs started in this
// process, `latencies()` gives their send→start samples in ms.
import { cpuMeter } from "./meters.mjs";

let member;
let meter;
let ticker;

async function onMessage(message) {
  switch (message.t) {
    case "open": {
      const mod = await import(message.module);
      member = await mod.openFleetMember(message.system, message.options);
      process.send({ t: "ready" });
      return;
    }
    case "go": {
      meter = cpuMeter();
      ticker = setInterval(() => process.send({ t: "ran", n: member.ran() }), 100);
      const { index, processes, sessions, inputs } = message;
      for (let r = 0; r < inputs; r++) {
        for (let s = index; s < sessions; s += processes) member.send(s);
        await member.flush();
      }
      return;
    }
    case "stats": {
      const cpu = meter.end();
      process.send({ t: "stats", cpuMs: cpu.ownCpuMs, latencies: member.latencies(), ran: member.ran() });
      return;
    }
    case "close": {
      clearInterval(ticker);
      await member.close();
      process.exit(0);
    }
  }
}

process.on("message", (message) => {
  onMessage(message).catch((error) => {
    process.send({ t: "error", message: error?.stack ?? String(error) });
    process.exit(1);
  });
});
// The parent gone (killed, or failed) leaves no orphan behind.
process.on("disconnect", () => process.exit(2));
