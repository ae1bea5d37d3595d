#!/usr/bin/env node
// A small S3 load generator for scripts/bench (node's http module only).
//
//   node scripts/bench.d/s3load.js PORT BUCKET put|get COUNT CLIENTS SIZE_BYTES [FIRST]
//
// Sends COUNT requests for the objects named like s3backer's blocks (FIRST, FIRST+1, ... as
// 8 lowercase hex digits; FIRST defaults to 1) to the S3 server on 127.0.0.1:PORT, path
// style, with CLIENTS requests in flight at a time over keep-alive connections. put uploads
// SIZE_BYTES of random bytes per object (what an incompressible block costs the server);
// get downloads them. Requests carry what the daemons' requests carry: an AWS signature V4
// and, on a PUT, Content-MD5. The keys are $S3_ACCESS_ID and $S3_SECRET (default s3rver's,
// S3RVER and S3RVER; Ceph RGW checks the signature). s3rver parses the Authorization header
// (it does not check V4 signatures); an unsigned request skips its authentication step, and
// unsigned loads overstated the ceiling (PUT 107-131 MiB/s unsigned, 93 signed, on one
// machine). Prints one line:
//   "put 8192 x 131072 B, 20 clients: 11.52 s, 88.9 MiB/s, 711 req/s"
// and exits non-zero if any request fails.
'use strict';

const http = require('http');
const crypto = require('crypto');

const [portArg, bucket, op, countArg, clientsArg, sizeArg, firstArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const clients = Number(clientsArg);
const size = Number(sizeArg);
const first = Number(firstArg || 1);
if (!(port > 0) || !bucket || !['put', 'get'].includes(op) || !(count > 0) ||
    !(clients > 0) || !(size > 0) || !(first >= 0)) {
  process.stderr.write(
      'usage: s3load.js PORT BUCKET put|get COUNT CLIENTS SIZE_BYTES [FIRST]\n');
  process.exit(2);
}

const agent = new http.Agent({keepAlive: true, maxSockets: clients});
const ACCESS_ID = process.env.S3_ACCESS_ID || 'S3RVER';
const SECRET = process.env.S3_SECRET || 'S3RVER';
const REGION = 'us-east-1';
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (k, data) => crypto.createHmac('sha256', k).update(data).digest();

// headers gets x-amz-date, x-amz-content-sha256 and Authorization for METHOD PATH.
function sign(method, path, headers) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const day = amzDate.slice(0, 8);
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonical = [method, path, '', ...names.map((h) => `${h}:${String(lower[h]).trim()}`),
                     '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${REGION}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let k = hmac('AWS4' + SECRET, day);
  k = hmac(hmac(hmac(k, REGION), 's3'), 'aws4_request');
  const signature = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  headers['Authorization'] = `AWS4-HMAC-SHA256 Credential=${ACCESS_ID}/${scope}, ` +
                             `SignedHeaders=${names.join(';')}, Signature=${signature}`;
}
const body = crypto.randomBytes(size);
const key = (n) => n.toString(16).padStart(8, '0');
let next = 0;
let bytes = 0;
let failed = 0;

function request(n) {
  return new Promise((resolve) => {
    const path = `/${bucket}/${key(first + n)}`;
    const host = `127.0.0.1:${port}`;
    let b = null;
    const headers = {host};
    if (op === 'put') {
      // A different first 8 bytes per object, so no two objects are identical.
      b = Buffer.from(body);
      b.writeUInt32BE(first + n, 0);
      headers['Content-Length'] = size;
      headers['Content-Type'] = 'application/x-s3backer-block';
      headers['Content-MD5'] = crypto.createHash('md5').update(b).digest('base64');
    }
    sign(op === 'put' ? 'PUT' : 'GET', path, headers);
    const req = http.request(
        {
          host: '127.0.0.1',
          port,
          agent,
          method: op === 'put' ? 'PUT' : 'GET',
          path,
          headers,
        },
        (res) => {
          res.on('data', (chunk) => {
            if (op === 'get') bytes += chunk.length;
          });
          res.on('end', () => {
            if (res.statusCode !== 200) {
              failed += 1;
              if (failed <= 3) {
                process.stderr.write(`s3load: ${op} ${key(first + n)}: HTTP ${res.statusCode}\n`);
              }
            } else if (op === 'put') {
              bytes += size;
            }
            resolve();
          });
        });
    req.on('error', (err) => {
      failed += 1;
      if (failed <= 3) process.stderr.write(`s3load: ${op} ${key(first + n)}: ${err.message}\n`);
      resolve();
    });
    req.end(b === null ? undefined : b);
  });
}

async function client() {
  while (next < count) {
    const n = next++;
    await request(n);
  }
}

(async () => {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({length: Math.min(clients, count)}, client));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  const mib = bytes / 1048576;
  process.stdout.write(`${op} ${count} x ${size} B, ${clients} clients: ${s.toFixed(2)} s, ` +
                       `${(mib / s).toFixed(1)} MiB/s, ${Math.round(count / s)} req/s\n`);
  if (failed > 0) {
    process.stderr.write(`s3load: ${failed} of ${count} requests failed\n`);
    process.exit(1);
  }
})();
