// app.js — the taap console. It only calls the management API that
// `taap admin` uses (/devedge/v1) plus /console/session; the session
// cookie is HttpOnly (this script never sees it), and every change carries
// the session's CSRF token in X-CSRF-Token.
'use strict';

const state = { csrf: null, lastLogId: 0, pollTimer: null, apps: [] };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function say(msg) { $('error').textContent = ''; $('flash').textContent = msg; }
function complain(msg) { $('flash').textContent = ''; $('error').textContent = msg; }

// One call to the API; throws Error(systemMessage) on a refusal.
async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 401 && path.startsWith('/devedge/')) showSignIn();
  if (!r.ok) throw new Error((j && (j.systemMessage || j.error_description)) || ('HTTP ' + r.status));
  return j;
}

// ---- session ---------------------------------------------------------------

function showSignIn() {
  state.csrf = null;
  if (state.pollTimer) clearInterval(state.pollTimer);
  state.pollTimer = null;
  $('app').hidden = true;
  $('signout').hidden = true;
  $('signin-section').hidden = false;
  $('admin-token').focus();
}

async function showApp() {
  $('signin-section').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  await refreshAll();
  state.lastLogId = 0;
  $('log-table').tBodies[0].replaceChildren();
  await pollLog();
  state.pollTimer = setInterval(pollLog, 1000);
}

async function signIn(ev) {
  ev.preventDefault();
  const input = $('admin-token');
  try {
    const j = await api('POST', '/console/session', { token: input.value.trim() });
    input.value = '';
    state.csrf = j.csrf;
    say('Signed in.');
    await showApp();
  } catch (e) {
    complain(e.message);
    input.setAttribute('aria-invalid', 'true');
  }
}

async function signOut() {
  try { await api('DELETE', '/console/session'); } catch (e) { /* the session may be gone */ }
  say('Signed out.');
  showSignIn();
}

// ---- applications ---------------------------------------------------------

async function refreshAll() {
  await refreshApps();
  await Promise.all([refreshKeys(), refreshDevices()]);
}

function fillAppSelect(sel) {
  const keep = sel.value;
  sel.replaceChildren(...state.apps.map((a) => el('option', { value: a.name }, a.name)));
  if (state.apps.some((a) => a.name === keep)) sel.value = keep;
}

async function refreshApps() {
  const j = await api('GET', '/devedge/v1/apps');
  state.apps = j.apps || [];
  const body = $('apps-table').tBodies[0];
  body.replaceChildren(...state.apps.map((a) => {
    const subscribed = (a.subscriptions || []).includes('iot-connectivity');
    return el('tr', {},
      el('th', { scope: 'row' }, a.name), el('td', {}, a.account), el('td', {}, el('code', {}, a.clientId)),
      el('td', {}, a.keys), el('td', {}, (a.subscriptions || []).join(', ') || '—'),
      el('td', {},
        el('button', { type: 'button', onclick: () => toggleSub(a.name, subscribed) },
          subscribed ? 'Unsubscribe' : 'Subscribe', el('span', { class: 'sr' }, ' ' + a.name)),
        el('button', { type: 'button', class: 'danger', onclick: () => deleteApp(a.name) },
          'Delete', el('span', { class: 'sr' }, ' ' + a.name))));
  }));
  fillAppSelect($('key-app'));
  fillAppSelect($('kit-app'));
}

async function createApp(ev) {
  ev.preventDefault();
  const name = $('app-name').value.trim(), account = $('app-account').value.trim();
  try {
    const j = await api('POST', '/devedge/v1/apps', account ? { name, account } : { name });
    $('new-client-id').textContent = j.clientId;
    $('new-client-secret').textContent = j.clientSecret;
    $('secret-box').hidden = false;
    $('app-create').reset();
    say('Application ' + j.name + ' created. Save its client secret now: it is shown only once.');
    await refreshApps();
    $('key-app').value = j.name;
    $('kit-app').value = j.name;
    await refreshKeys();
    $('secret-done').focus();
  } catch (e) { complain(e.message); }
}

function forgetSecret() {
  $('new-client-secret').textContent = '';
  $('new-client-id').textContent = '';
  $('secret-box').hidden = true;
  $('app-name').focus();
}

async function toggleSub(name, subscribed) {
  try {
    if (subscribed) await api('DELETE', '/devedge/v1/apps/' + encodeURIComponent(name) + '/subscriptions/iot-connectivity');
    else await api('POST', '/devedge/v1/apps/' + encodeURIComponent(name) + '/subscriptions', { api: 'iot-connectivity' });
    say(name + (subscribed ? ' unsubscribed from' : ' subscribed to') + ' iot-connectivity.');
    await refreshApps();
  } catch (e) { complain(e.message); }
}

