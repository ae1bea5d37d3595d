#!/usr/bin/env bash
# t_block0: block 0's object guards the bucket (its geometry headers; with --encrypt, the
# password check), so it is kept even when block 0 is all zeros: after zeros written over it,
# a discard of the whole disk (what mkfs.ext4 does first), and on a new bucket whose block 0
# was never written. A later mount with another --blockSize or a wrong password is refused;
# the right settings mount and read zeros.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd blkdiscard fallocate

BS=65536
SIZE=$((4 * 1024 * 1024))
MNT=$WORK/mnt
mkdir -p "$MNT"
printf 'right\n' >"$WORK/right"
printf 'wrong\n' >"$WORK/wrong"
chmod 600 "$WORK/right" "$WORK/wrong"
truncate -s "$SIZE" "$WORK/zeros"

# block0_has_geometry BUCKETDIR: block 0's object exists and carries the geometry headers.
block0_has_geometry() {
  has_object "$1" 0 || fail "$1: block 0 has no object"
  grep -aq "^x-amz-meta-s3backer-blocksize: $BS\$" "$1/00000000" ||
    fail "$1: block 0 lacks the blocksize header"
  grep -aq "^x-amz-meta-s3backer-filesize: $SIZE\$" "$1/00000000" ||
    fail "$1: block 0 lacks the filesize header"
}

# refused BUCKETDIR PATTERN ARGS...: a mount with ARGS is refused (stderr matches PATTERN) and
# changes nothing in the bucket.
refused() {
  local bucket=$1 pattern=$2
  shift 2
  snapshot_dir "$bucket" >"$WORK/before"
  expect_fail "$S3DISK" "$@" "file://$bucket" "$MNT" "$pattern"
  ! is_mounted "$MNT" || fail "the refused mount is mounted"
  snapshot_dir "$bucket" >"$WORK/after"
  diff "$WORK/before" "$WORK/after" >&2 || fail "a refused mount changed the bucket"
}

# reads_back N: the mounted image's block 0 reads as zeros and block N holds $WORK/data.
reads_back() {
  read_at "$MNT/file" 0 "$BS" | cmp -s - <(head -c "$BS" /dev/zero) || fail "block 0 is not zeros"
  read_at "$MNT/file" $(($1 * BS)) 5000 | cmp -s - "$WORK/data" || fail "block $1 lost its data"
}

random_file "$WORK/data" 5000

