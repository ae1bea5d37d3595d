#!/usr/bin/env bash
# t_geometry: block 0's object records the geometry. A later mount without --size finds it; a
# mount with a different --blockSize or --size is refused (naming both values and --force) and
# changes nothing; --force overrides.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

SIZE=$((4 * 1024 * 1024))
BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"

log "create: --size=4m --blockSize=64k"
start_s3disk --size=4m --blockSize=64k "file://$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "image size is not $SIZE"
truncate -s "$SIZE" "$WORK/ref"
for off in 0 70000 $((SIZE - 5000)); do
  random_file "$WORK/chunk" 5000
  write_at "$MNT/file" "$off" "$WORK/chunk"
  write_at "$WORK/ref" "$off" "$WORK/chunk"
done
stop_s3disk "$MNT"
has_object "$BUCKET" 0 || fail "no object for block 0 (it carries the geometry)"

log "mount with no size: the geometry comes from the bucket"
start_s3disk "file://$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "auto-detected size is not $SIZE"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "data differs after an auto-detected mount"
stop_s3disk "$MNT"

log "mount with the same explicit geometry works"
start_s3disk --size=4m --blockSize=64k "file://$BUCKET" "$MNT"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "data differs after a mount with the same geometry"
stop_s3disk "$MNT"

snapshot_dir "$BUCKET" >"$WORK/before"
log "a different --blockSize is refused"
expect_fail "$S3DISK" --blockSize=128k "file://$BUCKET" "$MNT" '--force'
expect_err_has '65536|64[kK]' '131072|128[kK]'
! is_mounted "$MNT" || fail "the refused mount is mounted"

log "a different --size is refused"
expect_fail "$S3DISK" --size=8m "file://$BUCKET" "$MNT" '--force'
expect_err_has '4194304|4[mM]' '8388608|8[mM]'
! is_mounted "$MNT" || fail "the refused mount is mounted"

expect_fail "$S3DISK" --size=2m --blockSize=64k "file://$BUCKET" "$MNT" '--force'
expect_err_has '4194304|4[mM]' '2097152|2[mM]'
! is_mounted "$MNT" || fail "the refused mount is mounted"
snapshot_dir "$BUCKET" >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "a refused mount changed the bucket"

log "--force mounts with the given size, and the data is still there"
expect_log 'WARNING.*(size|force|differ|mismatch)'   # a warning about the override is fine
start_s3disk --force --size=8m "file://$BUCKET" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq $((2 * SIZE)) ] || fail "--force --size=8m: size is not 8 MiB"
read_at "$MNT/file" 0 "$SIZE" | cmp -s - "$WORK/ref" || fail "data differs under --force"
stop_s3disk "$MNT"
log "ok"
