// Preloaded with `node --import ./loopback.mjs` by bench/load/run.sh: Portkey's start-server.js
// listens on every interface (no host option), and the benchmark must stay on 127.0.0.1. A
// server.listen() that names no host is given 127.0.0.1.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (args[1] === undefined || typeof args[1] === 'function') {
      args.splice(1, args[1] === undefined ? 1 : 0, '127.0.0.1');
    }
  } else if (args[0] && typeof args[0] === 'object' && !('path' in args[0]) && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
