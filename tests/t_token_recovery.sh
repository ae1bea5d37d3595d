#!/usr/bin/env bash
# t_token_recovery: the mount token and a cache file's dirty blocks after a crash.
#  1. Host A crashes with dirty blocks in its cache file; host B mounts with
#     --reset-mounted-flag and writes the same blocks. When A comes back, with or without
#     --reset-mounted-flag, its stale blocks are refused (B's data stays) unless it says
#     --uploadStaleDirtyBlocks.
#  2. The plain crash, with s3backer's spelling: `--reset-mounted-flag --blockCacheFile BUCKET`
#     uploads the cache file's dirty blocks (so no later mount can be overwritten by them),
#     then clears the flag.
#  3. A start that fails after recovery began (nbdkit cannot bind its socket) keeps the token,
#     so the next plain mount with the cache file recovers the blocks.
#  4. nbdkit run directly, without -f (it forks into the background): the token lives as long
#     as the serving process, so a second mount is refused while it serves.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_root
require_nbd

BUCKET=$WORK/bucket
TOKEN=$BUCKET/s3backer-mounted
MNT=$WORK/mnt
MNT2=$WORK/mnt2
CACHE=$WORK/cache
mkdir -p "$BUCKET" "$MNT" "$MNT2"
# Partial blocks (whole ones go up at once) reach the daemon at each write(), and wait there
# for the write delay, far away, as long as the file stays open (a close flushes).
A_OPTS=(--noWritebackCache --blockCacheFile="$CACHE" --blockCacheWriteDelay=600000)
OFFSETS=(70000 200000 330000)

WRITER=
stop_writer() { [ -z "$WRITER" ] || kill -9 "$WRITER" 2>/dev/null || true; }
CLEANUP_HOOKS+=(stop_writer)

stat_of() { awk -v n="$2" '$1 == n || $1 ~ ("_" n "$") { print $2; exit }' "$1/stats"; }

# write_pieces MNT TAG: 3000 bytes of TAG's data at each offset, then fsync.
write_pieces() {
  local off
  for off in "${OFFSETS[@]}"; do
    random_file "$WORK/$2.$off" 3000
    write_at "$1/file" "$off" "$WORK/$2.$off" conv=fsync
  done
}
# has_pieces MNT TAG: the image holds TAG's data at each offset.
has_pieces() {
  local off
  for off in "${OFFSETS[@]}"; do
    read_at "$1/file" "$off" 3000 | cmp -s - "$WORK/$2.$off" || return 1
  done
}
# crash_with_dirty TAG: host A mounts with the cache file and writes TAG through a descriptor
# it keeps open (no flush), and is killed -9 with those blocks dirty in its cache file.
crash_with_dirty() {
  local off pieces=()
  start_s3disk "${A_OPTS[@]}" "file://$BUCKET" "$MNT"
  # Blocks that are in the cache already (a partial write of a block known to be zero is a
  # whole-block write, which goes up at once).
  write_pieces "$MNT" "$1-before"
  for off in "${OFFSETS[@]}"; do
    random_file "$WORK/$1.$off" 3000
    pieces+=("$off:$WORK/$1.$off")
  done
  rm -f "$WORK/writer.out" # the last writer's "written" must not end the wait below
  perl -e '$| = 1; open(my $f, "+<", shift) or die "open: $!";
    for (@ARGV) { my ($off, $src) = split /:/; open(my $s, "<", $src) or die;
      local $/; my $d = <$s>; sysseek($f, $off, 0); syswrite($f, $d) == length($d) or die; }
    print "written\n"; sleep 15' "$MNT/file" "${pieces[@]}" >"$WORK/writer.out" 2>&1 &
  WRITER=$!
  for _ in $(seq 100); do [ -s "$WORK/writer.out" ] && break; sleep 0.1; done
  grep -q written "$WORK/writer.out" || fail "the writer failed: $(cat "$WORK/writer.out")"
  [ "$(stat_of "$MNT" dirty_blocks)" -ge 3 ] || fail "expected 3 dirty blocks before the kill"
  kill_s3disk "$MNT"
  kill "$WRITER" 2>/dev/null || true
  wait "$WRITER" 2>/dev/null || true
  WRITER=
  [ -f "$TOKEN" ] || fail "the token vanished although the daemon was killed"
}

log "1. host A crashes with dirty blocks; host B resets the flag and writes the same blocks"
start_s3disk --size=16m --blockSize=64k "file://$BUCKET" "$MNT"
random_file "$WORK/block0" 1000
write_at "$MNT/file" 0 "$WORK/block0" conv=fsync # block 0 carries the geometry
stop_s3disk "$MNT"
crash_with_dirty old
expect_log 'WARNING.*(mounted|reset|token)'
start_s3disk --reset-mounted-flag "file://$BUCKET" "$MNT2"
write_pieces "$MNT2" new
log "A comes back while B serves: refused, even with --reset-mounted-flag"
expect_fail "$S3DISK" "${A_OPTS[@]}" "file://$BUCKET" "$MNT" 'already mounted'
expect_fail "$S3DISK" --reset-mounted-flag "${A_OPTS[@]}" "file://$BUCKET" "$MNT" \
  'dirty blocks of an earlier mount'
