// Mints the JWT fixtures of src/crypto/jwt_test.cc with a real JOSE implementation
// (npm "jose"), so the C++ verifier is tested against tokens it did not produce itself.
//
//   cd tests/js && npm install && node mint_jwt.mjs
//
// Writes tests/testdata/jwt/ (JWKS, PEM public keys, tokens.json, jwks.inc for the fuzz
// target) and fuzz/jwt_corpus/. Keys are fresh on every run, so re-running rewrites every
// fixture; commit them together. Private keys are not written anywhere.
//
// Times are fixed: tests verify at NOW (2030-01-01T00:00:00Z) and valid tokens expire in
// 2100, so the suite is deterministic. A few attack tokens cannot be produced through
// jose's safe API (alg "none" casing variants, RSA-1024, DER-encoded ES256 signatures,
// payload tampering): those are assembled by hand or with node:crypto, as labelled below.
import { CompactSign, SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const outDir = path.join(root, 'tests', 'testdata', 'jwt');
const corpusDir = path.join(root, 'fuzz', 'jwt_corpus');

const ISS = 'https://idp.example.test/';
const AUD = 'rampart-api';
const NOW = 1893456000;  // 2030-01-01T00:00:00Z, the `now` the tests pass
const EXP = 4102444800;  // 2100-01-01T00:00:00Z
const IAT = NOW - 60;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64url(JSON.stringify(obj));

const rsa = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const ec = await generateKeyPair('ES256', { extractable: true });
const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
const attacker = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
// node:crypto: jose refuses to sign with RSA keys under 2048 bits (as it should).
const weak = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
const rsaEnc = await generateKeyPair('RSA-OAEP-256', { modulusLength: 2048, extractable: true });
const octSecret = crypto.randomBytes(32);

const jwk = async (key, extra) => ({ ...(await exportJWK(key)), ...extra });
const jwks = {
  keys: [
    await jwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256', use: 'sig' }),
    await jwk(ec.publicKey, { kid: 'ec-1', alg: 'ES256', use: 'sig' }),
    await jwk(ed.publicKey, { kid: 'ed-1', alg: 'EdDSA', use: 'sig' }),
    // Must be skipped: a 1024-bit RSA key, an encryption key, a symmetric key.
    { ...weak.publicKey.export({ format: 'jwk' }), kid: 'rsa-weak', alg: 'RS256' },
    await jwk(rsaEnc.publicKey, { kid: 'rsa-enc', alg: 'RSA-OAEP-256', use: 'enc' }),
    { kty: 'oct', kid: 'oct-1', k: b64url(octSecret) },
  ],
};
const jwksSingle = { keys: [await jwk(rsa.publicKey, { kid: 'rsa-1', alg: 'RS256' })] };
const jwksWeak = { keys: [{ ...weak.publicKey.export({ format: 'jwk' }), kid: 'rsa-weak' }] };
const rsaPem = await exportSPKI(rsa.publicKey);

const claims = (extra = {}) => ({
  iss: ISS, aud: AUD, sub: 'user-123', email: 'ada@example.test', email_verified: true, iat: IAT, exp: EXP,
  ...extra,
});
const strip = (obj, ...names) => {
  const copy = { ...obj };
  for (const n of names) delete copy[n];
  return copy;
};

// Signs `payload` (an object, or a string used verbatim) with jose's CompactSign.
async function sign(payload, header, key, options) {
  const bytes = new TextEncoder().encode(
    typeof payload === 'string' ? payload : JSON.stringify(payload));
  return new CompactSign(bytes).setProtectedHeader(header).sign(key, options);
}
const rs = (payload, header = {}) => sign(payload, { alg: 'RS256', kid: 'rsa-1', ...header }, rsa.privateKey);

// By hand: header.payload signed with node:crypto.
function handSigned(header, payload, signFn) {
  const input = `${enc(header)}.${enc(payload)}`;
  return `${input}.${b64url(signFn(Buffer.from(input)))}`;
}

const tokens = {};
// --- Valid tokens ---
tokens.valid_rs256 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT' }).sign(rsa.privateKey);
tokens.valid_es256 = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey);
tokens.valid_eddsa = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: 'ed-1' }).sign(ed.privateKey);
tokens.valid_rs256_no_kid = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
tokens.valid_es256_no_kid = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256' }).sign(ec.privateKey);
tokens.valid_eddsa_no_kid = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA' }).sign(ed.privateKey);
tokens.valid_aud_array = await rs(claims({ aud: ['other-api', AUD] }));
// The header typ (RFC 8725 3.11, RFC 9068): absent, JWT or at+jwt (any casing, with or
// without "application/") is an access token; any other type the same issuer mints (ID
// tokens, logout tokens, DPoP proofs) must be refused although validly signed.
tokens.valid_typ_at_jwt = await rs(claims(), { typ: 'at+jwt' });
tokens.valid_typ_at_jwt_upper = await rs(claims(), { typ: 'AT+JWT' });
tokens.valid_typ_jwt_lower = await rs(claims(), { typ: 'jwt' });
tokens.valid_typ_application_at_jwt = await rs(claims(), { typ: 'application/at+jwt' });
tokens.typ_id_jwt = await rs(claims(), { typ: 'id+jwt' });
tokens.typ_logout_jwt = await rs(claims(), { typ: 'logout+jwt' });
tokens.typ_dpop_jwt = await rs(claims(), { typ: 'dpop+jwt' });
tokens.typ_secevent_jwt = await rs(claims(), { typ: 'secevent+jwt' });
tokens.typ_empty = await rs(claims(), { typ: '' });
tokens.typ_number = await rs(claims(), { typ: 1 });
tokens.typ_jwt_suffix = await rs(claims(), { typ: 'JWTX' });
tokens.valid_no_email = await rs(strip(claims(), 'email'));
tokens.valid_exp_within_skew = await rs(claims({ exp: NOW - 30 }));
tokens.valid_nbf_within_skew = await rs(claims({ nbf: NOW + 30 }));
tokens.valid_fractional_exp = await rs(claims({ exp: EXP + 0.5 }));
// jku/x5u/jwk point at the attacker, but the token is signed by the real key: the
// headers must simply be ignored.
const attackerJwk = await jwk(attacker.publicKey, { kid: 'rsa-1' });
tokens.valid_ignored_jku_x5u_jwk = await rs(claims(), {
  jku: 'https://attacker.invalid/jwks.json', x5u: 'https://attacker.invalid/cert.pem', jwk: attackerJwk,
});

