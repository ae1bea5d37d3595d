#!/usr/bin/env bash
# t_mkfs_loop: the main use. mkfs.ext4 on the image through a loop device, write files,
# unmount everything, mount again with the geometry auto-detected from the bucket, and check
# every file, the file system, and that the bucket holds exactly one object per non-zero block.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd sha256sum perl

BS=65536
SIZE=$((256 * 1024 * 1024))
BUCKET=$WORK/bucket
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$BUCKET" "$MNT" "$FS"

log "first mount: empty bucket, --size=256m --blockSize=64k"
start_s3disk --size=256m --blockSize=64k "file://$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "image size is not $SIZE"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"

log "writing random files (about 45 MB) in a small tree"
mkdir -p "$FS/a/b/c" "$FS/d"
i=0
for bytes in 1 511 4096 4097 65535 65536 65537 200000 1048576 3000001 8388608 \
  16777216 12345678; do
  i=$((i + 1))
  case $((i % 3)) in 0) dir=a ;; 1) dir=a/b/c ;; *) dir=d ;; esac
  random_file "$FS/$dir/f$i.bin" "$bytes"
done
printf 'hello, s3disk\n' >"$FS/hello.txt"
: >"$FS/empty"
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
[ "$(wc -l <"$WORK/sums")" -eq 15 ] || fail "expected 15 files in the checksum list"

loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
[ "$(count_objects "$BUCKET")" -gt 0 ] || fail "no block objects in the bucket after unmount"

log "second mount: no --size, no --blockSize (geometry from the bucket)"
start_s3disk "file://$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "auto-detected image size is not $SIZE"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ after remount"
loop_umount "$FS"
loop_detach "$DEV"

log "bucket objects vs non-zero blocks of the image"
nonzero_blocks "$MNT/file" "$BS" | while read -r n; do printf '%08x\n' "$n"; done \
  >"$WORK/nonzero"
block_objects "$BUCKET" >"$WORK/objects"
log "$(wc -l <"$WORK/nonzero") non-zero blocks, $(wc -l <"$WORK/objects") objects"
if ! diff "$WORK/nonzero" "$WORK/objects" >"$WORK/objects.diff"; then
  head -n 20 "$WORK/objects.diff" >&2
  fail "the bucket does not hold exactly one object per non-zero block" \
    "(< non-zero block without object, > object for a zero block)"
fi
stop_s3disk "$MNT"
log "ok"