expect_err_has 'it now holds token' '--uploadStaleDirtyBlocks' 'overwrite newer data'
! is_mounted "$MNT" || fail "the refused mount is mounted"
has_pieces "$MNT2" new || fail "B's data changed while A was refused"
stop_s3disk "$MNT2"
log "A comes back after B unmounted: still refused"
expect_fail "$S3DISK" "${A_OPTS[@]}" "file://$BUCKET" "$MNT" 'dirty blocks of an earlier mount'
expect_err_has 'its mount token is gone' '--uploadStaleDirtyBlocks'
expect_fail "$S3DISK" --reset-mounted-flag "${A_OPTS[@]}" "file://$BUCKET" "$MNT" \
  '--uploadStaleDirtyBlocks'
[ ! -e "$TOKEN" ] || fail "a refused mount left a token"
start_s3disk --readOnly "file://$BUCKET" "$MNT2"
has_pieces "$MNT2" new || fail "B's data was overwritten by A's stale blocks"
stop_s3disk "$MNT2"
log "said explicitly: --uploadStaleDirtyBlocks uploads A's blocks"
expect_log 'uploading the [0-9]+ dirty blocks of an earlier mount'
start_s3disk --uploadStaleDirtyBlocks "${A_OPTS[@]}" "file://$BUCKET" "$MNT"
has_pieces "$MNT" old || fail "--uploadStaleDirtyBlocks did not bring A's blocks back"
stop_s3disk "$MNT"

log "2. plain crash, then s3backer's --reset-mounted-flag --blockCacheFile BUCKET"
crash_with_dirty plain
"$S3DISK" --reset-mounted-flag --blockCacheFile="$CACHE" "file://$BUCKET" >"$WORK/reset.log" 2>&1 ||
  fail "--reset-mounted-flag failed: $(cat "$WORK/reset.log")"
grep -q 'dirty blocks uploaded and mounted flag cleared' "$WORK/reset.log" || {
  sed 's/^/  | /' "$WORK/reset.log" >&2
  fail "the reset does not say it uploaded the dirty blocks"
}
[ ! -e "$TOKEN" ] || fail "--reset-mounted-flag left the token"
check_log "$WORK/reset.log"
start_s3disk --readOnly "file://$BUCKET" "$MNT2"
has_pieces "$MNT2" plain || fail "the reset did not upload the crashed mount's blocks"
stop_s3disk "$MNT2"
start_s3disk "${A_OPTS[@]}" "file://$BUCKET" "$MNT"
has_pieces "$MNT" plain || fail "the next mount with the cache file reads wrong data"
stop_s3disk "$MNT"

log "3. a start that fails after recovery began (nbdkit cannot bind) keeps the token"
crash_with_dirty bind
rc=0
timeout -k 5 60 nbdkit -f -U "$WORK/no/such/dir/sock" "$NBD_PLUGIN" "bucket=file://$BUCKET" \
  blockCacheFile="$CACHE" >"$WORK/nbdkit-bind.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "nbdkit served on a socket in a missing directory"
[ "$rc" -ne 124 ] || fail "nbdkit did not give up on the socket within 60 s"
[ -f "$TOKEN" ] || {
  sed 's/^/  | /' "$WORK/nbdkit-bind.log" >&2
  fail "the failed start released the token: the next mount could not recover"
}
expect_log 'did not unmount cleanly; taking over'
start_s3disk "${A_OPTS[@]}" "file://$BUCKET" "$MNT"
[ "$(stat_of "$MNT" recovered_blocks)" -ge 3 ] || fail "the dirty blocks were not recovered"
has_pieces "$MNT" bind || fail "the recovered blocks read wrong"
stop_s3disk "$MNT"
[ ! -e "$TOKEN" ] || fail "the token is still there after a clean unmount"

log "4. nbdkit without -f (forks into the background): the token lives while it serves"
SOCK=$WORK/nbd.sock
PIDFILE=$WORK/nbdkit.pid
nbdkit -U "$SOCK" -P "$PIDFILE" "$NBD_PLUGIN" "bucket=file://$BUCKET" >"$WORK/nbdkit.log" 2>&1 ||
  fail "nbdkit failed: $(cat "$WORK/nbdkit.log")"
for _ in $(seq 100); do [ -S "$SOCK" ] && [ -s "$PIDFILE" ] && break; sleep 0.1; done
NBDKIT_PID=$(cat "$PIDFILE")
stop_nbdkit() { [ -z "${NBDKIT_PID:-}" ] || kill -TERM "$NBDKIT_PID" 2>/dev/null || true; }
CLEANUP_HOOKS+=(stop_nbdkit)
sleep 1 # the parent of the fork has exited by now
proc_alive "$NBDKIT_PID" || fail "nbdkit is not serving"
[ -f "$TOKEN" ] || fail "no mount token while nbdkit serves (the forking parent deleted it)"
expect_fail "$S3DISK" "file://$BUCKET" "$MNT" 'already mounted'
nbdinfo --size "$(nbd_uri "$SOCK")" >/dev/null || fail "nbdinfo cannot reach nbdkit"
kill -TERM "$NBDKIT_PID"
for _ in $(seq 300); do proc_alive "$NBDKIT_PID" || break; sleep 0.1; done
! proc_alive "$NBDKIT_PID" || fail "nbdkit did not exit within 30 s of SIGTERM"
NBDKIT_PID=
[ ! -e "$TOKEN" ] || fail "the token is still there after nbdkit stopped"
check_log "$WORK/nbdkit.log"
log "ok"
