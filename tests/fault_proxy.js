#!/usr/bin/env node
// A fault-injecting HTTP proxy for s3disk's S3 tests (no dependencies).
//
//   node tests/fault_proxy.js LISTEN_PORT TARGET_PORT RATE SEED [MODE]
//
// Forwards every request to 127.0.0.1:TARGET_PORT. With probability RATE (0..1) a request
// instead meets one fault, chosen at random:
//   500       answers 500 InternalError (the request never reaches the server)
//   503       answers 503 SlowDown
//   delay     waits 50..300 ms, then forwards normally
//   reset     closes the connection: before forwarding, or after the server has acted on
//             the request (so the client must retry an operation that already happened)
//   truncate  forwards, then sends the response headers (Content-Length intact) and only
//             half of the body before closing the connection
//   corrupt   forwards, then flips one byte of an object GET's body (other requests pass):
//             the client must notice that the body does not match the ETag
// The random choices come from SEED, so a run can be replayed (timing aside).
// MODE "403" answers every request with 403 AccessDenied instead (RATE is ignored).
// MODE "control=FILE" adds a state the test changes while the proxy runs, by writing one line
// to FILE (read every 50 ms; a missing or empty file is "pass"):
//   pass      requests go on as above
//   delay MS  every request that arrives is held MS ms first (an S3 server far away)
//   down      the proxy stops listening and drops its open connections, as a stopped server
//             would (connections are refused); another state listens again on the same port
// Each change is printed on stdout once it is in force ("state down").
// LISTEN_PORT 0 picks a free port. Prints "listening PORT" on stdout once ready. On SIGTERM
// or SIGINT prints the counts of what it did on stderr ("fault_proxy: pass=N 500=N ...") and
// exits 0.
'use strict';

const http = require('http');

const args = process.argv.slice(2);
if (args.length < 4) {
  process.stderr.write('usage: fault_proxy.js LISTEN_PORT TARGET_PORT RATE SEED [403|control=FILE]\n');
  process.exit(2);
}
const listenPort = Number(args[0]);
const targetPort = Number(args[1]);
const rate = Number(args[2]);
const seed = Number(args[3]) >>> 0;
let mode = args[4] || 'faults';
let controlFile = null;
if (mode.startsWith('control=')) {
  controlFile = mode.slice('control='.length);
  mode = 'faults';
}
if (!(rate >= 0 && rate <= 1) || !(targetPort > 0) || !(listenPort >= 0)) {
  process.stderr.write('fault_proxy: bad arguments\n');
  process.exit(2);
}

// mulberry32: a small seeded generator, uniform in [0, 1).
let rngState = seed;
function random() {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = Math.imul(rngState ^ (rngState >>> 15), 1 | rngState);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const counts = {
  pass: 0, 500: 0, 503: 0, delay: 0, reset: 0, truncate: 0, corrupt: 0, 403: 0, held: 0, dropped: 0,
};
// The control state (MODE control=FILE): 'pass', 'delay' (holdMs) or 'down'.
let state = 'pass';
let holdMs = 0;
const upstream = new http.Agent({ keepAlive: true, maxSockets: 64 });

function errorXml(code, message) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
}

function sendError(res, status, code, message) {
  const body = Buffer.from(errorXml(code, message));
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length });
  res.end(body);
}

// Sends the request upstream; done(err, upstreamResponse, bodyBuffer).
function forward(req, body, done) {
  const up = http.request(
    {
      host: '127.0.0.1',
      port: targetPort,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: upstream,
    },
    (upRes) => {
      const chunks = [];
      upRes.on('data', (c) => chunks.push(c));
      upRes.on('end', () => done(null, upRes, Buffer.concat(chunks)));
      upRes.on('error', (e) => done(e));
    },
  );
  up.on('error', (e) => done(e));
  up.end(body);
}

