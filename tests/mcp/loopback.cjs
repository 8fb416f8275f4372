// tests/mcp/loopback.cjs — preload (node --require) that keeps a test peer on loopback:
// a server that listens on a port without naming a host (express's app.listen(PORT), as
// server-everything does) binds 127.0.0.1 instead of every interface.
'use strict';
const net = require('node:net');

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const port = args[0];
  const portOnly = (typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) &&
                   (args.length === 1 || typeof args[1] === 'function');
  if (portOnly) args.splice(1, 0, '127.0.0.1');
  else if (port && typeof port === 'object' && port.path === undefined && port.host === undefined)
    args[0] = { ...port, host: '127.0.0.1' };
  return listen.apply(this, args);
};
