// hybrid's judge inside a JavaScript test runner's main process: the run's key is taken from
// the inherited descriptor named in HYBRID_JUDGE_CHANNEL when this module loads (before any test
// file), and every record is signed with it. See hybridcode/judge/channel.py.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");

const spec = process.env.HYBRID_JUDGE_CHANNEL || "";
delete process.env.HYBRID_JUDGE_CHANNEL;
let key = null;
let out = null;
const parts = spec.split(",").map((p) => parseInt(p, 10));
if (parts.length === 2 && parts.every((p) => Number.isInteger(p))) {
  try {
    // 64 hex digits: this process's copy of the key (one per runner process of the run).
    const buf = Buffer.alloc(64);
    let got = 0;
    while (got < 64) {
      const n = fs.readSync(parts[0], buf, got, 64 - got, null);
      if (n <= 0) break;
      got += n;
    }
    fs.closeSync(parts[0]);
    const hex = buf.subarray(0, got).toString("utf8");
    if (hex.length === 64) {
      key = Buffer.from(hex, "hex");
      out = parts[1];
    }
  } catch (e) {
    key = null;
  }
}
const block = process.env.HYBRID_JUDGE_BLOCK || "";
const stream = "js-" + process.pid + "-" + crypto.randomBytes(4).toString("hex");
let seq = 0;

function send(kind, fields) {
  if (key === null) return;
  const record = Object.assign({}, fields || {}, { kind, stream, seq, block });
  seq += 1;
  const body = JSON.stringify(record);
  const mac = crypto.createHmac("sha256", key).update(body).digest("hex");
  fs.writeSync(out, mac + " " + body + "\n");
}

module.exports = { send };
