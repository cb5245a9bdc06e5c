// recorder.js — a loopback HTTP server for tests/e2e/test_run_vs_newman.sh:
// every request it receives is appended to OUT as one JSON line
// {method, target, headers: [[name, value]…] in received order and case,
// body: base64}; each gets 200 {}, except a digest challenge: a request to
// /digest-challenge/… without `Authorization: Digest …` gets 401 with the
// fixed CHALLENGE below (both clients then replay it signed), one to
// /digest-forbidden/… the same as 403, and every request to
// /digest-endless/… a challenge with an empty nonce, which no client can
// complete (the runtime gives up after 3 replays). Listens on 127.0.0.1,
// port 0; the port is written to PORTFILE once it listens.
// Usage: node recorder.js OUT PORTFILE
'use strict';
const fs = require('fs');
const http = require('http');
const [out, portfile] = process.argv.slice(2);
const CHALLENGE = 'Digest realm="taap@example.test", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
  'qop="auth", opaque="5ccc069c403ebaf9f0171e9517f40e41"';
const ENDLESS = 'Digest realm="taap@example.test", nonce=""';

// [status, challenge] for a challenge path, else null.
function challengeFor(req) {
  if (req.url.startsWith('/digest-endless/')) return [401, ENDLESS];
  if (/^digest /i.test(req.headers.authorization || '')) return null;
  if (req.url.startsWith('/digest-challenge/')) return [401, CHALLENGE];
  if (req.url.startsWith('/digest-forbidden/')) return [403, CHALLENGE];
  return null;
}
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    fs.appendFileSync(out, JSON.stringify({
      method: req.method, target: req.url, headers,
      body: Buffer.concat(chunks).toString('base64'),
    }) + '\n');
    const challenge = challengeFor(req);
    if (challenge) {
      res.writeHead(challenge[0], { 'WWW-Authenticate': challenge[1], 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' });
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portfile + '.tmp', String(server.address().port));
  fs.renameSync(portfile + '.tmp', portfile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
