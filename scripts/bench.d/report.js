#!/usr/bin/env node
// Turns scripts/bench's raw figures into Markdown (no dependencies).
//
//   node scripts/bench.d/report.js RAW_TSV META_FILE
//
// RAW_TSV: one figure a line, "TARGET<TAB>RUN<TAB>METRIC<TAB>VALUE"; TARGET is s3disk,
// journal, reference, mem, file, local or ceiling. META_FILE: "key=value" lines describing the
// run (sizes, counts), used in the row labels. Prints the main table (s3disk, and s3disk with
// --fsyncTo=journal when it ran, against the reference, each the median of the runs, with the
// min-max spread), then s3disk without a server (mem: and
// file:///) beside a plain local loop device, and the ceilings measured in the same run.
'use strict';

const fs = require('fs');

const [rawFile, metaFile] = process.argv.slice(2);
const meta = {};
for (const line of fs.readFileSync(metaFile, 'utf8').split('\n')) {
  const i = line.indexOf('=');
  if (i > 0) meta[line.slice(0, i)] = line.slice(i + 1);
}
// values[target][metric] = [numbers...]
const values = {};
for (const line of fs.readFileSync(rawFile, 'utf8').split('\n')) {
  const [target, , metric, value] = line.split('\t');
  if (!metric || value === undefined || value === '' || isNaN(Number(value))) continue;
  ((values[target] ??= {})[metric] ??= []).push(Number(value));
}

