#!/usr/bin/env bash
# t_s3_public_ro: a public bucket mounted --readOnly with no credentials at all (no AWS_*
# variables, HOME an empty directory), so every request is unsigned. It reads back the ext4 a
# read-write mount wrote (mount -o loop,ro), cannot change it (writes fail, the bucket's files
# are byte for byte the same), and without --readOnly the same command is refused with a
# message that says where credentials come from. The bucket is public-read and the blocks are
# written with --accessType=public-read (RGW, like AWS, refuses anonymous reads otherwise).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_loop
require_cmd sha256sum curl

BUCKET=s3disk-public
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$MNT" "$FS"
s3_server_start "$BUCKET"
s3_bucket_public "$BUCKET"

log "read-write mount with credentials: mkfs.ext4 and a few files"
start_s3disk --baseURL="$S3_URL" --accessFile="$WORK/passwd" --accessType=public-read \
  --size=32m --blockSize=64k "$BUCKET" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
mkdir -p "$FS/docs"
random_file "$FS/docs/a.bin" 1000000
random_file "$FS/b.bin" 3333333
printf 'public data\n' >"$FS/docs/readme.txt"
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"

log "no credentials from here on: no AWS_* variables, HOME is an empty directory"
for v in $(compgen -e); do
  case $v in AWS_*) unset "$v" ;; esac
done
mkdir -p "$WORK/home"
export HOME=$WORK/home

log "without --readOnly the mount is refused before any request"
expect_fail "$S3DISK" -f --baseURL="$S3_URL" "$BUCKET" "$MNT" "no S3 credentials"
expect_err_has "--accessFile" "--accessId" "AWS_ACCESS_KEY_ID" "--readOnly"
! is_mounted "$MNT" || fail "a mount remains after the refused start"

s3_list "$BUCKET" >"$WORK/before"
log "--readOnly with no credentials: unsigned requests"
start_s3disk --baseURL="$S3_URL" --readOnly "$BUCKET" "$MNT"
grep -q "credentials: none: unsigned requests" "$S3DISK_LOG" ||
  fail "the read-only mount did not say that its requests are unsigned"
[ "$(stat -c %s "$MNT/file")" -eq $((32 << 20)) ] || fail "the image is not 32m"
mount -t ext4 -o loop,ro "$MNT/file" "$FS" || fail "mount -o loop,ro of the image failed"
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ on the public mount"
umount "$FS" || fail "umount $FS failed"

log "writes to the image fail and change nothing"
if dd if=/dev/urandom of="$MNT/file" bs=4k count=1 conv=notrunc status=none 2>"$WORK/dd.err"; then
  fail "a write to the read-only image succeeded"
fi
grep -Eq "Read-only file system|Permission denied" "$WORK/dd.err" || {
  cat "$WORK/dd.err" >&2
  fail "the write failed for another reason than a read-only mount"
}
if truncate -s 1m "$MNT/file" 2>/dev/null; then fail "truncate of the read-only image succeeded"; fi
expect_log "fuse: .*(Read-only file system|EROFS)"
# The loop device of the ro mount may take a moment to let go of the image.
for i in $(seq 100); do
  [ -z "$(losetup -j "$MNT/file" 2>/dev/null)" ] && break
  sleep 0.1
done
stop_s3disk "$MNT"
s3_list "$BUCKET" >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "the read-only mount changed the bucket"
log "ok"
