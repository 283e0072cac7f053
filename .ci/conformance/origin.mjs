// Starts the http-cache-tests origin server (server/server.mjs of the npm
// package) on a loopback address.
//
// Usage: node origin.mjs <port> [host]
//
// The package's server only takes its port from the npm_config_port
// environment variable and listens on every interface; this wrapper sets that
// variable and pins the listener to loopback (127.0.0.1 unless host is given)
// so a conformance run never exposes the origin beyond this machine. The pid
// file the server insists on writing goes to the system temp directory and is
// removed on SIGTERM or SIGINT.
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

const [port, host = '127.0.0.1'] = process.argv.slice(2)
if (!/^\d+$/.test(port || '')) {
  console.error('usage: node origin.mjs <port> [host]')
  process.exit(2)
}

process.env.npm_config_protocol = 'http'
process.env.npm_config_port = port
const pidfile = path.join(os.tmpdir(), `http-cache-tests-origin-${port}.pid`)
process.env.npm_config_pidfile = pidfile

// The runner stops the origin with SIGTERM; leave no pid file behind.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    fs.rmSync(pidfile, { force: true })
    process.exit(0)
  })
}

// server.mjs calls server.listen(port) without a host; add ours.
const listen = http.Server.prototype.listen
http.Server.prototype.listen = function (p, ...rest) {
  if (typeof p === 'number' || typeof p === 'string') {
    return listen.call(this, Number(p), host, ...rest)
  }
  return listen.call(this, p, ...rest)
}

await import('http-cache-tests/server/server.mjs')
