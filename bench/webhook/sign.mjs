// Pre-signs Standard Webhooks deliveries for bench/webhook_load.sh (wrk's Lua has no HMAC).
// Usage: node sign.mjs SECRET COUNT BODY_FILE OUT_FILE [ID_PREFIX]
// Writes one delivery per line: "<webhook-id> <webhook-timestamp> <webhook-signature>",
// every id unique, all with the current timestamp (valid for the 300 s replay window),
// signature = v1,<base64 HMAC-SHA256("id.timestamp.body") keyed with the base64-decoded
// part of the whsec_ secret>, over the exact bytes of BODY_FILE.
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const [secret, countText, bodyFile, outFile, prefixArg] = process.argv.slice(2);
if (!secret || !countText || !bodyFile || !outFile) {
  console.error("usage: node sign.mjs SECRET COUNT BODY_FILE OUT_FILE [ID_PREFIX]");
  process.exit(2);
}
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
const body = readFileSync(bodyFile);
const count = Number.parseInt(countText, 10);
const prefix = prefixArg ?? `msg_${randomBytes(6).toString("hex")}_`;
const ts = String(Math.floor(Date.now() / 1000));
const lines = new Array(count);
for (let i = 0; i < count; i++) {
  const id = prefix + i;
  const mac = createHmac("sha256", key);
  mac.update(`${id}.${ts}.`);
  mac.update(body);
  lines[i] = `${id} ${ts} v1,${mac.digest("base64")}`;
}
writeFileSync(outFile, lines.join("\n") + "\n");