async function deleteApp(name) {
  if (!window.confirm('Delete application ' + name + ' with its keys and subscriptions?')) return;
  try {
    await api('DELETE', '/devedge/v1/apps/' + encodeURIComponent(name));
    say('Application ' + name + ' deleted.');
    await refreshAll();
  } catch (e) { complain(e.message); }
}

// ---- keys -------------------------------------------------------------------

async function refreshKeys() {
  const app = $('key-app').value;
  const body = $('keys-table').tBodies[0];
  if (!app) { body.replaceChildren(); return; }
  const j = await api('GET', '/devedge/v1/apps/' + encodeURIComponent(app) + '/keys');
  body.replaceChildren(...(j.keys || []).map((k) => el('tr', {},
    el('th', { scope: 'row' }, el('code', {}, k.keyId)), el('td', {}, k.bits), el('td', {}, k.createdAt),
    el('td', {}, el('button', { type: 'button', class: 'danger', onclick: () => deleteKey(app, k.keyId) },
      'Delete', el('span', { class: 'sr' }, ' key ' + k.keyId))))));
}

async function addKey(ev) {
  ev.preventDefault();
  const app = $('key-app').value, pem = $('key-pem').value;
  const advice = $('key-advice');
  advice.textContent = '';
  $('key-pem').removeAttribute('aria-invalid');
  try {
    const j = await api('POST', '/devedge/v1/apps/' + encodeURIComponent(app) + '/keys', { publicKey: pem });
    $('key-pem').value = '';
    say('Key ' + j.keyId + ' (' + j.bits + ' bits) added to ' + app + '.');
    await Promise.all([refreshKeys(), refreshApps()]);
  } catch (e) {
    // The server's refusal carries the Quick Start's advice. A private key
    // does not stay on the screen.
    advice.textContent = e.message;
    if (/PRIVATE key/.test(e.message)) $('key-pem').value = '';
    $('key-pem').setAttribute('aria-invalid', 'true');
    $('key-pem').focus();
  }
}

async function deleteKey(app, keyId) {
  try {
    await api('DELETE', '/devedge/v1/apps/' + encodeURIComponent(app) + '/keys/' + encodeURIComponent(keyId));
    say('Key ' + keyId + ' deleted.');
    await Promise.all([refreshKeys(), refreshApps()]);
  } catch (e) { complain(e.message); }
}

// ---- kits and devices --------------------------------------------------------

function luhnOk(d) {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) { x *= 2; if (x > 9) x -= 9; }
    sum += x;
  }
  return sum % 10 === 0;
}

function imeiProblem(v) {
  if (!/^[0-9]{15}$/.test(v)) return 'An IMEI is 15 digits.';
  return luhnOk(v) ? '' : 'The last digit is not the Luhn check digit: check the IMEI printed on the kit.';
}

function iccidProblem(v) {
  if (!/^[0-9]{19,20}$/.test(v)) return 'An ICCID is 19 or 20 digits.';
  if (!v.startsWith('89')) return 'An ICCID starts with 89.';
  return luhnOk(v) ? '' : 'The last digit is not the Luhn check digit: check the ICCID printed on the kit.';
}

function checkField(input, msgEl, problem) {
  const p = problem(input.value.replace(/\s+/g, ''));
  msgEl.textContent = p;
  if (p) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  return !p;
}

async function activateKit(ev) {
  ev.preventDefault();
  const imei = $('kit-imei'), iccid = $('kit-iccid');
  const ok1 = checkField(imei, $('kit-imei-msg'), imeiProblem);
  const ok2 = checkField(iccid, $('kit-iccid-msg'), iccidProblem);
  if (!ok1) { imei.focus(); return; }
  if (!ok2) { iccid.focus(); return; }
  try {
    const j = await api('POST', '/devedge/v1/kits', {
      app: $('kit-app').value, imei: imei.value.replace(/\s+/g, ''), iccid: iccid.value.replace(/\s+/g, ''),
    });
    $('kit-activate').reset();
    say('Kit activated: ICCID ' + j.iccid + ', MSISDN ' + j.msisdn + ', status ' + j.status + '.');
    await refreshDevices();
  } catch (e) { complain(e.message); }
}

