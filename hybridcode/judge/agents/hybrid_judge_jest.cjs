// hybrid's judge as a jest reporter: the aggregated results, in jest's --json shape, and the end
// of the run, signed over the judge's channel (hybrid_judge_channel.cjs).
"use strict";
const { send } = require("./hybrid_judge_channel.cjs");

class HybridJudgeReporter {
  constructor() {
    send("start", {});
  }

  onRunComplete(contexts, results) {
    const testResults = (results.testResults || []).map((file) => ({
      name: file.testFilePath,
      assertionResults: (file.testResults || []).map((t) => ({
        ancestorTitles: t.ancestorTitles, title: t.title, status: t.status,
        failureMessages: t.failureMessages || [] })),
      status: file.numFailingTests > 0 || file.testExecError ? "failed" : "passed",
      message: file.failureMessage || (file.testExecError && file.testExecError.message) || "",
    }));
    send("report", { data: { testResults } });
    send("end", { errors: results.numRuntimeErrorTestSuites ? ["a test file failed to run"] : [],
                  reason: results.success ? "passed" : "failed" });
  }

  getLastError() {
    return undefined;
  }
}

module.exports = HybridJudgeReporter;
