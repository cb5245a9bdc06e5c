'use strict';
/*
 * host.js — the script host of `taap run`. It runs a collection's
 * pre-request and test scripts in Postman's own sandbox (npm
 * postman-sandbox, the engine Newman runs them in) and nothing else: taap
 * keeps building the requests, signing PoPs and sending them with libcurl.
 * One long-lived `node host.js` per runner worker, driven by taap over a
 * socket on file descriptor 3 (src/postman/sandbox.c is the other end).
 * Not stdin: the sandbox's worker thread ends the main thread's stdin
 * stream (seen with node 20), and stdout stays free for stray prints, which
 * taap keeps for its error messages.
 *
 * PROTOCOL, version 1. One JSON object per line ('\n'-terminated UTF-8) in
 * each direction; every message has "t" (its type). Strings that may hold
 * arbitrary bytes (bodies) travel base64-encoded ("body64").
 *
 *   host → taap  {"t":"hello","v":1,"sandbox":"6.7.4","node":"v20.1.0"}
 *                once, when the sandbox context is ready; or
 *                {"t":"fatal","message":…} and exit 1.
 *   taap → host  {"t":"exec","id":"7","listen":"prerequest"|"test",
 *                 "script":"…", "timeout":ms (0 = none),
 *                 "context":{"request":<Postman request JSON>,
 *                   "response":{"code","status","header":[[k,v]…],"body64",
 *                               "time"} (test scripts),
 *                   "environment"|"globals"|"collectionVariables"|
 *                   "_variables": [[key,value]…] (strings),
 *                   "data":{column:value}},
 *                 "info":{"iteration","iterations","itemId","itemName",
 *                   "itemPath":[names], "eventItemName"}}
 *   host → taap  while it runs, any number of:
 *                {"t":"assertion","id","name","passed","skipped","index",
 *                 "error":{"name","message"}|null}
 *                {"t":"console","id","level":"log"|"warn"|…,"text"}
 *                {"t":"request","id","rid":n,"method","url",
 *                 "header":[[k,v]…],"body64"}   (a pm.sendRequest)
 *   taap → host  {"t":"response","id","rid":n,"error":"…"|null,
 *                 "response":{"code","status","header","body64","time"}}
 *                — the answer to that request, performed by taap.
 *   host → taap  at the end: {"t":"done","id","error":{"name","message"}|null,
 *                 "skipRequest":bool, "nextRequest":"name"|null (only when
 *                 the script set it), "request":<JSON> (only when a
 *                 pre-request script changed pm.request),
 *                 "vars":{"environment":{"set":[[k,v]…],"unset":[k…]},…}}
 *   EOF from taap ends the host.
 *
 * Variables cross as strings (taap resolves {{…}} with them). So that a
 * value a script set keeps its JavaScript type in the next script (as in
 * Newman, where scopes hold any value), the host remembers the typed value
 * it last reported for each variable and hands it back while taap's string
 * still matches it.
 */
const Sandbox = require('postman-sandbox');
const sdk = require('postman-collection');
const util = require('util');
const net = require('net');

const VERSION = 1;
const SCOPES = ['environment', 'globals', 'collectionVariables', '_variables'];
const typed = { environment: new Map(), globals: new Map(), collectionVariables: new Map(),
    _variables: new Map() };

let ctx = null;
let channel = null; /* the socket to taap (fd 3) */
let current = null; /* the execution under way: {id, asyncError} */

function send (msg) {
    channel.write(JSON.stringify(msg) + '\n');
}

/* The string taap keeps for a script's value ({{name}} substitution rules:
 * undefined → "", objects → String()). */
function asString (v) {
    if (v === undefined) { return ''; }
    if (typeof v === 'string') { return v; }
    try { return String(v); }
    catch (e) { return ''; }
}

function scopeIn (name, pairs) {
    const values = [];
    for (const [key, value] of Array.isArray(pairs) ? pairs : []) {
        const t = typed[name].get(key);
        values.push({ key: key, value: t && t.str === value ? t.val : value, type: 'any' });
    }
    return { values: values };
}

