// tmobile_js_pop.js — build and check PoP tokens the way T-Mobile's
// JavaScript builder (poptoken-builder.js, jsrsasign) does, with Node's
// built-in crypto only (no npm). Used by tests/e2e/test_interop.sh.
//
//   node tmobile_js_pop.js build PRIVATE.pem NOW VARIANT NAME=VALUE...
//     Signs the ordered (name, value) pairs. Payload members in the JS
//     builder's order (edts, v, exp, ehts, iat, jti), exp = iat + 120,
//     jti a random 8-4-4-4-12 hex string. VARIANT is a comma list:
//       vstring | vint       v as "1" or as the integer 1
//       algfirst | typfirst  header member order
//       notyp                header {"alg":"RS256"} only
//   node tmobile_js_pop.js verify PUBLIC.pem TOKEN
//     crypto.verify over the signing input; prints "Verified OK" or exits 1.
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function build(keyPath, now, variant, pairs) {
  const opts = new Set(variant.split(','));
  const key = crypto.createPrivateKey(fs.readFileSync(keyPath));
  let header;
  if (opts.has('notyp')) header = { alg: 'RS256' };
  else if (opts.has('typfirst')) header = { typ: 'JWT', alg: 'RS256' };
  else header = { alg: 'RS256', typ: 'JWT' };
  const names = [];
  let values = '';
  for (const p of pairs) {
    const i = p.indexOf('=');
    names.push(p.slice(0, i));
    values += p.slice(i + 1);
  }
  const edts = b64url(crypto.createHash('sha256').update(values, 'utf8').digest());
  const hex = crypto.randomBytes(16).toString('hex');
  const jti = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
    hex.slice(20)].join('-');
  const iat = Number(now);
  const payload = {
    edts,
    v: opts.has('vint') ? 1 : '1',
    exp: iat + 2 * 60,
    ehts: names.join(';'),
    iat,
    jti,
  };
  const input = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(payload));
  const sig = crypto.sign('sha256', Buffer.from(input), key);
  return input + '.' + b64url(sig);
}

function verify(pubPath, token) {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const key = crypto.createPublicKey(fs.readFileSync(pubPath));
  return crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), key,
    Buffer.from(parts[2], 'base64url'));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'build') {
  const [keyPath, now, variant, ...pairs] = args;
  process.stdout.write(build(keyPath, now, variant, pairs) + '\n');
} else if (cmd === 'verify') {
  if (verify(args[0], args[1])) process.stdout.write('Verified OK\n');
  else { process.stdout.write('Verification failure\n'); process.exit(1); }
} else {
  process.stderr.write('usage: tmobile_js_pop.js build|verify ...\n');
  process.exit(2);
}
