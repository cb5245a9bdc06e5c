// Collection-level pre-request script of the Newman benchmark copy of
// examples/quickstart.postman_collection.json (prepare.js splices it in).
//
// It signs the TAAP PoP token the way T-Mobile's JavaScript PoP builder does
// (tmobile-api-security-lib, poptoken-builder.js) inside the Postman sandbox,
// as T-Mobile-style collections do (reference/postman-newman.md section 5.2):
//   - jsrsasign is eval'd from a global variable on every request (the library
//     pasted into a variable, so no download happens during the benchmark);
//   - an ordered map of signed names and values (the headers the request
//     carries, then uri, http-method, body); ehts = the names joined with ';',
//     edts = base64url(SHA-256(the values concatenated)) with
//     KJUR.crypto.Util.sha256 + hextob64u;
//   - claims {v: 1, edts, exp: iat + 120, ehts, iat, jti: a Math.random GUID};
//   - KJUR.jws.JWS.sign(null, header, claims, PEM string): the PEM is parsed on
//     every call, as in the builder's API.
// The token goes to {{popToken}}, which the X-Authorization header references.

var navigator = {};
var window = {};
eval(pm.globals.get('jsrsasign-js'));

function popGuid() {
    function four() {
        return Math.floor((1 + Math.random()) * 0x10000).toString(16).substring(1);
    }
    return four() + four() + '-' + four() + '-' + four() + '-' + four() + '-' + four() + four() + four();
}

function popToken(signed, pem) {
    var names = '';
    var values = '';
    signed.forEach(function (value, name) {
        names += (names.length ? ';' : '') + name;
        values += value;
    });
    var iat = KJUR.jws.IntDate.get('now');
    var claims = {
        v: 1,
        edts: hextob64u(KJUR.crypto.Util.sha256(values)),
        exp: iat + 2 * 60,
        ehts: names,
        iat: iat,
        jti: popGuid()
    };
    return KJUR.jws.JWS.sign(null, {alg: 'RS256', typ: 'JWT'}, claims, pem);
}

if (pm.request.url.getPath().endsWith('/tokens')) {
    pm.environment.set('base64Credentials',
        btoa(pm.environment.get('client_id') + ':' + pm.environment.get('client_secret')));
}

// Authorization must be read from the request's own header with its
// variables resolved: Postman applies auth after this script runs.
var signed = new Map();
var contentType = pm.request.headers.get('Content-Type');
if (contentType) signed.set('Content-Type', pm.variables.replaceIn(contentType));
var authorization = pm.request.headers.get('Authorization');
if (authorization) signed.set('Authorization', pm.variables.replaceIn(authorization));
signed.set('uri', decodeURIComponent(pm.variables.replaceIn(pm.request.url.getPathWithQuery())));
signed.set('http-method', pm.request.method);
var body = pm.request.body && pm.request.body.raw ? pm.variables.replaceIn(pm.request.body.raw) : '';
if (body) signed.set('body', body);

pm.environment.set('popToken', popToken(signed, pm.environment.get('privateKey')));
