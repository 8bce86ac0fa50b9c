// hybrid's judge as a vitest reporter: the results, in jest's JSON shape, and the end of the
// run, signed over the judge's channel (hybrid_judge_channel.cjs). vitest 1-3 call onFinished,
// vitest 3+ onTestRunEnd: the first call reports.
import { createRequire } from "node:module";

const { send } = createRequire(import.meta.url)("./hybrid_judge_channel.cjs");

// As vitest's own JSON reporter says it: "pending" is a test that never got a result (its worker
// was killed), "skipped" a skipped one.
const STATUS = { pass: "passed", fail: "failed", skip: "skipped", todo: "todo" };

function message(error) {
  if (!error) return "";
  return String(error.stack || error.message || error);
}

function walk(task, titles, out) {
  for (const child of task.tasks || []) {
    if (child.type === "suite") {
      walk(child, titles.concat([child.name]), out);
    } else {
      const state = child.result && child.result.state;
      const status = STATUS[state] || (child.mode === "todo" ? "todo" :
        child.mode === "skip" ? "skipped" : "pending");
      out.push({ ancestorTitles: titles, title: child.name, status,
                 failureMessages: ((child.result && child.result.errors) || []).map(message) });
    }
  }
}

export default class HybridJudgeReporter {
  constructor() {
    this.done = false;
    send("start", {});
  }

  report(files, errors, reason) {
    if (this.done) return;
    this.done = true;
    const testResults = (files || []).map((file) => {
      const assertionResults = [];
      walk(file, [], assertionResults);
      const fileErrors = (file.result && file.result.errors) || [];
      return { name: file.filepath, assertionResults,
               status: file.result && file.result.state === "fail" ? "failed" : "passed",
               message: fileErrors.map(message).join("\n") };
    });
    send("report", { data: { testResults } });
    send("end", { errors: (errors || []).map(message).slice(0, 5), reason: reason || "" });
  }

  onFinished(files, errors) {
    this.report(files, errors, "");
  }

  onTestRunEnd(testModules, unhandledErrors, reason) {
    this.report((testModules || []).map((m) => m.task), unhandledErrors, reason);
  }
}
