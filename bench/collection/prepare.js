#!/usr/bin/env node
// node bench/collection/prepare.js COLLECTION ENVIRONMENT KEY OUTDIR
//
// Writes the three files Newman needs to run the example collection the way
// T-Mobile-style collections run in Postman (used by bench/run_collection.sh):
//   OUTDIR/newman.postman_collection.json   COLLECTION with its collection-level
//       pre-request script replaced by pop_prerequest.js (requests, headers,
//       test scripts unchanged);
//   OUTDIR/newman.postman_globals.json      jsrsasign-all-min.js (the pinned npm
//       package) pasted into the global variable "jsrsasign-js", as teams do
//       to avoid the run-time download;
//   OUTDIR/newman.postman_environment.json  ENVIRONMENT with privateKey set to
//       the PEM in KEY (mode 0600: it holds the key and the client secret).
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
    process.stderr.write('prepare.js: ' + msg + '\n');
    process.exit(2);
}

function readJson(file) {
    try {
        return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
        die(file + ': ' + e.message);
    }
}

if (process.argv.length !== 6)
    die('usage: node prepare.js COLLECTION ENVIRONMENT KEY OUTDIR');
const [collectionFile, envFile, keyFile, outDir] = process.argv.slice(2);

const script = fs.readFileSync(path.join(__dirname, 'pop_prerequest.js'), 'utf8');
const libFile = path.join(__dirname, 'node_modules', 'jsrsasign', 'lib', 'jsrsasign-all-min.js');
if (!fs.existsSync(libFile))
    die(libFile + ' is missing (npm ci --prefix ' + __dirname + ')');
const lib = fs.readFileSync(libFile, 'utf8');
const libVersion = readJson(path.join(__dirname, 'node_modules', 'jsrsasign', 'package.json')).version;

const collection = readJson(collectionFile);
const pre = (collection.event || []).filter((e) => e.listen === 'prerequest');
if (pre.length !== 1 || !pre[0].script)
    die(collectionFile + ': expected one collection-level pre-request script, found ' + pre.length);
pre[0].script.exec = script.replace(/\n$/, '').split('\n');
collection.info.name += ' (Newman benchmark copy, jsrsasign ' + libVersion + ')';

const env = readJson(envFile);
const pem = fs.readFileSync(keyFile, 'utf8');
let keyVar = (env.values || []).find((v) => v.key === 'privateKey');
if (!keyVar) {
    keyVar = {key: 'privateKey', type: 'secret'};
    env.values = (env.values || []).concat([keyVar]);
}
keyVar.value = pem;
keyVar.enabled = true;

const globals = {
    name: 'jsrsasign ' + libVersion,
    values: [{key: 'jsrsasign-js', value: lib, type: 'default', enabled: true}],
    _postman_variable_scope: 'globals'
};

fs.writeFileSync(path.join(outDir, 'newman.postman_collection.json'),
                 JSON.stringify(collection, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'newman.postman_globals.json'), JSON.stringify(globals) + '\n');
fs.writeFileSync(path.join(outDir, 'newman.postman_environment.json'),
                 JSON.stringify(env, null, 2) + '\n', {mode: 0o600});