/* Mutations (compacted) of one scope → {set:[[k,v]], unset:[k]} */
function scopeOut (name, scope) {
    const out = { set: [], unset: [] };
    const compacted = scope && scope.mutations && scope.mutations.compacted;
    if (!compacted) { return out; }
    for (const key of Object.keys(compacted)) {
        const m = compacted[key];
        if (!Array.isArray(m) || m.length < 2) {
            out.unset.push(key);
            typed[name].delete(key);
            continue;
        }
        const str = asString(m[1]);
        typed[name].set(key, { str: str, val: m[1] });
        out.set.push([key, str]);
    }
    return out;
}

function responseIn (r) {
    if (!r) { return undefined; }
    return {
        code: r.code,
        status: r.status || '',
        header: (r.header || []).map(([k, v]) => ({ key: k, value: v })),
        body: Buffer.from(r.body64 || '', 'base64').toString('utf8'),
        responseTime: r.time || 0
    };
}

function errorOut (e) {
    if (!e) { return null; }
    return { name: String(e.name || 'Error'), message: String(e.message || e) };
}

function fatal (message) {
    channel.end(JSON.stringify({ t: 'fatal', message: message }) + '\n', () => process.exit(1));
}

function formatArgs (args) {
    return args.map((a) => (typeof a === 'string' ? a :
        util.inspect(a, { depth: 4, breakLength: Infinity }))).join(' ');
}

/* A pm.sendRequest's request (Postman request JSON) → what taap sends:
 * method, URL, headers, body bytes. Variables are not resolved, as in the
 * Postman runtime. */
function flatRequest (json) {
    const r = new sdk.Request(json);
    const header = [];
    r.headers.each((h) => { if (!h.disabled) { header.push([h.key, asString(h.value)]); } });
    let body = Buffer.alloc(0);
    const b = r.body;
    const hasType = () => header.some(([k]) => k.toLowerCase() === 'content-type');
    if (b && !b.disabled) {
        if (b.mode === 'raw' && b.raw) {
            body = Buffer.from(String(b.raw), 'utf8');
        }
        else if (b.mode === 'urlencoded' && b.urlencoded) {
            const parts = [];
            b.urlencoded.each((p) => {
                if (!p.disabled) {
                    parts.push(encodeURIComponent(p.key) + '=' + encodeURIComponent(asString(p.value)));
                }
            });
            body = Buffer.from(parts.join('&'));
            hasType() || header.push(['Content-Type', 'application/x-www-form-urlencoded']);
        }
        else if (b.mode === 'graphql' && b.graphql) {
            body = Buffer.from(JSON.stringify({ query: b.graphql.query, variables: b.graphql.variables }));
            hasType() || header.push(['Content-Type', 'application/json']);
        }
    }
    const auth = r.auth;
    if (auth && auth.type === 'basic') {
        const p = auth.parameters();
        header.push(['Authorization', 'Basic ' +
            Buffer.from(asString(p.get('username')) + ':' + asString(p.get('password'))).toString('base64')]);
    }
    else if (auth && auth.type === 'bearer') {
        const t = asString(auth.parameters().get('token'));
        t && header.push(['Authorization', 'Bearer ' + t]);
    }
    return { method: r.method || 'GET', url: r.url.toString(), header: header,
        body64: body.toString('base64') };
}

let nextRid = 1;
const pendingRequests = new Map();

