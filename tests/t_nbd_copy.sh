#!/usr/bin/env bash
# nbdcopy writes a random image in and reads it back identical, one object per non-zero block;
# trimming or zeroing a range over NBD (through nbdfuse's fallocate) deletes its objects and
# reads back as zeros; a restart serves the same bytes.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_nbd
require_root
require_cmd nbdfuse fallocate

B=$WORK/bucket
mkdir -p "$B"
SOCK=$WORK/nbd.sock
URI=$(nbd_uri "$SOCK")
BS=65536
SIZE=$((32 * 1024 * 1024))

# Random data in blocks 0..255, then 128 zero blocks, then random again (sparse copy).
random_file "$WORK/img" $((16 * 1024 * 1024))
truncate -s $((24 * 1024 * 1024)) "$WORK/img"
head -c $((8 * 1024 * 1024)) /dev/urandom >>"$WORK/img"
[ "$(stat -c %s "$WORK/img")" -eq "$SIZE" ] || fail "test image size"

start_nbd "$SOCK" --size=$SIZE --blockSize=$BS --statsFile="$WORK/stats" "file://$B"
nbdcopy --flush "$WORK/img" "$URI" || fail "nbdcopy in"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out"
same_bytes "$WORK/img" "$WORK/out" "nbdcopy round trip"
want=$(nonzero_blocks "$WORK/img" $BS | wc -l)
[ "$(count_objects "$B")" -eq "$want" ] ||
  fail "$(count_objects "$B") objects for $want non-zero blocks"
nbdinfo --map "$URI" >"$WORK/map"
log "map after the copy: $(tr '\n' ';' <"$WORK/map")"
grep -Eq '^ *16777216 +8388608 +3 +hole,zero$' "$WORK/map" || fail "the zero middle is no hole"

# Trim blocks 10..19 and zero blocks 40..47 plus half of block 48, through nbdfuse.
mkdir -p "$WORK/fm"
nbdfuse "$WORK/fm/disk" --unix "$SOCK" &
FUSE_PID=$!
deadline=$((SECONDS + 20))
until is_mounted "$WORK/fm" && [ -e "$WORK/fm/disk" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "nbdfuse did not mount"
  sleep 0.1
done
fallocate --punch-hole --keep-size -o $((10 * BS)) -l $((10 * BS)) "$WORK/fm/disk" ||
  fail "punch hole (NBD trim)"
fallocate --zero-range -o $((40 * BS)) -l $((8 * BS + BS / 2)) "$WORK/fm/disk" ||
  fail "zero range (NBD zero)"
fusermount3 -u "$WORK/fm"
wait "$FUSE_PID" || true
for b in 10 15 19 40 47; do
  ! has_object "$B" $b || fail "block $b still has an object after trim/zero"
done
for b in 9 20 39 48 49; do
  has_object "$B" $b || fail "block $b lost its object; it was outside the range"
done
zero_at "$WORK/img" $((10 * BS)) $((10 * BS))
zero_at "$WORK/img" $((40 * BS)) $((8 * BS + BS / 2))
rm -f "$WORK/out"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out after trim"
same_bytes "$WORK/img" "$WORK/out" "after trim and zero"
sleep 1.2 # one stats period
[ "$(stat_value "$WORK/stats" nbd_trims)" -ge 1 ] || fail "no NBD trim counted"
[ "$(stat_value "$WORK/stats" nbd_zeros)" -ge 1 ] || fail "no NBD zero counted"
[ "$(stat_value "$WORK/stats" nbd_flushes)" -ge 1 ] || fail "nbdcopy --flush sent no flush"
stop_nbd

# A restart serves the same bytes.
start_nbd "$SOCK" "file://$B"
rm -f "$WORK/out"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out after restart"
same_bytes "$WORK/img" "$WORK/out" "after a restart"
stop_nbd
log "ok"
