// Signs webhook deliveries with the reference npm clients (standardwebhooks,
// @octokit/webhooks-methods) and writes them to ../testdata/webhooks/npm-signed.json, so
// tests/api/webhooks_test.cc checks offline that Rampart accepts what real senders send.
// Fixed secrets, ids and timestamps: the output is deterministic.
//
//   cd tests/js && npm install && node sign_webhooks.mjs
import { Webhook } from "standardwebhooks";
import { sign as githubSign, verify as githubVerify } from "@octokit/webhooks-methods";
import { writeFileSync } from "node:fs";

const SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GH_SECRET = "It's a Secret to Everybody";
const TIMESTAMP = 1893456000; // 2030-01-01T00:00:00Z, the test server's clock

const bodies = [
  { order_id: "A-1001", amount: 12.5 },
  { order_id: "A-1002", amount: 99, note: "unicode: \u00e9\u4e2d \ud83d\ude00" },
  { order_id: "A-1003", amount: 0.01, nested: { list: [1, 2, 3] } },
];

const wh = new Webhook(SW_SECRET);
const standard = bodies.map((b, i) => {
  const body = JSON.stringify(b);
  const id = `msg_fixture_${i + 1}`;
  const signature = wh.sign(id, new Date(TIMESTAMP * 1000), body);
  // (the library's verify() checks the timestamp against the real clock: not used here)
  return {
    body,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(TIMESTAMP),
      "webhook-signature": signature,
    },
  };
});

const github = [];
for (const [i, b] of bodies.entries()) {
  const body = JSON.stringify(b);
  const signature = await githubSign(GH_SECRET, body);
  if (!(await githubVerify(GH_SECRET, body, signature))) throw new Error("octokit verify failed");
  github.push({
    body,
    headers: {
      "X-Hub-Signature-256": signature,
      "X-GitHub-Delivery": `7d3e9b2a-0000-4000-8000-00000000000${i + 1}`,
      "X-GitHub-Event": "push",
    },
  });
}

const out = {
  generated_by: "tests/js/sign_webhooks.mjs (standardwebhooks, @octokit/webhooks-methods)",
  timestamp: TIMESTAMP,
  standard_webhooks: { secret: SW_SECRET, deliveries: standard },
  github: { secret: GH_SECRET, deliveries: github },
};
writeFileSync(new URL("../testdata/webhooks/npm-signed.json", import.meta.url),
              JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${standard.length + github.length} signed deliveries`);