log "=== zeros written over block 0"
B1=$WORK/zeroed
mkdir -p "$B1"
start_s3disk --size=4m --blockSize=64k "file://$B1" "$MNT"
write_at "$MNT/file" 0 "$WORK/data" conv=notrunc,fsync
write_at "$MNT/file" $((3 * BS)) "$WORK/data" conv=notrunc,fsync
zero_at "$MNT/file" 0 "$BS" conv=notrunc,fsync
stop_s3disk "$MNT"
refused "$B1" '--force' --blockSize=128k
expect_err_has '65536|64[kK]' '131072|128[kK]'
block0_has_geometry "$B1"
log "no --size or --blockSize: the geometry comes from the zero block 0"
start_s3disk "file://$B1" "$MNT"
[ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "the size was not found in block 0"
reads_back 3
stop_s3disk "$MNT"

log "=== the whole disk discarded (blkdiscard through a loop device, as mkfs.ext4 does)"
B2=$WORK/discarded
mkdir -p "$B2"
start_s3disk --size=4m --blockSize=64k "file://$B2" "$MNT"
write_at "$MNT/file" 0 "$WORK/data" conv=notrunc,fsync
loop_attach "$MNT/file"
blkdiscard "$LOOP_DEV" || fail "blkdiscard failed"
loop_detach "$LOOP_DEV"
sync "$MNT/file"
cmp "$MNT/file" "$WORK/zeros" >&2 || fail "the discarded image does not read as zeros"
stop_s3disk "$MNT"
refused "$B2" '--force' --blockSize=128k
[ "$(block_objects "$B2")" = 00000000 ] || fail "objects after the discard: $(block_objects "$B2")"
block0_has_geometry "$B2"
log "--summary and --verify count the zero block 0 as a stored block"
"$S3DISK" --summary "file://$B2" >"$WORK/summary" || fail "--summary failed"
grep -Eq '^blocks stored +1$' "$WORK/summary" || fail "summary: $(cat "$WORK/summary")"
grep -Eq '^zero blocks +63$' "$WORK/summary" || fail "summary: $(cat "$WORK/summary")"
"$S3DISK" --verify "file://$B2" >"$WORK/verify" || fail "--verify failed: $(cat "$WORK/verify")"
grep -q '^verify: 1 block checked, 0 bad$' "$WORK/verify" || fail "verify: $(cat "$WORK/verify")"
start_s3disk --size=4m --blockSize=64k "file://$B2" "$MNT"
cmp "$MNT/file" "$WORK/zeros" >&2 || fail "the right geometry does not read zeros"
stop_s3disk "$MNT"

log "=== encrypted, block 0 written then discarded (fallocate --punch-hole over the image)"
B3=$WORK/encrypted
mkdir -p "$B3"
start_s3disk --encrypt --passwordFile="$WORK/right" --size=4m --blockSize=64k "file://$B3" "$MNT"
write_at "$MNT/file" 0 "$WORK/data" conv=notrunc,fsync
write_at "$MNT/file" $((2 * BS)) "$WORK/data" conv=notrunc,fsync
fallocate -p -o 0 -l "$SIZE" "$MNT/file" || fail "fallocate --punch-hole failed"
sync "$MNT/file"
stop_s3disk "$MNT"
refused "$B3" 'wrong password' --encrypt --passwordFile="$WORK/wrong"
refused "$B3" '--encrypt' --size=4m
refused "$B3" '--force' --encrypt --passwordFile="$WORK/right" --blockSize=128k
block0_has_geometry "$B3"
grep -aq '^content-encoding: deflate, encrypt-AES-128-CBC$' "$B3/00000000" ||
  fail "the zero block 0 is not encrypted"
grep -Eaq '^x-amz-meta-s3backer-hmac: "[0-9a-f]{40}"$' "$B3/00000000" || fail "no HMAC on block 0"
start_s3disk --encrypt --passwordFile="$WORK/right" "file://$B3" "$MNT"
cmp "$MNT/file" "$WORK/zeros" >&2 || fail "the encrypted disk does not read zeros"
stop_s3disk "$MNT"

log "=== a new bucket whose block 0 is never written"
B4=$WORK/fresh
mkdir -p "$B4"
start_s3disk --encrypt --passwordFile="$WORK/right" --size=4m --blockSize=64k "file://$B4" "$MNT"
write_at "$MNT/file" $((5 * BS)) "$WORK/data" conv=notrunc,fsync
stop_s3disk "$MNT"
refused "$B4" 'wrong password' --encrypt --passwordFile="$WORK/wrong"
refused "$B4" '--force' --encrypt --passwordFile="$WORK/right" --blockSize=128k
block0_has_geometry "$B4"
start_s3disk --encrypt --passwordFile="$WORK/right" "file://$B4" "$MNT"
reads_back 5
stop_s3disk "$MNT"

log "=== --readOnly on a bucket without block 0 writes nothing"
B5=$WORK/readonly
mkdir -p "$B5"
start_s3disk --readOnly --size=4m --blockSize=64k "file://$B5" "$MNT"
cmp "$MNT/file" "$WORK/zeros" >&2 || fail "an empty read-only disk does not read zeros"
stop_s3disk "$MNT"
[ -z "$(ls -A "$B5")" ] || fail "a read-only mount wrote to the bucket: $(ls -A "$B5")"
log "ok"
