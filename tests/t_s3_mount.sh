#!/usr/bin/env bash
# t_s3_mount: the main use on S3 (s3rver or Ceph RGW, tests/s3_server.sh). mkfs.ext4 on the image through a loop device, write
# random files, unmount everything, mount again with no --size (the geometry comes from block
# 0's metadata) and --listBlocks, and check every file, the file system, the survey, and that
# the bucket holds exactly one object per non-zero block.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_loop
require_cmd sha256sum perl curl

BUCKET=s3disk-mount
BS=65536
SIZE=$((128 * 1024 * 1024))
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$MNT" "$FS"
s3_server_start "$BUCKET"
S3=(--baseURL="$S3_URL" --accessFile="$WORK/passwd")

# s3_objects: the block objects the bucket holds.
s3_objects() { s3_keys "$BUCKET" | grep -E '^[0-9a-f]{8}$' || true; }
# stat_value MNT NAME: one counter of the mount's stats file.
stat_value() { awk -v n="$2" '$1 == n { print $2 }' "$1/stats"; }

log "first mount: empty bucket, --size=128m --blockSize=64k --listBlocks"
start_s3disk "${S3[@]}" --size=128m --blockSize=64k --listBlocks "$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "image size is not $SIZE"
# The object layer stores the absent block 0 (zeros, the geometry) before the survey.
grep -q "zero_map: survey found 1 non-zero blocks of 2048" "$S3DISK_LOG" ||
  fail "the survey of the empty bucket did not run (or found blocks other than block 0)"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"

log "writing random files (about 20 MB) in a small tree"
mkdir -p "$FS/a/b" "$FS/c"
i=0
for bytes in 1 4095 4096 65535 65536 65537 300000 1048576 3000001 7340032 9000000; do
  i=$((i + 1))
  case $((i % 3)) in 0) dir=a ;; 1) dir=a/b ;; *) dir=c ;; esac
  random_file "$FS/$dir/f$i.bin" "$bytes"
done
printf 'hello, s3\n' >"$FS/hello.txt"
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
[ "$(wc -l <"$WORK/sums")" -eq 12 ] || fail "expected 12 files in the checksum list"
loop_umount "$FS"
loop_detach "$DEV"
puts=$(stat_value "$MNT" s3_puts)
[ "$puts" -gt 0 ] || fail "no PUT counted in the stats after mkfs and writes"
stop_s3disk "$MNT"
[ "$(s3_objects | wc -l)" -gt 0 ] || fail "no block objects in the bucket after unmount"
! s3_keys "$BUCKET" | grep -qx s3backer-mounted || fail "the mount token is still there"

log "second mount: no --size, no --blockSize (geometry from the bucket), --listBlocks"
start_s3disk "${S3[@]}" --listBlocks "$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "auto-detected image size is not $SIZE"
nobj=$(s3_objects | wc -l)
grep -q "zero_map: survey found $nobj non-zero blocks of 2048" "$S3DISK_LOG" || {
  grep "survey" "$S3DISK_LOG" >&2 || true
  fail "the survey did not find the $nobj block objects"
}
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ after remount"
loop_umount "$FS"
loop_detach "$DEV"
[ "$(stat_value "$MNT" s3_etag_mismatches)" -eq 0 ] || fail "ETag mismatches without faults"
[ "$(stat_value "$MNT" s3_failures)" -eq 0 ] || fail "S3 requests failed without faults"

log "bucket objects vs non-zero blocks of the image"
nonzero_blocks "$MNT/file" "$BS" | while read -r n; do printf '%08x\n' "$n"; done \
  >"$WORK/nonzero"
s3_objects >"$WORK/objects"
log "$(wc -l <"$WORK/nonzero") non-zero blocks, $(wc -l <"$WORK/objects") objects"
if ! diff "$WORK/nonzero" "$WORK/objects" >"$WORK/objects.diff"; then
  head -n 20 "$WORK/objects.diff" >&2
  fail "the bucket does not hold exactly one object per non-zero block" \
    "(< non-zero block without object, > object for a zero block)"
fi
stop_s3disk "$MNT"

log "a cold sequential read after a run elsewhere: read-ahead in batches, connections kept"
# 16 MiB at 64 MiB and 2 MiB at 100 MiB, written straight into the image (the ext4 is done).
random_file "$WORK/seq" $((16 << 20))
random_file "$WORK/far" $((2 << 20))
start_s3disk "${S3[@]}" --listBlocks "$BUCKET" "$MNT"
dd if="$WORK/seq" of="$MNT/file" bs=1M seek=64 conv=notrunc,fsync status=none || fail "dd write"
dd if="$WORK/far" of="$MNT/file" bs=1M seek=100 conv=notrunc,fsync status=none || fail "dd write"
stop_s3disk "$MNT"
sync
echo 3 >/proc/sys/vm/drop_caches
start_s3disk "${S3[@]}" --listBlocks "$BUCKET" "$MNT"
# First a run further on, then the long one below it: the second must not inherit the first's
# read-ahead position (it once did, and fetched one or two blocks at a time).
cmp <(dd if="$MNT/file" bs=1M skip=100 count=2 status=none) "$WORK/far" || fail "far data differs"
cmp <(dd if="$MNT/file" bs=1M skip=64 count=16 status=none) "$WORK/seq" || fail "data differs"
gets=$(stat_value "$MNT" s3_gets)
batched=$(stat_value "$MNT" s3_gets_batched)
batches=$(stat_value "$MNT" http_batches)
opened=$(stat_value "$MNT" http_connections_opened)
log "$gets GETs, $batched of them in $batches batches; $opened connections opened"
[ "$gets" -ge 288 ] || fail "expected at least 288 GETs (18 MiB of 64 KiB blocks), got $gets"
[ $((batched * 10)) -ge $((gets * 9)) ] || fail "only $batched of $gets GETs were read ahead in batches"
[ $((batches * 6)) -le "$batched" ] || fail "$batched GETs in $batches batches: too few at a time"
# 20 workers and one batch's connections, kept between batches; not new ones at every batch.
[ "$opened" -le 64 ] || fail "$opened connections opened for $gets GETs: they are not kept"
stop_s3disk "$MNT"

log "a mount-time probe: a bucket that does not exist fails at once, nothing mounted"
expect_fail "$S3DISK" -f "${S3[@]}" --size=1m no-such-bucket "$MNT" \
  "^s3disk: bucket no-such-bucket: the bucket does not exist \(HTTP 404 NoSuchBucket\): create it"
! is_mounted "$MNT" || fail "a mount remains after the failed start"
log "ok"
