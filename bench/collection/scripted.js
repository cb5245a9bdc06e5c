#!/usr/bin/env node
// node bench/collection/scripted.js COLLECTION OUTDIR
//
// Writes the two variants of the example collection that the scripted row of
// bench/run_collection.sh times (issue 12 item 10):
//   OUTDIR/scripted.postman_collection.json    COLLECTION where every request
//       item's test script holds exactly three pm.test: its own tests first,
//       then the checks below until there are three (the collection-level
//       pre-request PoP script is kept: taap signs natively, Newman's copy
//       gets jsrsasign from prepare.js);
//   OUTDIR/scriptless.postman_collection.json  COLLECTION with every script
//       removed (taap still signs a PoP for each request with an
//       X-Authorization header: that is the native path, no node at all).
// Only the scripts change; requests, headers and variables are as given.
'use strict';
const fs = require('fs');
const path = require('path');

const TESTS = 3;
// Checks any JSON answer of the emulator passes; appended in this order.
const EXTRA = [
    ["pm.test('Status code is 200', function () {",
     '    pm.response.to.have.status(200);',
     '});'],
    ["pm.test('The answer is JSON', function () {",
     "    pm.expect(pm.response.headers.get('Content-Type')).to.include('application/json');",
     '    pm.response.to.have.jsonBody();',
     '});'],
    ["pm.test('Answered within 10 s', function () {",
     '    pm.expect(pm.response.responseTime).to.be.below(10000);',
     '});']
];

function die(msg) {
    process.stderr.write('scripted.js: ' + msg + '\n');
    process.exit(2);
}

function lines(exec) {
    return Array.isArray(exec) ? exec.slice() : String(exec || '').split('\n');
}

function countTests(code) {
    return (code.join('\n').match(/\bpm\.test\(/g) || []).length;
}

// The item's test script with three pm.test (exec lines).
function threeTests(item) {
    const ev = (item.event || []).find((e) => e.listen === 'test' && e.script);
    const code = ev ? lines(ev.script.exec) : [];
    for (const extra of EXTRA) {
        if (countTests(code) >= TESTS) break;
        const name = extra[0].match(/'([^']*)'/)[1];
        if (code.join('\n').includes("'" + name + "'")) continue; /* the item has it already */
        code.push(...extra);
    }
    if (countTests(code) !== TESTS)
        die('"' + item.name + '": cannot make a test script with exactly ' + TESTS +
            ' pm.test (it has ' + countTests(code) + ')');
    return code;
}

function scripted(items) {
    for (const item of items || []) {
        if (item.item) { scripted(item.item); continue; }
        if (!item.request) continue;
        const others = (item.event || []).filter((e) => e.listen !== 'test');
        item.event = others.concat([{listen: 'test',
            script: {type: 'text/javascript', exec: threeTests(item)}}]);
    }
}

function scriptless(node) {
    delete node.event;
    for (const item of node.item || []) scriptless(item);
}

if (process.argv.length !== 4) die('usage: node scripted.js COLLECTION OUTDIR');
const [collectionFile, outDir] = process.argv.slice(2);
let text;
try { text = fs.readFileSync(collectionFile, 'utf8'); }
catch (e) { die(e.message); }

const withTests = JSON.parse(text);
scripted(withTests.item);
withTests.info.name += ' (benchmark: ' + TESTS + ' pm.test per item)';
fs.writeFileSync(path.join(outDir, 'scripted.postman_collection.json'),
                 JSON.stringify(withTests, null, 2) + '\n');

const none = JSON.parse(text);
scriptless(none);
none.info.name += ' (benchmark: no scripts)';
fs.writeFileSync(path.join(outDir, 'scriptless.postman_collection.json'),
                 JSON.stringify(none, null, 2) + '\n');
