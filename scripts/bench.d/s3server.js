#!/usr/bin/env node
// s3rver for scripts/bench, with request counting (no other dependencies).
//
//   node scripts/bench.d/s3server.js S3RVER_MODULE_DIR DATA_DIR BUCKET COUNTS_FILE
//
// Runs s3rver (the copy pinned in tests/s3rver) silently on 127.0.0.1 on a free port, with
// BUCKET created in DATA_DIR, and prints "listening PORT" on stdout once it serves.
// Every request is counted by kind, as it arrives:
//   GET (an object), LIST (a GET of the bucket itself), PUT, DELETE, DELETEMANY (POST ?delete,
//   one bulk delete request), HEAD, OTHER.
// On SIGUSR2 it writes the counts to COUNTS_FILE as one line, "seq=N GET=N LIST=N ...", where
// seq increases with each dump (the caller waits for a new seq); on SIGTERM/SIGINT it writes
// them once more and exits 0. (s3rver's own request log cannot be used for this: s3rver
// 3.7.1 cuts the HTTP method off its log lines.)
'use strict';

const fs = require('fs');
const path = require('path');

const [moduleDir, dataDir, bucket, countsFile] = process.argv.slice(2);
if (!countsFile) {
  process.stderr.write('usage: s3server.js S3RVER_MODULE_DIR DATA_DIR BUCKET COUNTS_FILE\n');
  process.exit(2);
}
const S3rver = require(path.join(moduleDir, 'node_modules', 's3rver'));

const kinds = ['GET', 'LIST', 'PUT', 'DELETE', 'DELETEMANY', 'HEAD', 'OTHER'];
const counts = Object.fromEntries(kinds.map((k) => [k, 0]));
let seq = 0;

function classify(req) {
  const url = new URL(req.url, 'http://x');
  // Path-style requests: /BUCKET or /BUCKET/ is the bucket, /BUCKET/KEY an object.
  const isBucket = url.pathname.replace(/\/+$/, '') === '/' + bucket;
  switch (req.method) {
    case 'GET':
      return isBucket ? 'LIST' : 'GET';
    case 'PUT':
      return 'PUT';
    case 'DELETE':
      return 'DELETE';
    case 'HEAD':
      return 'HEAD';
    case 'POST':
      return url.searchParams.has('delete') ? 'DELETEMANY' : 'OTHER';
    default:
      return 'OTHER';
  }
}

function dump() {
  seq += 1;
  const line = `seq=${seq} ` + kinds.map((k) => `${k}=${counts[k]}`).join(' ') + '\n';
  fs.writeFileSync(countsFile + '.tmp', line);
  fs.renameSync(countsFile + '.tmp', countsFile);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dataDir,
  configureBuckets: [{ name: bucket }],
});

server.run().then(
  (addr) => {
    server.httpServer.on('request', (req) => {
      counts[classify(req)] += 1;
    });
    dump();
    process.stdout.write(`listening ${addr.port}\n`);
  },
  (err) => {
    process.stderr.write(`s3server: ${err.stack || err}\n`);
    process.exit(1);
  },
);

process.on('SIGUSR2', dump);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    dump();
    process.exit(0);
  });
}