async function refreshDevices() {
  const j = await api('GET', '/devedge/v1/devices');
  $('devices-table').tBodies[0].replaceChildren(...(j.devices || []).map((d) => {
    const active = d.status === 'ACTIVE';
    return el('tr', {},
      el('th', { scope: 'row' }, el('code', {}, d.iccid)), el('td', {}, d.imei), el('td', {}, d.account),
      el('td', {}, d.status),
      el('td', {}, el('button', { type: 'button', onclick: () => setStatus(d.iccid, active ? 'SUSPENDED' : 'ACTIVE') },
        active ? 'Suspend' : 'Activate', el('span', { class: 'sr' }, ' ' + d.iccid))));
  }));
}

async function setStatus(iccid, status) {
  try {
    const j = await api('PATCH', '/devedge/v1/devices/' + encodeURIComponent(iccid), { status });
    say('Device ' + j.iccid + ' is ' + j.status + '.');
    await refreshDevices();
  } catch (e) { complain(e.message); }
}

// ---- request log ----------------------------------------------------------------

function explanationView(x, causeText) {
  const box = el('div', { class: 'explain' });
  if (causeText) box.append(el('p', { class: 'cause' }, el('strong', {}, 'Likely cause: '), causeText));
  if (x.cause && x.cause.detail) box.append(el('p', {}, x.cause.detail));
  box.append(el('p', {}, x.code + ': ' + x.message));
  if (x.time && x.time.iat !== undefined)
    box.append(el('p', {}, 'iat ' + x.time.iat + ' (' + x.time.issued_ago + ' s ago), exp ' + x.time.exp +
      ' (' + (x.time.expires_in > 0 ? 'expires in ' + x.time.expires_in + ' s' : 'expired ' + -x.time.expires_in + ' s ago') +
      '), leeway ' + x.time.leeway + ' s'));
  const parts = el('ol', { class: 'parts' });
  for (const p of x.parts || []) {
    let v;
    if (!p.present) v = '(not in the request)';
    else if (p.body) v = p.body.length + ' bytes, sha256 ' + p.body.sha256;
    else v = p.value;
    parts.append(el('li', {}, el('span', { class: 'pname' }, p.name), ' ', el('code', {}, v)));
  }
  if (x.parts && x.parts.length) box.append(el('p', {}, 'Hashed, in ehts order:'), parts);
  if (x.edts) box.append(el('p', {}, 'edts: token ', el('code', {}, x.edts.token || '—'),
    ', computed ', el('code', {}, x.edts.computed || '—'), x.edts.match ? ' (match)' : ' (differ)'));
  return box;
}

function logRow(r) {
  const req = el('td', {}, r.method + ' ' + r.path);
  if (r.explanation) {
    const d = el('details', { class: 'why' }, el('summary', {}, 'Why was it ' + (r.status === 200 ? 'accepted' : 'rejected') + '?'),
      explanationView(r.explanation, r.causeText));
    if (r.status >= 400) d.open = true;
    req.append(d);
  }
  return el('tr', { 'data-id': r.id, class: r.status >= 400 ? 'bad' : '' },
    el('th', { scope: 'row' }, r.id), el('td', {}, r.time), req, el('td', {}, r.status),
    el('td', {}, r.verdict || '—'));
}

async function pollLog() {
  if (!state.csrf) return;
  try {
    const j = await api('GET', '/devedge/v1/requests?since=' + state.lastLogId + '&limit=200');
    const body = $('log-table').tBodies[0];
    for (const r of j.requests || []) {
      body.prepend(logRow(r));
      state.lastLogId = Math.max(state.lastLogId, r.id);
    }
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
    if ((j.requests || []).some((r) => !r.path.startsWith('/devedge/'))) await refreshDevices();
  } catch (e) { /* the next poll tries again */ }
}

// ---- start -------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', async () => {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('app-create').addEventListener('submit', createApp);
  $('secret-done').addEventListener('click', forgetSecret);
  $('key-add').addEventListener('submit', addKey);
  $('key-app').addEventListener('change', () => refreshKeys().catch((e) => complain(e.message)));
  $('kit-activate').addEventListener('submit', activateKit);
  $('kit-imei').addEventListener('blur', () => checkField($('kit-imei'), $('kit-imei-msg'), imeiProblem));
  $('kit-iccid').addEventListener('blur', () => checkField($('kit-iccid'), $('kit-iccid-msg'), iccidProblem));
  try {
    const j = await api('GET', '/console/session');
    if (j.signedIn) { state.csrf = j.csrf; await showApp(); } else showSignIn();
  } catch (e) { complain(e.message); showSignIn(); }
});
