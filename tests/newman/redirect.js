// redirect.js — preloaded into Newman (node -r) by test_run_vs_newman.sh:
// every TCP connection goes to the recorder at 127.0.0.1:$TAAP_RECORDER_PORT,
// whatever host and port the collection names — what `taap run
// --connect-to ::127.0.0.1:PORT` does — so neither client touches the
// network and both send the collection's own Host header.
'use strict';
const net = require('net');
const port = Number(process.env.TAAP_RECORDER_PORT);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const a0 = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (a0 && typeof a0 === 'object' && !a0.path) {
    const o = Object.assign({}, a0, { host: '127.0.0.1', port });
    delete o.lookup;
    if (Array.isArray(args[0]))
      args[0][0] = o; /* node's normalised arguments: keep the array itself */
    else
      args[0] = o;
  } else if (typeof a0 === 'number' || typeof a0 === 'string') {
    args[0] = port;
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
  }
  return connect.apply(this, args);
};
