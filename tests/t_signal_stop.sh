#!/usr/bin/env bash
# t_signal_stop: SIGTERM, SIGINT and SIGHUP stop the daemon without losing what the kernel
# still holds. With the write-back cache, data written to the image (directly, through a loop
# device, or through ext4 on a loop device) may still be dirty in the kernel's page cache
# when the signal comes; the daemon asks the kernel to unmount and serves until it has. Three
# cases, each written without sync and compared byte for byte after a remount:
#   plain: nothing holds the image: the daemon unmounts and exits by itself;
#   loop:  a loop device holds the image: the daemon fsyncs the image (the data is in the
#          bucket at once), detaches the mount and serves until losetup -d, then exits;
#   ext4:  ext4 on a loop device (mount -o loop): the ext4 keeps working after the signal; a
#          second signal changes nothing; umount of the ext4 (which frees the loop device)
#          lets the daemon exit.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd sha256sum findmnt mountpoint

BUCKET=$WORK/bucket
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$BUCKET" "$MNT" "$FS"
MIB=$((1024 * 1024))
expect_log 'is in use \(the image is open, e\.g\. by a loop device\): detached it'

# A failed test may leave a loop device on the detached mount, which the cleanup of
# functions.sh cannot see (its backing file no longer shows under $WORK): detach it first.
OUR_LOOP=
signal_cleanup() {
  local rc=$?
  set +e # or the (exit "$rc") below would end the trap before cleanup runs
  mountpoint -q "$FS" && { umount "$FS" || umount -l "$FS"; }
  [ -z "$OUR_LOOP" ] || losetup -d "$OUR_LOOP" 2>/dev/null
  (exit "$rc")
  cleanup
}
trap signal_cleanup EXIT

# wait_log PATTERN: waits (30 s) for a line matching PATTERN (grep -E) in the daemon's log.
wait_log() {
  local deadline=$((SECONDS + 30))
  until grep -Eq -- "$1" "$S3DISK_LOG"; do
    if [ "$SECONDS" -ge "$deadline" ] || ! proc_alive "$S3DISK_PID"; then
      sed 's/^/  | /' "$S3DISK_LOG" >&2
      fail "no log line /$1/ within 30 s (or the daemon exited)"
    fi
    sleep 0.1
  done
}

# wait_exit: waits (60 s) for the daemon of $MNT to exit by itself; it must exit 0, with the
# mount gone and no unexpected ERROR/WARNING.
wait_exit() {
  local rc=0 deadline=$((SECONDS + 60))
  while proc_alive "$S3DISK_PID"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      sed 's/^/  | /' "$S3DISK_LOG" >&2
      fail "the daemon did not exit within 60 s"
    fi
    sleep 0.1
  done
  wait "$S3DISK_PID" || rc=$?
  unset "S3DISK_PIDS[$MNT]"
  [ "$rc" -eq 0 ] || { sed 's/^/  | /' "$S3DISK_LOG" >&2; fail "the daemon exited with $rc"; }
  ! is_mounted "$MNT" || fail "$MNT is still mounted after the daemon exited"
  grep -q "unmounted $MNT" "$S3DISK_LOG" || fail "no clean unmount in the log"
  check_log "$S3DISK_LOG"
}

# remount_compare DATA: mounts the bucket again and compares the image's first bytes with
# DATA byte for byte.
remount_compare() {
  start_s3disk "file://$BUCKET" "$MNT"
  cmp -n "$(stat -c %s "$1")" "$1" "$MNT/file" >&2 || fail "the image differs after a remount"
  stop_s3disk "$MNT"
}

log "plain: 8 MiB written to the image, SIGTERM: the daemon unmounts and exits"
random_file "$WORK/plain" $((8 * MIB))
start_s3disk --size=256m --blockSize=64k "file://$BUCKET" "$MNT"
write_at "$MNT/file" 0 "$WORK/plain"
kill -TERM "$S3DISK_PID"
wait_exit
grep -q 'SIGTERM: unmounting' "$S3DISK_LOG" || fail "the signal was not logged"
remount_compare "$WORK/plain"

log "loop: 32 MiB written to a loop device on the image (no sync), SIGTERM"
random_file "$WORK/loopdata" $((32 * MIB))
start_s3disk "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
OUR_LOOP=$LOOP_DEV
write_at "$OUR_LOOP" 0 "$WORK/loopdata"
kill -TERM "$S3DISK_PID"
wait_log 'is in use \(the image is open'
proc_alive "$S3DISK_PID" || fail "the daemon exited while the loop device still held the image"
! is_mounted "$MNT" || fail "the busy mount was not detached"
# The fsync before the detach put everything the kernel held into the bucket.
[ "$(count_objects "$BUCKET")" -eq 512 ] ||
  fail "expected 512 objects (32 MiB) in the bucket, found $(count_objects "$BUCKET")"
# The loop device still works, through the detached mount.
cmp -n $((32 * MIB)) "$WORK/loopdata" "$OUR_LOOP" >&2 || fail "the loop device reads back wrong"
loop_detach "$OUR_LOOP"
OUR_LOOP=
wait_exit
remount_compare "$WORK/loopdata"

log "ext4: files written to ext4 on a loop device (mount -o loop, no sync), SIGTERM"
start_s3disk "file://$BUCKET" "$MNT"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$MNT/file" || fail "mkfs.ext4 failed"
mount -t ext4 -o loop "$MNT/file" "$FS" || fail "mount -o loop failed"
OUR_LOOP=$(findmnt -n -o SOURCE "$FS")
mkdir -p "$FS/d"
for i in 1 2 3 4 5 6; do random_file "$FS/d/f$i" $((i * 3 * MIB + i)); done
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
kill -TERM "$S3DISK_PID"
wait_log 'is in use \(the image is open'
# The ext4 still works, and another signal changes nothing.
random_file "$FS/after" $((2 * MIB))
sha256sum "$FS/after" | sed "s|$FS|.|" >>"$WORK/sums"
kill -INT "$S3DISK_PID"
wait_log 'SIGINT: already unmounting'
proc_alive "$S3DISK_PID" || fail "the daemon exited while the ext4 was still mounted"
umount "$FS" || fail "umount $FS failed"
OUR_LOOP=
wait_exit
start_s3disk "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
OUR_LOOP=$LOOP_DEV
fsck_clean "$OUR_LOOP" "the ext4 is not clean after the signal stop"
loop_mount "$OUR_LOOP" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "files differ after the remount"
loop_umount "$FS"
loop_detach "$OUR_LOOP"
OUR_LOOP=
stop_s3disk "$MNT"
log "ok"
