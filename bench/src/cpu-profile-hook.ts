/**
 * Preloaded into the API process (send-latency) or every Parley process (fanout; BENCH_CPU_PROF_NAME names the file) by `--cpu-prof DIR` (NODE_OPTIONS refuses --cpu-prof; tsx, imported first, loads this file): profiles
 * the whole run and writes a .cpuprofile (Chrome DevTools format) into BENCH_CPU_PROF_DIR when it exits.
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir !== undefined) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.once("exit", () => {
    // An in-process session answers synchronously, so this still runs before the process is gone.
    session.post("Profiler.stop", (error, result) => {
      if (error) return;
      writeFileSync(path.join(dir, `${process.env.BENCH_CPU_PROF_NAME ?? "api"}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
