// recorder.js — a loopback HTTP server for tests/e2e/test_run_vs_newman.sh:
// every request it receives is appended to OUT as one JSON line
// {method, target, headers: [[name, value]…] in received order and case,
// body: base64}; each gets 200 {}. Listens on 127.0.0.1, port 0; the port
// is written to PORTFILE once it listens. Usage: node recorder.js OUT PORTFILE
'use strict';
const fs = require('fs');
const http = require('http');
const [out, portfile] = process.argv.slice(2);
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
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' });
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portfile + '.tmp', String(server.address().port));
  fs.renameSync(portfile + '.tmp', portfile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