function onExec (m) {
    const id = String(m.id);
    const c = m.context || {};
    const info = m.info || {};
    const context = { data: c.data || {} };
    for (const s of SCOPES) { context[s] = scopeIn(s, c[s]); }
    let requestBefore = null;
    if (c.request !== undefined) {
        context.request = c.request;
        requestBefore = JSON.stringify(new sdk.Request(c.request).toJSON());
    }
    c.response && (context.response = responseIn(c.response));
    current = { id: id, asyncError: null, skipped: false };

    ctx.on('execution.request.' + id, (cursor, execId, requestId, request) => {
        let flat;
        try { flat = flatRequest(request); }
        catch (e) {
            ctx.dispatch('execution.response.' + execId, requestId, errorOut(e));
            return;
        }
        const rid = nextRid++;
        pendingRequests.set(rid, { execId: execId, requestId: requestId });
        send(Object.assign({ t: 'request', id: id, rid: rid }, flat));
    });
    ctx.on('execution.skipRequest.' + id, () => { current && (current.skipped = true); });
    ctx.on('execution.assertion.' + id, (cursor, assertions) => {
        for (const a of [].concat(assertions || [])) {
            send({ t: 'assertion', id: id, name: String(a.name), passed: Boolean(a.passed),
                skipped: Boolean(a.skipped), index: a.index, error: errorOut(a.error) });
        }
    });
    ctx.on('execution.error.' + id, (cursor, err) => {
        current && !current.asyncError && (current.asyncError = err);
    });

    const opts = {
        id: id,
        context: context,
        cursor: { iteration: info.iteration || 0, cycles: info.iterations || 1 },
        legacy: { _itemId: info.itemId, _itemName: info.itemName, _itemPath: info.itemPath,
            _eventItemName: info.eventItemName }
    };
    m.timeout > 0 && (opts.timeout = m.timeout);
    whenReady(() => ctx.execute({ listen: m.listen, script: { exec: String(m.script || '') } }, opts, (err, result) => {
        for (const e of ['execution.request.', 'execution.skipRequest.', 'execution.assertion.',
            'execution.error.']) {
            ctx.removeAllListeners(e + id);
        }
        const done = { t: 'done', id: id, error: errorOut(err || current.asyncError),
            skipRequest: current.skipped, vars: {} };
        current = null;
        if (result) {
            for (const s of SCOPES) { done.vars[s] = scopeOut(s, result[s]); }
            const ret = result.return || {};
            Object.prototype.hasOwnProperty.call(ret, 'nextRequest') &&
                (done.nextRequest = ret.nextRequest === null || ret.nextRequest === undefined ?
                    null : asString(ret.nextRequest));
            if (requestBefore !== null && result.request &&
                JSON.stringify(new sdk.Request(result.request).toJSON()) !== requestBefore) {
                done.request = result.request;
            }
        }
        send(done);
    }));
}

/* A script that ran past its timeout made the sandbox drop its worker; the
 * sandbox would boot a new one inside the next script's time budget (and
 * time it out too), so boot it first. */
function whenReady (run) {
    if (ctx.isReady) { return run(); }
    ctx.initialize(ctx.initOptions, ctx.connectOptions, (err) => {
        if (err) { return fatal('postman-sandbox: ' + (err.message || err)); }
        run();
    });
}

function onResponse (m) {
    const p = pendingRequests.get(m.rid);
    if (!p) { return; }
    pendingRequests.delete(m.rid);
    if (m.error) {
        ctx.dispatch('execution.response.' + p.execId, p.requestId,
            { name: 'Error', message: String(m.error) });
        return;
    }
    ctx.dispatch('execution.response.' + p.execId, p.requestId, null, responseIn(m.response),
        { cookies: [] });
}

function onLine (line) {
    if (!line.trim()) { return; }
    let m;
    try { m = JSON.parse(line); }
    catch (e) {
        fatal('host.js: a line from taap is not JSON: ' + e.message);
        return;
    }
    if (m.t === 'exec') { onExec(m); }
    else if (m.t === 'response') { onResponse(m); }
}

try { channel = new net.Socket({ fd: 3, readable: true, writable: true }); }
catch (e) {
    process.stderr.write('host.js: run by taap, with its channel on file descriptor 3 (' + e.message + ')\n');
    process.exit(2);
}

Sandbox.createContext({}, (err, context) => {
    if (err) {
        fatal('postman-sandbox: ' + (err.message || err));
        return;
    }
    ctx = context;
    ctx.on('console', (cursor, level, ...args) => {
        send({ t: 'console', id: cursor && cursor.execution ? String(cursor.execution) : '',
            level: String(level), text: formatArgs(args) });
    });
    let buffered = '';
    channel.setEncoding('utf8');
    channel.on('data', (chunk) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            onLine(line);
        }
    });
    channel.on('end', () => { ctx.dispose(); channel.end(); process.exit(0); });
    send({ t: 'hello', v: VERSION, sandbox: require('postman-sandbox/package.json').version,
        node: process.version });
});