// --- Attacks: algorithm ---
tokens.alg_none = new UnsecuredJWT(claims()).encode();  // jose's own unsecured JWT
for (const alg of ['None', 'NONE', 'nOnE']) {  // by hand: jose only writes "none"
  tokens[`alg_${alg}`] = `${enc({ alg, typ: 'JWT' })}.${enc(claims())}.`;
}
// "none" with a signature segment copied from a valid token.
tokens.alg_none_with_signature =
  `${enc({ alg: 'none', kid: 'rsa-1' })}.${enc(claims())}.${tokens.valid_rs256.split('.')[2]}`;
tokens.alg_missing = handSigned({ kid: 'rsa-1' }, claims(), (d) => crypto.sign('sha256', d, rsa.privateKey));
// The confusion attack: HMAC keyed with the (public) RSA key in PEM form.
for (const alg of ['HS256', 'HS384', 'HS512']) {
  tokens[`${alg.toLowerCase()}_public_key_as_secret`] =
    await sign(claims(), { alg, kid: 'rsa-1' }, new TextEncoder().encode(rsaPem));
}
tokens.hs256_public_key_as_secret_no_kid =
  await sign(claims(), { alg: 'HS256' }, new TextEncoder().encode(rsaPem));
tokens.hs256_oct_key = await sign(claims(), { alg: 'HS256', kid: 'oct-1' }, octSecret);
tokens.ps256 = await sign(claims(), { alg: 'PS256', kid: 'rsa-1' }, rsa.privateKey);
tokens.rs384 = await sign(claims(), { alg: 'RS384', kid: 'rsa-1' }, rsa.privateKey);
// Key type must match the algorithm.
tokens.rs256_with_ec_kid = await sign(claims(), { alg: 'RS256', kid: 'ec-1' }, rsa.privateKey);
tokens.es256_with_rsa_kid = await sign(claims(), { alg: 'ES256', kid: 'rsa-1' }, ec.privateKey);
tokens.eddsa_with_ec_kid = await sign(claims(), { alg: 'EdDSA', kid: 'ec-1' }, ed.privateKey);
// ES256 with an ASN.1 DER signature instead of raw r||s (node:crypto, dsaEncoding der).
tokens.es256_der_signature = handSigned({ alg: 'ES256', kid: 'ec-1' }, claims(),
  (d) => crypto.sign('sha256', d, { key: ec.privateKey, dsaEncoding: 'der' }));
// node:crypto: PKCS#1 v1.5 with a 1024-bit key, listed in jwks.json (where it must be skipped).
tokens.rsa1024_signed = handSigned({ alg: 'RS256', kid: 'rsa-weak' }, claims(),
  (d) => crypto.sign('sha256', d, weak.privateKey));
tokens.rsa1024_signed_no_kid = handSigned({ alg: 'RS256' }, claims(),
  (d) => crypto.sign('sha256', d, weak.privateKey));

