// hybrid's judge as a node:test reporter (it runs in the runner's main process): each test's
// result, and the end of the run when the event stream closed, signed over the judge's channel
// (hybrid_judge_channel.cjs). Test files run in child processes of this one.
import { createRequire } from "node:module";

const { send } = createRequire(import.meta.url)("./hybrid_judge_channel.cjs");
send("start", {});

function message(error) {
  if (!error) return "";
  const cause = error.cause || error;
  return String(cause.message || cause);
}

export default async function* hybridJudge(source) {
  const stack = [];
  let count = 0;
  for await (const event of source) {
    const data = event.data || {};
    if (event.type === "test:start") {
      stack.length = data.nesting;
      stack.push(data.name);
    } else if (event.type === "test:pass" || event.type === "test:fail") {
      const details = data.details || {};
      stack.length = data.nesting;
      if (details.type === "suite") continue;
      let status = event.type === "test:pass" ? "passed" : "failed";
      let text = event.type === "test:fail" ? message(details.error) : "";
      if (data.skip !== undefined && data.skip !== false) {
        status = "skipped";
        text = typeof data.skip === "string" ? data.skip : "";
      } else if (data.todo !== undefined && data.todo !== false) {
        status = "skipped";
        text = typeof data.todo === "string" ? data.todo : "todo";
      }
      count += 1;
      send("test", { file: data.file || "", suite: stack.slice(0, data.nesting),
                     name: data.name, status, message: text.slice(0, 2000) });
    } else if (event.type === "test:diagnostic") {
      yield "# " + data.message + "\n";
    }
  }
  send("end", { tests: count });
}
