#!/usr/bin/env bash
# t_concurrency: four writers at once, each on its own unaligned range of the image; neighbouring
# ranges share blocks, so partial-block read-modify-writes race. The image must equal a
# reference built by the same writes one after the other, before and after a remount.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

SIZE=$((32 * 1024 * 1024))
BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"
start_s3disk --size=32m --blockSize=64k "file://$BUCKET" "$MNT"
truncate -s "$SIZE" "$WORK/ref"

# round NAME STRIDE LEN BS: writer i writes LEN random bytes at i * STRIDE + 777 with dd bs=BS.
# STRIDE - LEN is small, so each range ends in the same 64 KiB block the next one starts in.
round() {
  local name=$1 stride=$2 len=$3 bs=$4 i pids=() rc=0 pid
  log "round $name: 4 writers, $len bytes each, stride $stride, dd bs=$bs"
  for i in 0 1 2 3; do
    random_file "$WORK/$name.$i" "$len"
    write_at "$WORK/ref" $((i * stride + 777)) "$WORK/$name.$i"
  done
  for i in 0 1 2 3; do
    dd if="$WORK/$name.$i" of="$MNT/file" bs="$bs" seek=$((i * stride + 777)) \
      oflag=seek_bytes conv=notrunc status=none &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
  [ "$rc" -eq 0 ] || fail "a writer failed in round $name (status $rc)"
}

round a 1000003 999999 4096
round b 3000017 2999990 65536
round c 777777 777000 1000
# Round d overlaps rounds a-c in other places: the newest bytes must win.
round d 5555555 5555500 131072
sync "$MNT/file"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "image differs from the sequential reference"

log "parallel readers see the same bytes"
for i in 0 1 2 3; do
  (read_at "$MNT/file" $((i * 8 * 1024 * 1024)) $((8 * 1024 * 1024)) |
    cmp -s - <(read_at "$WORK/ref" $((i * 8 * 1024 * 1024)) $((8 * 1024 * 1024)))) &
  pids[i]=$!
done
for i in 0 1 2 3; do wait "${pids[i]}" || fail "parallel reader $i saw different bytes"; done
stop_s3disk "$MNT"

start_s3disk "file://$BUCKET" "$MNT"
cmp "$MNT/file" "$WORK/ref" >&2 || fail "image differs from the reference after remount"
stop_s3disk "$MNT"
log "ok"
