#!/usr/bin/env bash
# t_readonly: --readOnly serves the same bytes, refuses every write with EROFS, and leaves the
# bucket directory byte-for-byte unchanged (no mount token either).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root
require_cmd sha256sum truncate

BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"

log "write some data read-write"
start_s3disk --size=8m --blockSize=64k "file://$BUCKET" "$MNT"
random_file "$WORK/data" 300000
write_at "$MNT/file" 1000000 "$WORK/data"
random_file "$WORK/head" 100
write_at "$MNT/file" 0 "$WORK/head"
truncate -s 8M "$WORK/ref"
write_at "$WORK/ref" 1000000 "$WORK/data"
write_at "$WORK/ref" 0 "$WORK/head"
stop_s3disk "$MNT"
[ ! -e "$BUCKET/s3backer-mounted" ] || fail "mount token left behind after a clean unmount"
snapshot_dir "$BUCKET" >"$WORK/before"

log "remount with --readOnly"
start_s3disk --readOnly "file://$BUCKET" "$MNT"
[ ! -e "$BUCKET/s3backer-mounted" ] || fail "a read-only mount wrote a mount token"
[ "$(stat -c %s "$MNT/file")" -eq $((8 * 1024 * 1024)) ] || fail "wrong image size"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "read-only mount reads different bytes"

expect_fail dd if="$WORK/head" of="$MNT/file" bs=100 seek=5 conv=notrunc status=none \
  'Read-only file system'
expect_fail dd if="$WORK/head" of="$MNT/file" bs=100 seek=5 conv=notrunc,fsync status=none \
  'Read-only file system'
expect_fail dd if=/dev/zero of="$MNT/file" bs=64k count=1 conv=notrunc status=none \
  'Read-only file system'
expect_fail truncate -s 1M "$MNT/file" 'Read-only file system'
if command -v fallocate >/dev/null; then
  expect_fail fallocate -p -o 0 -l 65536 "$MNT/file" 'Read-only file system'
fi
cmp "$MNT/file" "$WORK/ref" >&2 || fail "bytes changed after the refused writes"
snapshot_dir "$BUCKET" >"$WORK/during"
diff "$WORK/before" "$WORK/during" >&2 || fail "the bucket changed during a read-only mount"
stop_s3disk "$MNT"

snapshot_dir "$BUCKET" >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "the bucket changed after a read-only mount"
log "ok"
