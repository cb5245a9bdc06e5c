// compare.js — compare what taap and Newman sent (two recorder.js files),
// request by request, byte for byte after these normalisations, each
// needed because the two must differ there, not because one is wrong:
//   1. Newman's own client headers are dropped: User-Agent (names the
//      client), Postman-Token (a random UUID per request), Cache-Control:
//      no-cache, Accept-Encoding (taap does not ask for compressed answers)
//      and Connection: keep-alive (HTTP/1.1's default). taap sends none.
//   2. Host is compared by value, not position: libcurl always writes it
//      first, node after the collection's headers.
//   3. A multipart boundary is random per request in both clients: it is
//      replaced by BOUNDARY in Content-Type and body.
// Everything else — method, target, every other header with its case,
// value and order, the body bytes — must be identical.
// Usage: node compare.js TAAP.jsonl NEWMAN.jsonl → prints a JSON summary.
'use strict';
const fs = require('fs');
const DROP = new Set(['user-agent', 'postman-token', 'cache-control', 'accept-encoding',
  'connection']);

function load(path) {
  if (!fs.existsSync(path)) return [];
  return fs.readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function normalise(r) {
  let body = Buffer.from(r.body, 'base64').toString('latin1');
  let host = null;
  const headers = [];
  let boundary = null;
  for (const [k, v] of r.headers) {
    const lk = k.toLowerCase();
    if (DROP.has(lk)) continue;
    if (lk === 'host') { host = v; continue; }
    const m = lk === 'content-type' && /boundary=([^;\s]+)/.exec(v);
    if (m) boundary = m[1];
    headers.push([k, v]);
  }
  if (boundary) {
    body = body.split(boundary).join('BOUNDARY');
    for (const h of headers) h[1] = h[1].split(boundary).join('BOUNDARY');
  }
  return { method: r.method, target: r.target, host,
    headers: headers.map(([k, v]) => `${k}: ${v}`), body };
}

// Requests are paired in order by method and target, so one request that
// only one client sent (taap refuses an auth type Newman signs) shows as
// that one difference instead of shifting every later pair.
const [a, b] = process.argv.slice(2).map((p) => load(p).map(normalise));
const out = { taap: a.length, newman: b.length, identical: 0, diffs: [] };
let i = 0;
for (const y of b) {
  let k = i;
  while (k < a.length && (a[k].method !== y.method || a[k].target !== y.target)) k++;
  if (k === a.length) { out.diffs.push({ taap: null, newman: y }); continue; }
  for (; i < k; i++) out.diffs.push({ taap: a[i], newman: null });
  const x = a[i++];
  if (JSON.stringify(x) === JSON.stringify(y)) out.identical++;
  else out.diffs.push({ taap: x, newman: y });
}
for (; i < a.length; i++) out.diffs.push({ taap: a[i], newman: null });
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
