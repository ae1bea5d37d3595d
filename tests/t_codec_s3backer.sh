#!/usr/bin/env bash
# t_codec_s3backer: buckets written by the real s3backer mount in s3disk and the other way
# round, plain, compressed and encrypted (doc/FORMAT.md). s3backer talks HTTP to a tiny S3 endpoint
# (tests/s3backer_dir_server.js) that keeps the objects, with their headers, in DirStore's file
# format; s3disk mounts the same directory as file:///ROOT/bkt, so the key-derivation salt is
# "bkt/" for both. Also: a wrong password is refused at mount, and a tampered block
# reads as an I/O error, never as data. A block 0 that s3disk zeroed is kept as an object of
# zeros, which s3backer reads. The server keeps no MD5 record (DirStore's xattr), so each
# s3disk mount warns once that such blocks are read unverified.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root
require_cmd s3backer node cmp fusermount3

ROOT=$WORK/root
BKT=$ROOT/bkt
MNT=$WORK/mnt
SMNT=$WORK/s3backer-mnt
mkdir -p "$ROOT" "$MNT" "$SMNT"
SIZE=1048576
BS=4096

# The S3 endpoint for s3backer; stopped before functions.sh's cleanup runs.
node "$TESTS_DIR/s3backer_dir_server.js" "$ROOT" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
trap 'rc=$?; kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; (exit $rc); cleanup' EXIT
for _ in $(seq 100); do
  grep -qs '^listening ' "$WORK/server.out" && break
  proc_alive "$SERVER_PID" || fail "the test S3 endpoint did not start: $(cat "$WORK/server.err")"
  sleep 0.1
done
PORT=$(awk '/^listening / { print $2 }' "$WORK/server.out")
[ -n "$PORT" ] || fail "the test S3 endpoint did not report its port"

S3B_PID=
S3B_COUNT=0
# s3b_mount ARGS...: the real s3backer on bucket bkt, in the foreground (background job).
s3b_mount() {
  S3B_COUNT=$((S3B_COUNT + 1))
  local logf=$WORK/s3backer.$S3B_COUNT.log
  log "start: s3backer $*"
  s3backer -f --baseURL="http://127.0.0.1:$PORT/" --accessId=test --accessKey=test \
    --blockSize=4k --size=1m "$@" bkt "$SMNT" >"$logf" 2>&1 &
  S3B_PID=$!
  for _ in $(seq 200); do
    is_mounted "$SMNT" && timeout 5 test -e "$SMNT/file" && return 0
    if ! proc_alive "$S3B_PID"; then
      sed 's/^/  | /' "$logf" >&2
      fail "s3backer exited before the mount was ready: $*"
    fi
    sleep 0.1
  done
  fail "s3backer did not mount within 20 s"
}
s3b_umount() {
  local rc=0
  fusermount3 -u "$SMNT" || fail "cannot unmount s3backer"
  wait "$S3B_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "s3backer exited with status $rc"
}

expect_log 'dir_store: .*/bkt/[0-9a-f]{8} has no MD5 record .* are read unverified'
printf 'secret\n' >"$WORK/password"
chmod 600 "$WORK/password"
random_file "$WORK/a1" 100000
random_file "$WORK/a2" 9000
printf 'hello' >"$WORK/hello"
random_file "$WORK/b1" 50000