// A mkfs.ext4 stopped at its time limit counts as "more than the limit" (Infinity).
for (const byMetric of Object.values(values)) {
  for (const t of byMetric.B4_mkfs_timeout_s || []) {
    (byMetric.B4_mkfs_s ??= []).push(Infinity);
    meta.b4_limit = t;
  }
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function fmt(x) {
  if (x === undefined || isNaN(x)) return 'n/a';
  if (x === Infinity) return `> ${meta.b4_limit} (stopped)`;
  const a = Math.abs(x);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString('en-US', {minimumFractionDigits: d, maximumFractionDigits: d});
}
const get = (target, metric) => values[target]?.[metric];
const med = (target, metric) => {
  const v = get(target, metric);
  return v && v.length ? median(v) : undefined;
};
function spread(target, metric) {
  const v = get(target, metric);
  if (!v || !v.length) return 'n/a';
  if (v.length === 1) return '1 run';
  return `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}`;
}

const b1 = meta.b1_size || '?';
const units = {k: 1024, m: 1024 ** 2, g: 1024 ** 3};
const blockSize = String(meta.block_size);
const blockBytes = parseInt(blockSize) * (units[blockSize.slice(-1).toLowerCase()] || 1);
const rows = [
  ['B1', 'B1_mibs', `sequential write of ${b1} (cp + sync)`, 'MiB/s ↑'],
  ['B1', 'B1_flush_mibs', `sequential write of ${b1}, until unmounted and in the bucket`, 'MiB/s ↑'],
  ['B2', 'B2_mibs', `sequential read of ${b1}, cold (remounted, page cache dropped)`, 'MiB/s ↑'],
  ['B3', 'B3_randread_iops', `fio randread 4k, ${meta.fio_size} file, QD16, ${meta.fio_s} s`, 'IOPS ↑'],
  ['B3', 'B3_randwrite_iops', `fio randwrite 4k, ${meta.fio_size} file, QD16, ${meta.fio_s} s`, 'IOPS ↑'],
  ['B3', 'B3_randrw_iops', `fio randrw 4k (50/50), ${meta.fio_size} file, QD16, ${meta.fio_s} s`, 'IOPS ↑'],
  ['B3', 'B3_randread_dio_iops', 'fio randread as above, loop device in direct-I/O mode (reads reach the daemon)', 'IOPS ↑'],
  ['B4', 'B4_mkfs_s', `mkfs.ext4 of ${meta.b4_size} (with discard), empty bucket`, 's ↓'],
  ['B4', 'B4_mount_s', `mount, bucket holding ${meta.b4_blocks} blocks (--listBlocks)` +
       (meta.b4_body && Number(meta.b4_body) !== blockBytes ? ` of ${meta.b4_body} B each` : ''),
   's ↓'],
  ['B5', 'B5_s', `small files: ${meta.b5_desc}, cp + sync`, 's ↓'],
  ['B6', 'B6_s', `SQLite: ${meta.b6_rounds} rounds of drop/create/insert ${meta.b6_rows}/count/commit`, 's ↓'],
  ['B7', 'B7_hwm_mib', `peak RSS of the daemon during B1-B3 (cache: ${meta.cache_desc})`, 'MiB ↓'],
  ['B8', 'B8_put_per_gib_written', 'PUT per GiB written (B1 phase)', '/GiB ↓'],
  ['B8', 'B8_get_per_gib_written', 'GET per GiB written (B1 phase: read-modify-write)', '/GiB ↓'],
  ['B8', 'B8_get_per_gib_read', 'GET per GiB read (B2 phase, includes the remount)', '/GiB ↓'],
  ['B8', 'B8_other_per_gib', 'DELETE + LIST + HEAD per GiB moved (B1 + B2 phases)', '/GiB ↓'],
  ['B9', 'B9_cpu_s_per_gib', 'daemon CPU, user + sys, per GiB moved in B1 + B2', 's/GiB ↓'],
  ['B10', 'B10_iops', `fio randwrite 4k, fsync after each write, QD1, ${meta.fio_s} s`, 'IOPS ↑'],
  ['B10', 'B10_fsync_p50_ms', 'fsync latency in that job, median', 'ms ↓'],
  ['B10', 'B10_fsync_p99_ms', 'fsync latency in that job, 99th percentile', 'ms ↓'],
];

// ratioOf(a, b): a ÷ b as a table cell.
function ratioOf(a, b) {
  if (a !== undefined && b !== undefined && b !== 0 && isFinite(a) && isFinite(b)) {
    return `${fmt(a / b)}×`;
  }
  if (isFinite(a) && b === Infinity) return `< ${fmt(a / meta.b4_limit)}×`;
  return 'n/a';
}

// The journal target (s3disk --fsyncTo=journal) gets its columns only when it ran.
const journal = values.journal !== undefined;
const out = [];
const ref = meta.ref_name || 'reference';
// Older results have no server line: they were all on s3rver.
const server = meta.server_name || (meta.s3rver ? `s3rver ${meta.s3rver}` : 's3rver');
if (journal) {
  out.push(`| id | workload | unit | s3disk | s3disk journal | ${ref} | ratio | ratio (journal) | ` +
           'spread (min–max): s3disk; journal; reference |');
  out.push('|----|----------|------|-------:|---------------:|----------:|------:|------:|------|');
} else {
  out.push(`| id | workload | unit | s3disk | ${ref} | ratio | spread (min–max): s3disk; reference |`);
  out.push('|----|----------|------|-------:|----------:|------:|------|');
}
for (const [id, metric, label, unit] of rows) {
  const a = med('s3disk', metric);
  const j = med('journal', metric);
  const b = med('reference', metric);
  if (a === undefined && j === undefined && b === undefined) continue;
  if (journal) {
    out.push(`| ${id} | ${label} | ${unit} | ${fmt(a)} | ${fmt(j)} | ${fmt(b)} | ` +
             `${ratioOf(a, b)} | ${ratioOf(j, b)} | ${spread('s3disk', metric)}; ` +
             `${spread('journal', metric)}; ${spread('reference', metric)} |`);
  } else {
    out.push(`| ${id} | ${label} | ${unit} | ${fmt(a)} | ${fmt(b)} | ${ratioOf(a, b)} | ` +
             `${spread('s3disk', metric)}; ${spread('reference', metric)} |`);
  }
}
out.push('');
out.push('ratio = s3disk ÷ reference; ↑ higher is better, ↓ lower is better. ' +
         `Medians of ${meta.runs} run(s)` +
         (meta.b4_runs && meta.b4_runs !== meta.runs ? ` (B4: ${meta.b4_runs})` : '') +
         '; MiB = 2^20 bytes. B8 counts requests at the S3 server. ' +
         `S3 server: ${server}, a fresh one for each measurement.`);
if (journal) {
  out.push('s3disk journal = s3disk with `--blockCacheFile` and `--fsyncTo=journal`: its fsyncs ' +
           '(the syncs of B1 and B5, the commits of B6, B10) return once durable in a journal ' +
           'on the local disk, and the bucket follows in flush order; plain s3disk\'s return ' +
           'once in the bucket. ratio (journal) = s3disk journal ÷ reference.');
}

const local = rows.filter(([id]) => ['B1', 'B2', 'B3', 'B6', 'B7', 'B9', 'B10'].includes(id))
                  .filter(([, m]) => get('mem', m) || get('file', m) || get('local', m));
if (local.length) {
  out.push('');
  const cache = meta.s3disk_cache && meta.s3disk_cache !== 'none' ? 'with the block cache' :
                                                                     'without a block cache';
  out.push(`s3disk without a server (program overhead, ${cache}): \`mem:\` is FUSE alone ` +
           '(its B7 includes the bucket, held in RAM), `file:///` a directory bucket on the ' +
           'local disk; local loop: the same ext4 on a loop device over an image file on the ' +
           'local disk, no FUSE, no network (the physical limit). ' +
           `Medians of ${meta.local_runs || meta.runs} run(s).`);
  out.push('');
  out.push('| id | workload | unit | s3disk mem: | s3disk file:/// | local loop | ' +
           'spread (min–max): mem:; file:///; local |');
  out.push('|----|----------|------|-----------:|---------------:|-----------:|------|');
  for (const [id, metric, label, unit] of local) {
    out.push(`| ${id} | ${label} | ${unit} | ${fmt(med('mem', metric))} | ` +
             `${fmt(med('file', metric))} | ${fmt(med('local', metric))} | ` +
             `${spread('mem', metric)}; ${spread('file', metric)}; ${spread('local', metric)} |`);
  }
}

const ceilings = [
  ['s3_put_mibs', `S3 server alone (${server}), PUT of ${meta.block_size} objects, ${meta.threads} clients`],
  ['s3_get_mibs', `S3 server alone (${server}), GET of ${meta.block_size} objects, ${meta.threads} clients`],
  ['disk_dd_mibs', `local disk, dd of ${meta.dd_size} with conv=fsync`],
];
const have = ceilings.filter(([m]) => get('ceiling', m));
if (have.length || get('mem', 'B1_mibs')) {
  out.push('');
  out.push('Ceilings measured in the same run' +
           (meta.server_data ? ` (the S3 servers' objects in ${meta.server_data})` : '') + ':');
  out.push('');
  for (const [m, label] of have) {
    out.push(`- ${label}: ${fmt(med('ceiling', m))} MiB/s (${spread('ceiling', m)})`);
  }
  if (get('mem', 'B1_mibs')) {
    out.push(`- FUSE alone (s3disk mem:): B1 ${fmt(med('mem', 'B1_mibs'))} MiB/s, ` +
             `B2 ${fmt(med('mem', 'B2_mibs'))} MiB/s`);
  }
}
process.stdout.write(out.join('\n') + '\n');
