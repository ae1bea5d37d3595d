#!/usr/bin/env bash
# t_token: the mount token keeps two read-write mounts off one bucket. A second mount is refused
# (naming --reset-mounted-flag) while the first runs; a clean unmount removes the token; after a
# crash the bucket stays locked until --reset-mounted-flag.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

BUCKET=$WORK/bucket
MNT1=$WORK/mnt1
MNT2=$WORK/mnt2
TOKEN=$BUCKET/s3backer-mounted
mkdir -p "$BUCKET" "$MNT1" "$MNT2"

log "first mount takes the token"
start_s3disk --size=4m --blockSize=64k "file://$BUCKET" "$MNT1"
[ -f "$TOKEN" ] || fail "no mount token file while mounted read-write"
random_file "$WORK/data" 70000
write_at "$MNT1/file" 12345 "$WORK/data" conv=fsync

log "a second read-write mount of the same bucket is refused"
snapshot_dir "$BUCKET" >"$WORK/before"
expect_fail "$S3DISK" "file://$BUCKET" "$MNT2" '--reset-mounted-flag'
! is_mounted "$MNT2" || fail "the refused mount is mounted"
expect_fail "$S3DISK" --size=4m --blockSize=64k "file://$BUCKET" "$MNT2" '--reset-mounted-flag'
! is_mounted "$MNT2" || fail "the refused mount is mounted"
snapshot_dir "$BUCKET" >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "a refused mount changed the bucket"
# The first mount is unaffected.
read_at "$MNT1/file" 12345 70000 | cmp -s - "$WORK/data" || fail "first mount reads wrong data"

log "a clean unmount removes the token; then a mount works"
stop_s3disk "$MNT1"
[ ! -e "$TOKEN" ] || fail "the token is still there after a clean unmount"
start_s3disk "file://$BUCKET" "$MNT2"
[ -f "$TOKEN" ] || fail "no mount token after mounting again"
read_at "$MNT2/file" 12345 70000 | cmp -s - "$WORK/data" || fail "remount reads wrong data"
stop_s3disk "$MNT2"
[ ! -e "$TOKEN" ] || fail "the token is still there after the second clean unmount"

log "after a crash (kill -9) the bucket stays locked"
start_s3disk "file://$BUCKET" "$MNT1"
kill_s3disk "$MNT1"
[ -f "$TOKEN" ] || fail "the token vanished although the daemon was killed"
expect_fail "$S3DISK" "file://$BUCKET" "$MNT1" '--reset-mounted-flag'
! is_mounted "$MNT1" || fail "the refused mount is mounted"

log "--reset-mounted-flag takes the bucket over"
expect_log 'WARNING.*(mounted|reset|token)'   # a warning about the takeover is fine
start_s3disk --reset-mounted-flag "file://$BUCKET" "$MNT1"
[ -f "$TOKEN" ] || fail "no mount token after --reset-mounted-flag"
read_at "$MNT1/file" 12345 70000 | cmp -s - "$WORK/data" || fail "data lost after the crash"
random_file "$WORK/more" 5000
write_at "$MNT1/file" 3000000 "$WORK/more" conv=fsync
stop_s3disk "$MNT1"
[ ! -e "$TOKEN" ] || fail "the token is still there after unmounting the reset mount"

start_s3disk --readOnly "file://$BUCKET" "$MNT2"
read_at "$MNT2/file" 3000000 5000 | cmp -s - "$WORK/more" || fail "write after reset was lost"
stop_s3disk "$MNT2"
log "ok"