for mode in plain compress encrypt; do
  case $mode in
    plain) s3b_flags=() s3disk_flags=() ;;
    compress) s3b_flags=(--compress=9) s3disk_flags=(--compress=deflate:9) ;;
    encrypt)
      s3b_flags=(--encrypt --password=secret)
      s3disk_flags=(--encrypt --passwordFile="$WORK/password")
      ;;
  esac
  log "=== $mode: s3backer writes, s3disk reads"
  rm -rf "$BKT"
  mkdir -p "$BKT"
  rm -f "$WORK/ref"
  truncate -s "$SIZE" "$WORK/ref"
  write_at "$WORK/ref" 0 "$WORK/hello"
  write_at "$WORK/ref" 8000 "$WORK/a1"
  write_at "$WORK/ref" 700000 "$WORK/a2"
  s3b_mount "${s3b_flags[@]}"
  write_at "$SMNT/file" 0 "$WORK/hello" conv=notrunc,fsync
  write_at "$SMNT/file" 8000 "$WORK/a1" conv=notrunc,fsync
  write_at "$SMNT/file" 700000 "$WORK/a2" conv=notrunc,fsync
  s3b_umount
  [ "$(count_objects "$BKT")" -gt 20 ] || fail "$mode: s3backer wrote too few objects"
  case $mode in
    plain) ! grep -q '^content-encoding' "$BKT/00000001" || fail "plain block is encoded" ;;
    compress) grep -q '^content-encoding: deflate$' "$BKT/00000001" || fail "not deflate" ;;
    encrypt) grep -q '^content-encoding: deflate, encrypt-AES-128-CBC$' "$BKT/00000001" ||
      fail "not encrypted" ;;
  esac

  start_s3disk "${s3disk_flags[@]}" "file://$BKT" "$MNT"
  cmp "$MNT/file" "$WORK/ref" >&2 || fail "$mode: s3disk reads different bytes than s3backer wrote"
  [ "$(grep -c 'has no MD5 record' "$S3DISK_LOG")" -eq 1 ] ||
    fail "$mode: not one warning about blocks without an MD5 record"
  log "=== $mode: s3disk writes, s3backer reads"
  write_at "$MNT/file" 200000 "$WORK/b1" conv=notrunc,fsync
  write_at "$WORK/ref" 200000 "$WORK/b1"
  zero_at "$MNT/file" 700416 4096 conv=notrunc,fsync # block 171: now all zeros (a delete)
  zero_at "$WORK/ref" 700416 4096 conv=notrunc
  # Block 0 all zeros: kept as an object of zeros (it carries the geometry and, encrypted, the
  # password check), which s3backer reads as any block.
  zero_at "$MNT/file" 0 "$BS" conv=notrunc,fsync
  zero_at "$WORK/ref" 0 "$BS" conv=notrunc
  stop_s3disk "$MNT"
  ! has_object "$BKT" 171 || fail "$mode: the zeroed block still has an object"
  has_object "$BKT" 0 || fail "$mode: the zeroed block 0 lost its object"
  grep -aq '^x-amz-meta-s3backer-blocksize: 4096$' "$BKT/00000000" ||
    fail "$mode: the zero block 0 lacks the geometry"
  case $mode in
    plain) ! grep -q '^content-encoding' "$BKT/00000031" || fail "s3disk encoded a plain block" ;;
    compress) grep -q '^content-encoding: deflate$' "$BKT/00000031" || fail "s3disk: not deflate" ;;
    encrypt)
      grep -q '^content-encoding: deflate, encrypt-AES-128-CBC$' "$BKT/00000031" ||
        fail "s3disk: not encrypted"
      grep -Eq '^x-amz-meta-s3backer-hmac: "[0-9a-f]{40}"$' "$BKT/00000031" || fail "no HMAC"
      ;;
  esac
  s3b_mount "${s3b_flags[@]}"
  cmp "$SMNT/file" "$WORK/ref" >&2 || fail "$mode: s3backer reads different bytes than s3disk wrote"
  s3b_umount
done

log "=== encrypted bucket: a wrong password is refused at mount"
snapshot_dir "$BKT" >"$WORK/before"
expect_fail "$S3DISK" -f --encrypt --password=wrong "file://$BKT" "$MNT" 'wrong password'
snapshot_dir "$BKT" >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "a refused mount changed the bucket"

log "=== a tampered or moved block is an I/O error naming the block, not data"
cp "$BKT/00000003" "$BKT/00000004" # block 3's object replayed as block 4
expect_log 'object_block_store: read block 00000004'
start_s3disk --encrypt --password=secret "file://$BKT" "$MNT"
cmp <(read_at "$MNT/file" 0 "$BS") <(read_at "$WORK/ref" 0 "$BS") >&2 || fail "block 0 differs"
expect_fail dd if="$MNT/file" of=/dev/null bs=4096 skip=4 count=1 status=none \
  'Input/output error|Bad message'
grep -q '00000004' "$S3DISK_LOG" || fail "the log does not name the bad block"
stop_s3disk "$MNT"
log "ok"
