#!/usr/bin/env bash
# The NBD export as a disk: nbdfuse shows it as a file; mkfs.ext4, loop-mount, write files,
# unmount; stop s3disk --nbd (it flushes); serve again; the files are there and fsck is clean.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_nbd
require_loop
require_cmd nbdfuse

B=$WORK/bucket
mkdir -p "$B" "$WORK/fm" "$WORK/fs"
SOCK=$WORK/nbd.sock
FUSE_PID=

# nbdfuse_start / nbdfuse_stop: the export as $WORK/fm/disk.
nbdfuse_start() {
  nbdfuse "$WORK/fm/disk" --unix "$SOCK" &
  FUSE_PID=$!
  local deadline=$((SECONDS + 20))
  until is_mounted "$WORK/fm" && [ -e "$WORK/fm/disk" ]; do
    proc_alive "$FUSE_PID" || fail "nbdfuse exited"
    [ "$SECONDS" -lt "$deadline" ] || fail "nbdfuse did not mount within 20 s"
    sleep 0.1
  done
}
nbdfuse_stop() {
  fusermount3 -u "$WORK/fm" || fail "cannot unmount nbdfuse"
  wait "$FUSE_PID" || fail "nbdfuse exited with an error"
}

start_nbd "$SOCK" --size=256m --blockSize=64k "file://$B"
nbdfuse_start
mkfs.ext4 -q -F -E nodiscard "$WORK/fm/disk" || fail "mkfs.ext4"
loop_attach "$WORK/fm/disk"
loop_mount "$LOOP_DEV" "$WORK/fs"
random_file "$WORK/a" $((5 * 1024 * 1024))
random_file "$WORK/b" 12345
cp "$WORK/a" "$WORK/fs/a"
mkdir "$WORK/fs/dir"
cp "$WORK/b" "$WORK/fs/dir/b"
loop_umount "$WORK/fs"
loop_detach "$LOOP_DEV"
nbdfuse_stop
stop_nbd
[ "$(count_objects "$B")" -gt 0 ] || fail "nothing reached the bucket"

start_nbd "$SOCK" "file://$B"
nbdfuse_start
fsck_clean "$WORK/fm/disk" "fsck.ext4 found errors after a restart"
loop_attach "$WORK/fm/disk"
loop_mount "$LOOP_DEV" "$WORK/fs" -o ro
same_bytes "$WORK/a" "$WORK/fs/a" "file a after a restart"
same_bytes "$WORK/b" "$WORK/fs/dir/b" "file dir/b after a restart"
loop_umount "$WORK/fs"
loop_detach "$LOOP_DEV"
nbdfuse_stop
stop_nbd
log "ok"
