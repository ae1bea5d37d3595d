#!/usr/bin/env bash
# s3disk --nbd serves the disk: nbdinfo shows its size, the block sizes (minimum 512, preferred
# = the block size) and, for a fresh disk, block 0 as data (stored as zeros at the first
# read-write start: it records the geometry) and one hole for the rest; the mount token is held
# while serving and cleared at stop; the stats file is written. The start-up errors: no device
# and no --socket, a kernel device without the nbd module, an unknown plugin parameter.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_nbd

B=$WORK/bucket
mkdir -p "$B"
SOCK=$WORK/nbd.sock

# Refused before anything is written.
expect_fail "$S3DISK" --nbd --size=1g "file://$B" '--socket=PATH'
if [ ! -e /dev/nbd0 ] && [ ! -e /sys/module/nbd ]; then
  expect_fail "$S3DISK" --nbd -f --size=1g "file://$B" /dev/nbd0 'modprobe nbd'
  expect_err_has '--socket'
fi
[ -z "$(ls -A "$B")" ] || fail "a refused start wrote to the bucket"
# The plugin rejects what ParseArgs rejects, with nbdkit alone too.
expect_fail nbdkit -U - --run true "$NBD_PLUGIN" "bucket=file://$B" size=1g nosuch=1 \
  "unknown parameter 'nosuch'"
expect_fail nbdkit -U - --run true "$NBD_PLUGIN" "bucket=file://$B" size=1000 \
  'not a multiple of blockSize'

start_nbd "$SOCK" --size=1g --blockSize=64k --statsFile="$WORK/stats" "file://$B"
URI=$(nbd_uri "$SOCK")
[ -f "$B/s3backer-mounted" ] || fail "no mount token while serving"
nbdinfo "$URI" >"$WORK/info"
grep -Eq 'export-size: 1073741824\b' "$WORK/info" || fail "size: $(cat "$WORK/info")"
grep -Eq 'block_size_minimum: 512$' "$WORK/info" || fail "minimum block size"
grep -Eq 'block_size_preferred: 65536$' "$WORK/info" || fail "preferred block size"
grep -Eq 'can_multi_conn: true' "$WORK/info" || fail "multi-conn"
grep -Eq 'can_fua: true' "$WORK/info" || fail "FUA"
grep -Eq 'can_trim: true' "$WORK/info" || fail "trim"
grep -Eq 'can_fast_zero: true' "$WORK/info" || fail "fast zero"
nbdinfo --map "$URI" >"$WORK/map"
log "map: $(cat "$WORK/map")"
[ "$(wc -l <"$WORK/map")" -eq 2 ] || fail "a fresh disk should map as two extents"
{
  read -r off len type _
  [ "$off" = 0 ] && [ "$len" = 65536 ] && [ "$type" = 0 ] ||
    fail "a fresh disk's block 0 should be data: $(cat "$WORK/map")"
  read -r off len type _
  [ "$off" = 65536 ] && [ "$len" = $((1073741824 - 65536)) ] && [ "$type" = 3 ] ||
    fail "a fresh disk should be one hole after block 0: $(cat "$WORK/map")"
} <"$WORK/map"
# The stats file is rewritten every second while serving.
deadline=$((SECONDS + 10))
until [ -f "$WORK/stats" ] && [ "$(stat_value "$WORK/stats" nbd_connections)" -ge 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the stats file did not count the connections"
  sleep 0.2
done
stat_value "$WORK/stats" dir_store_gets >/dev/null || fail "no store counters in the stats file"
[ "$(stat_value "$WORK/stats" nbd_reads)" -ge 1 ] || fail "nbdinfo's probe read not counted"
stop_nbd
[ ! -f "$B/s3backer-mounted" ] || fail "the mount token was left after a clean stop"
[ "$(block_objects "$B")" = 00000000 ] ||
  fail "reading a fresh disk created objects other than block 0: $(block_objects "$B")"

# A read-only serve neither writes the token nor accepts writes.
start_nbd "$SOCK" --size=1g --blockSize=64k --readOnly "file://$B"
nbdinfo "$URI" | grep -Eq 'is_read_only: true' || fail "--readOnly is not read-only over NBD"
[ ! -f "$B/s3backer-mounted" ] || fail "--readOnly wrote the mount token"
stop_nbd
# Without -f: s3disk returns once the disk is served, and a refused start prints why.
log "start: s3disk --nbd (daemon)"
"$S3DISK" --nbd --socket="$SOCK" --size=1g "file://$B" 2>"$WORK/daemon.err" ||
  fail "the daemon did not start: $(cat "$WORK/daemon.err")"
[ ! -s "$WORK/daemon.err" ] || fail "a good daemon start printed: $(cat "$WORK/daemon.err")"
nbdinfo --size "$URI" | grep -qx 1073741824 || fail "the daemon does not serve"
expect_fail "$S3DISK" --nbd --socket="$WORK/other.sock" --size=1g "file://$B" 'already mounted'
expect_err_has 'reset-mounted-flag'
NBD_PID=$(grep -lsF -- "--socket=$SOCK" /proc/[0-9]*/cmdline | cut -d/ -f3 | while read -r p; do
  case $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") in "$S3DISK "*) echo "$p" ;; esac
done)
[ -n "$NBD_PID" ] || fail "cannot find the daemon"
log "stop: the daemon (pid $NBD_PID)"
kill -TERM "$NBD_PID"
deadline=$((SECONDS + 60))
while proc_alive "$NBD_PID"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the daemon did not stop within 60 s"
  sleep 0.1
done
NBD_PID=
[ -z "$(nbdkit_pids "$SOCK")" ] || fail "nbdkit outlived the daemon"
[ ! -e "$SOCK" ] || fail "the daemon left its socket"
[ ! -f "$B/s3backer-mounted" ] || fail "the daemon left the mount token"
log "ok"