function relay(res, upRes, upBody) {
  res.writeHead(upRes.statusCode, upRes.headers);
  res.end(upBody);
}

function handle(req, res, body) {
  if (state === 'delay') {
    counts.held++;
    const ms = holdMs;
    setTimeout(() => handleNow(req, res, body), ms);
    return;
  }
  handleNow(req, res, body);
}

function handleNow(req, res, body) {
  if (mode === '403') {
    counts[403]++;
    sendError(res, 403, 'AccessDenied', 'Access Denied (fault_proxy 403 mode)');
    return;
  }
  let fault = 'pass';
  if (random() < rate) {
    fault = ['500', '503', 'delay', 'reset', 'truncate', 'corrupt'][Math.floor(random() * 6)];
  }
  // Only object bodies carry an integrity check (the ETag); a listing has none.
  if (fault === 'corrupt' && (req.method !== 'GET' || req.url.includes('list-type='))) {
    fault = 'pass';
  }
  const flipAt = random();
  const resetEarly = random() < 0.5;
  const delayMs = 50 + Math.floor(random() * 250);
  counts[fault]++;
  switch (fault) {
    case '500':
      return sendError(res, 500, 'InternalError', 'injected by fault_proxy');
    case '503':
      return sendError(res, 503, 'SlowDown', 'injected by fault_proxy');
    case 'reset':
      if (resetEarly) return req.socket.destroy();
      return forward(req, body, () => req.socket.destroy());
    case 'delay':
      return setTimeout(() => forward(req, body, (err, upRes, upBody) => {
        if (err) return req.socket.destroy();
        relay(res, upRes, upBody);
      }), delayMs);
    case 'truncate':
      return forward(req, body, (err, upRes, upBody) => {
        if (err || upBody.length < 2) return req.socket.destroy();
        res.writeHead(upRes.statusCode, upRes.headers);  // Content-Length of the whole body
        res.write(upBody.subarray(0, Math.floor(upBody.length / 2)), () => req.socket.destroy());
      });
    case 'corrupt':
      return forward(req, body, (err, upRes, upBody) => {
        if (err) return req.socket.destroy();
        if (upRes.statusCode === 200 && upBody.length > 0) {
          upBody[Math.floor(flipAt * upBody.length)] ^= 0x20;
        }
        relay(res, upRes, upBody);
      });
    default:
      return forward(req, body, (err, upRes, upBody) => {
        if (err) return sendError(res, 502, 'BadGateway', `fault_proxy: upstream: ${err.message}`);
        relay(res, upRes, upBody);
      });
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  req.on('error', () => req.socket.destroy());
});
server.keepAliveTimeout = 30000;
const sockets = new Set();
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
let port = listenPort;

// Applies the control file's line, if it changed.
function pollControl() {
  let line = '';
  try {
    line = require('fs').readFileSync(controlFile, 'utf8').trim();
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  if (line === '') line = 'pass';
  const [want, arg] = line.split(/\s+/);
  const wantMs = want === 'delay' ? Number(arg) : 0;
  if (!['pass', 'delay', 'down'].includes(want) || !(wantMs >= 0)) {
    process.stderr.write(`fault_proxy: bad control line '${line}'\n`);
    process.exit(2);
  }
  if (want === state && wantMs === holdMs) return setTimeout(pollControl, 50);
  const announce = () => {
    state = want;
    holdMs = wantMs;
    process.stdout.write(`state ${line}\n`);
    setTimeout(pollControl, 50);
  };
  if (want === 'down') {
    server.close();
    counts.dropped += sockets.size;
    for (const s of sockets) s.destroy();
    sockets.clear();
    announce();
  } else if (state === 'down') {
    server.listen(port, '127.0.0.1', announce);
  } else {
    announce();
  }
}

function stop() {
  const line = Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stderr.write(`fault_proxy: ${line}\n`);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(listenPort, '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(`listening ${port}\n`);
  if (controlFile !== null) pollControl();
});
