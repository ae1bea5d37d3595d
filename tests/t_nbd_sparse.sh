#!/usr/bin/env bash
# Extents make sparse copies cheap: a 64 GiB disk with three written places is copied out by
# nbdcopy with one GET per written block (counted in the --statsFile), and the copy is sparse
# and holds the same bytes at those places.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_nbd

B=$WORK/bucket
mkdir -p "$B"
SOCK=$WORK/nbd.sock
URI=$(nbd_uri "$SOCK")
BS=131072
OFFSETS=(0 $((1000 * BS + 100000)) $((300000 * BS)))

# A sparse 64 GiB source with 200 KiB of random data at each offset: 2 blocks each, except the
# unaligned one, which spans 3 (6 + 1 = 7 blocks).
truncate -s 64G "$WORK/src"
for off in "${OFFSETS[@]}"; do
  random_file "$WORK/chunk.$off" 204800
  write_at "$WORK/src" "$off" "$WORK/chunk.$off"
done
WRITTEN=7

start_nbd "$SOCK" --size=64g --blockSize=$BS "file://$B"
nbdcopy "$WORK/src" "$URI" || fail "nbdcopy in"
stop_nbd
[ "$(count_objects "$B")" -eq "$WRITTEN" ] ||
  fail "$(count_objects "$B") objects, want $WRITTEN"

# Fresh counters: serve again, copy out, stop (the final stats are written at stop).
start_nbd "$SOCK" --statsFile="$WORK/stats" "file://$B"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out"
nbdinfo --map "$URI" >"$WORK/map"
stop_nbd
gets=$(stat_value "$WORK/stats" dir_store_gets)
log "copy-out of a 64 GiB disk: $gets GETs, $(wc -l <"$WORK/map") extents"
[ "$gets" -eq "$WRITTEN" ] || fail "$gets GETs to copy out $WRITTEN written blocks"
[ "$(stat_value "$WORK/stats" nbd_extents)" -ge 1 ] || fail "nbdcopy did not ask for extents"
[ "$(wc -l <"$WORK/map")" -eq 6 ] || fail "map: want 3 data and 3 hole extents: $(cat "$WORK/map")"
[ "$(stat -c %s "$WORK/out")" -eq $((64 * 1024 * 1024 * 1024)) ] || fail "copy size"
used_kib=$(du -k "$WORK/out" | cut -f1)
[ "$used_kib" -lt 65536 ] || fail "the copy is not sparse: $used_kib KiB allocated"
for off in "${OFFSETS[@]}"; do
  read_at "$WORK/out" "$off" 204800 >"$WORK/back"
  same_bytes "$WORK/chunk.$off" "$WORK/back" "data at offset $off"
done
log "ok"
