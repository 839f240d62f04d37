// Verifies Rampart's outbound execution hook deliveries with the npm reference library
// (standardwebhooks): ../testdata/hooks/rampart-signed.json is written by our signer
// (src/hooks/dispatcher_test.cc, HookFixture.MatchesOurSigner, which also checks that the
// file still matches it). Also checks that a tampered body, id or timestamp fails.
//
//   cd tests/js && npm install && node verify_hooks.mjs
import { Webhook } from "standardwebhooks";
import { readFileSync } from "node:fs";

const fixture = JSON.parse(
  readFileSync(new URL("../testdata/hooks/rampart-signed.json", import.meta.url), "utf8"));
// The library checks the timestamp against the clock (5 min tolerance): pin the clock.
Date.now = () => fixture.timestamp * 1000;

const wh = new Webhook(fixture.secret);
let failures = 0;
for (const d of fixture.deliveries) {
  const id = d.headers["webhook-id"];
  try {
    const payload = wh.verify(d.body, d.headers);
    if (!payload.type || !payload.data || !payload.data.run_id) throw new Error("bad payload");
    console.log(`ok   ${id} ${payload.type}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${id}: ${e.message}`);
  }
  const tampered = [
    [d.body.replace("run_fixture", "run_fixturf"), d.headers],
    [d.body, { ...d.headers, "webhook-id": id + "x" }],
    [d.body, { ...d.headers, "webhook-timestamp": String(fixture.timestamp + 1) }],
  ];
  for (const [body, headers] of tampered) {
    let accepted = false;
    try {
      wh.verify(body, headers);
      accepted = true;
    } catch {}
    if (accepted) {
      failures++;
      console.log(`FAIL ${id}: a tampered delivery verified`);
    }
  }
}
if (failures > 0) {
  console.log(`${failures} failure(s)`);
  process.exit(1);
}
console.log(`all ${fixture.deliveries.length} deliveries verify with standardwebhooks`);