// --- Attacks: keys ---
tokens.unknown_kid = await rs(claims(), { kid: 'no-such-key' });
tokens.attacker_key_with_real_kid = await sign(claims(),
  { alg: 'RS256', kid: 'rsa-1', jwk: attackerJwk, jku: 'https://attacker.invalid/jwks.json' },
  attacker.privateKey);
tokens.attacker_key_embedded_jwk_no_kid = await sign(claims(),
  { alg: 'RS256', jwk: await exportJWK(attacker.publicKey) }, attacker.privateKey);
tokens.crit = await sign(claims(), { alg: 'RS256', kid: 'rsa-1', crit: ['urn:example:ext'], 'urn:example:ext': 1 },
  rsa.privateKey, { crit: { 'urn:example:ext': true } });
tokens.crit_b64 = await sign(claims(), { alg: 'RS256', kid: 'rsa-1', crit: ['b64'], b64: true }, rsa.privateKey);

// --- Attacks: claims (all correctly signed) ---
tokens.expired = await rs(claims({ exp: NOW - 3600 }));
tokens.expired_just_past_skew = await rs(claims({ exp: NOW - 61 }));
tokens.not_yet_valid = await rs(claims({ nbf: NOW + 3600 }));
tokens.iat_in_future = await rs(claims({ iat: NOW + 86400 }));
tokens.missing_exp = await rs(strip(claims(), 'exp'));
tokens.exp_string = await rs(claims({ exp: String(EXP) }));
tokens.missing_sub = await rs(strip(claims(), 'sub'));
tokens.empty_sub = await rs(claims({ sub: '' }));
tokens.wrong_iss = await rs(claims({ iss: 'https://evil.example.test/' }));
tokens.missing_iss = await rs(strip(claims(), 'iss'));
tokens.iss_prefix = await rs(claims({ iss: ISS.slice(0, -1) }));
tokens.wrong_aud = await rs(claims({ aud: 'another-api' }));
tokens.wrong_aud_array = await rs(claims({ aud: ['another-api', 'third-api'] }));
tokens.missing_aud = await rs(strip(claims(), 'aud'));
tokens.payload_array = await rs('[1,2,3]');
tokens.payload_not_json = await rs('not json');

// --- Attacks: integrity ---
{
  const [h, p, s] = tokens.valid_rs256.split('.');
  const forged = enc({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: 'admin' });
  tokens.tampered_payload = `${h}.${forged}.${s}`;  // by hand: payload swapped after signing
  const sig = Buffer.from(s, 'base64url');
  sig[10] ^= 1;
  tokens.tampered_signature = `${h}.${p}.${b64url(sig)}`;
}
tokens.oversized = await rs(claims({ padding: 'x'.repeat(9000) }));

// --- Write fixtures ---
fs.mkdirSync(outDir, { recursive: true });
const write = (name, text) => fs.writeFileSync(path.join(outDir, name), text);
const pretty = (v) => `${JSON.stringify(v, null, 2)}\n`;
write('jwks.json', pretty(jwks));
write('jwks_single.json', pretty(jwksSingle));
write('jwks_weak.json', pretty(jwksWeak));
write('rsa_public.pem', rsaPem);
write('ec_public.pem', await exportSPKI(ec.publicKey));
write('ed25519_public.pem', await exportSPKI(ed.publicKey));
write('rsa1024_public.pem', weak.publicKey.export({ type: 'spki', format: 'pem' }));
write('tokens.json', pretty({ issuer: ISS, audience: AUD, now: NOW, tokens }));
write('jwks.inc', `// Generated by tests/js/mint_jwt.mjs: the public JWKS of tests/testdata/jwt/jwks.json.\n` +
  `R"JWKS(${JSON.stringify(jwks)})JWKS"\n`);

fs.mkdirSync(corpusDir, { recursive: true });
for (const name of ['valid_rs256', 'valid_es256', 'valid_eddsa', 'alg_none', 'hs256_public_key_as_secret',
  'crit', 'es256_der_signature', 'tampered_payload', 'expired', 'payload_array']) {
  fs.writeFileSync(path.join(corpusDir, name), tokens[name]);
}
// "<jwks>\0<token>" inputs make the fuzz target load the key set from the input.
fs.writeFileSync(path.join(corpusDir, 'jwks_single_and_token'),
  `${JSON.stringify(jwksSingle)}\0${tokens.valid_rs256_no_kid}`);
fs.writeFileSync(path.join(corpusDir, 'jwks_and_token'), `${JSON.stringify(jwks)}\0${tokens.valid_eddsa}`);
console.log(`wrote ${Object.keys(tokens).length} tokens to ${path.relative(root, outDir)}`);
