#!/usr/bin/env bash
# t_fsync: fsync on the image is durable. As soon as `dd conv=fsync` or `sync FILE` returns,
# the written blocks are objects in the bucket (and only those); a block overwritten with
# zeros and fsynced has no object any more.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root
require_cmd sync dd

BS=65536
BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"
start_s3disk --size=16m --blockSize=64k "file://$BUCKET" "$MNT"
IMG=$MNT/file
truncate -s 16M "$WORK/ref"

objects() { block_objects "$BUCKET" | tr '\n' ' '; }

log "dd conv=fsync: 4 KiB inside block 0x2a"
random_file "$WORK/a" 4096
write_at "$IMG" $((0x2a * BS + 12288)) "$WORK/a" conv=fsync
write_at "$WORK/ref" $((0x2a * BS + 12288)) "$WORK/a"
# Block 0 is stored (as zeros) from the first mount on: it records the geometry.
[ "$(objects)" = "00000000 0000002a " ] || fail "after dd conv=fsync: objects are '$(objects)'"

log "dd conv=fsync: 8 KiB across the boundary of blocks 0x3f and 0x40"
random_file "$WORK/b" 8192
write_at "$IMG" $((0x40 * BS - 4096)) "$WORK/b" conv=fsync
write_at "$WORK/ref" $((0x40 * BS - 4096)) "$WORK/b"
[ "$(objects)" = "00000000 0000002a 0000003f 00000040 " ] ||
  fail "after the straddling write: objects are '$(objects)'"

log "plain dd, then sync FILE: block 0x33"
random_file "$WORK/c" 1000
write_at "$IMG" $((0x33 * BS + 5)) "$WORK/c"
write_at "$WORK/ref" $((0x33 * BS + 5)) "$WORK/c"
sync "$IMG"
[ "$(objects)" = "00000000 0000002a 00000033 0000003f 00000040 " ] ||
  fail "after sync FILE: objects are '$(objects)'"

log "block 0 (carries the geometry) with dd conv=fdatasync"
random_file "$WORK/d" 512
write_at "$IMG" 0 "$WORK/d" conv=fdatasync
write_at "$WORK/ref" 0 "$WORK/d"
[ "$(objects)" = "00000000 0000002a 00000033 0000003f 00000040 " ] ||
  fail "after writing block 0: objects are '$(objects)'"

log "zeros over all of block 0x2a, fsync: its object disappears"
zero_at "$IMG" $((0x2a * BS)) "$BS"
zero_at "$WORK/ref" $((0x2a * BS)) "$BS"
sync "$IMG"
[ "$(objects)" = "00000000 00000033 0000003f 00000040 " ] ||
  fail "after zeroing block 0x2a: objects are '$(objects)'"

cmp "$IMG" "$WORK/ref" >&2 || fail "image differs from the reference"
stop_s3disk "$MNT"
start_s3disk "file://$BUCKET" "$MNT"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "image differs from the reference after remount"
stop_s3disk "$MNT"
log "ok"
