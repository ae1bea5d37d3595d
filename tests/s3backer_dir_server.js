#!/usr/bin/env node
// A minimal S3 endpoint over a local directory in DirStore's file format, so the real s3backer
// and s3disk (file:///ROOT/BUCKET) can share one bucket in the codec tests (no dependencies).
//
//   node tests/s3backer_dir_server.js ROOT
//
// Path-style requests /BUCKET/KEY map to the file ROOT/BUCKET/KEY. Object GET, HEAD, PUT and
// DELETE only (no listing, no authentication: s3backer signs, nobody checks). A PUT keeps the
// body and the headers s3backer's format uses (content-type, content-encoding, x-amz-meta-*)
// in DirStore's format: "s3disk-object 1\n", "name: value\n" lines, "\n", then the body; a
// PUT without such headers stores the raw body. GET and HEAD return them with the ETag (the
// body's MD5, quoted). Listens on a free 127.0.0.1 port and prints "listening PORT" once ready.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: s3backer_dir_server.js ROOT\n');
  process.exit(2);
}
const kMagic = 's3disk-object 1\n';
let tmpCounter = 0;

function keep(name) {
  return name === 'content-type' || name === 'content-encoding' || name.startsWith('x-amz-meta-');
}

function fileOf(url) {
  const p = decodeURIComponent(new URL(url, 'http://x').pathname).replace(/^\/+/, '');
  if (p === '' || p.split('/').some((c) => c === '' || c === '.' || c === '..')) return null;
  return path.join(root, p);
}

function readObject(file) {
  const data = fs.readFileSync(file);
  const meta = {};
  if (!data.subarray(0, kMagic.length).equals(Buffer.from(kMagic))) return { meta, body: data };
  let pos = kMagic.length;
  for (;;) {
    const nl = data.indexOf(10, pos);
    if (nl < 0) throw new Error(`${file}: header has no end`);
    const line = data.subarray(pos, nl).toString();
    pos = nl + 1;
    if (line === '') break;
    const colon = line.indexOf(': ');
    meta[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return { meta, body: data.subarray(pos) };
}

function reply(res, code, headers, body) {
  res.writeHead(code, { ...headers, 'Content-Length': body ? body.length : 0 });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const file = fileOf(req.url);
    if (!file) return reply(res, 400, {}, Buffer.from('<Error><Code>InvalidURI</Code></Error>'));
    try {
      if (req.method === 'PUT') {
        const body = Buffer.concat(chunks);
        const names = Object.keys(req.headers).filter(keep).sort();
        let out = body;
        if (names.length > 0) {
          const head = names.map((n) => `${n}: ${req.headers[n]}\n`).join('');
          out = Buffer.concat([Buffer.from(kMagic + head + '\n'), body]);
        }
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = path.join(path.dirname(file), `.s3disk-tmp-js-${process.pid}-${tmpCounter++}`);
        fs.writeFileSync(tmp, out);
        fs.renameSync(tmp, file);
        const etag = crypto.createHash('md5').update(body).digest('hex');
        return reply(res, 200, { ETag: `"${etag}"` }, null);
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
          return reply(res, 404, {}, Buffer.from('<Error><Code>NoSuchKey</Code></Error>'));
        }
        const { meta, body } = readObject(file);
        const etag = crypto.createHash('md5').update(body).digest('hex');
        const headers = { ...meta, ETag: `"${etag}"` };
        if (req.method === 'HEAD') {
          res.writeHead(200, { ...headers, 'Content-Length': body.length });
          return res.end();
        }
        return reply(res, 200, headers, body);
      }
      if (req.method === 'DELETE') {
        fs.rmSync(file, { force: true });
        return reply(res, 204, {}, null);
      }
      return reply(res, 405, {}, null);
    } catch (e) {
      process.stderr.write(`s3backer_dir_server: ${req.method} ${req.url}: ${e.message}\n`);
      return reply(res, 500, {}, Buffer.from('<Error><Code>InternalError</Code></Error>'));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
