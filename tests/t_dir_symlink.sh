#!/usr/bin/env bash
# t_dir_symlink: a directory bucket reached through symlinks (a prefix directory moved to
# another disk and linked back, a bucket directory given as a link) reads back what was
# written through the real path: the mount-time listing follows links as reads and writes do,
# so no block is taken for zeros and no partial write overwrites real data. A symlink loop
# under the prefix fails the listing with a message naming it, and reads stay correct.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root
require_cmd cmp truncate

BKT=$WORK/bucket
DISK2=$WORK/disk2
MNT=$WORK/mnt
mkdir -p "$BKT" "$DISK2" "$MNT"
SIZE=$((8 * 1024 * 1024))
BS=65536

log "write through the real path"
start_s3disk --size=8m --blockSize=64k --prefix=vol1/ "file://$BKT" "$MNT"
random_file "$WORK/a" 300000
random_file "$WORK/b" 5000
truncate -s "$SIZE" "$WORK/ref"
for f in "$MNT/file" "$WORK/ref"; do
  write_at "$f" 0 "$WORK/b" conv=notrunc,fsync
  write_at "$f" 1000000 "$WORK/a" conv=notrunc,fsync
done
stop_s3disk "$MNT"
[ -f "$BKT/vol1/0000000f" ] || fail "no block object under $BKT/vol1"

log "move the prefix directory to another disk and link it back"
mv "$BKT/vol1" "$DISK2/vol1"
ln -s "$DISK2/vol1" "$BKT/vol1"
start_s3disk --prefix=vol1/ "file://$BKT" "$MNT"
grep -q 'survey found [1-9]' "$S3DISK_LOG" || fail "the listing found no block behind the symlink"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "reads through the symlinked prefix differ"
log "a partial write of a stored block keeps the rest of the block"
random_file "$WORK/c" 100
for f in "$MNT/file" "$WORK/ref"; do
  write_at "$f" $((15 * BS + 300)) "$WORK/c" conv=notrunc,fsync
done
cmp "$MNT/file" "$WORK/ref" >&2 || fail "the partial write changed other bytes"
stop_s3disk "$MNT"
[ -L "$BKT/vol1" ] || fail "the symlinked prefix directory was replaced"

log "the real path holds the same bytes"
start_s3disk --prefix=vol1/ "file://$DISK2" "$MNT"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "the real directory holds different bytes"
stop_s3disk "$MNT"

log "a bucket directory given as a symlink"
ln -s "$DISK2" "$WORK/bucket-link"
start_s3disk --prefix=vol1/ "file://$WORK/bucket-link" "$MNT"
grep -q 'survey found [1-9]' "$S3DISK_LOG" || fail "the listing found no block in the linked bucket"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "reads through the linked bucket directory differ"
stop_s3disk "$MNT"

log "a symlink loop under the prefix fails the listing, naming the link; reads stay correct"
ln -s .. "$DISK2/vol1/loop"
expect_log "zero_map: survey failed.*$DISK2/vol1/loop.*symlink loop"
start_s3disk --prefix=vol1/ "file://$DISK2" "$MNT"
grep -q "survey failed.*$DISK2/vol1/loop.*symlink loop" "$S3DISK_LOG" ||
  fail "the loop was not reported"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "reads differ after the failed listing"
stop_s3disk "$MNT"
log "ok"
