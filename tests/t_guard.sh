#!/usr/bin/env bash
# t_guard: the consistency guard (--md5CacheSize, --md5CacheTime, --minWriteDelay). Bad
# combinations are refused with a message naming the fix; with all three set, mkfs.ext4 (which
# discards the whole image first), files written through a loop mount, and a remount all work,
# the data compares equal, and the stats file shows the guard's counters. Without the options
# the guard is not in the stack at all.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd sha256sum

BUCKET=$WORK/bucket
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$BUCKET" "$MNT" "$FS"
GUARD=(--md5CacheSize=1000 --md5CacheTime=3000 --minWriteDelay=50)

log "bad combinations are refused before mounting"
expect_fail "$S3DISK" -f --size=16m --md5CacheTime=1000 "file://$BUCKET" "$MNT" \
  "s3disk: .*--md5CacheTime and --minWriteDelay need the MD5 cache: add --md5CacheSize"
expect_fail "$S3DISK" -f --size=16m --md5CacheSize=10 --md5CacheTime=100 --minWriteDelay=200 \
  "file://$BUCKET" "$MNT" "s3disk: .*--minWriteDelay=200 must not be longer than --md5CacheTime=100"
expect_fail "$S3DISK" -f --size=16m --blockSize=64k --md5CacheSize=10 "file://$BUCKET" "$MNT" \
  "s3disk: .*--md5CacheTime=0 keeps MD5 entries forever.*use --md5CacheSize=256"
! is_mounted "$MNT" || fail "a refused mount left $MNT mounted"

log "first mount with the guard and no block cache: every block I/O passes the guard"
start_s3disk --size=64m --blockSize=64k --blockCacheSize=0 "${GUARD[@]}" "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
mkdir -p "$FS/d"
for bytes in 1 4097 65536 200000 1048576 3000001; do random_file "$FS/d/f$bytes" "$bytes"; done
printf 'guarded\n' >"$FS/hello.txt"
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
loop_umount "$FS"
cat "$MNT/stats" >"$WORK/stats1"
for name in guard_entries_live guard_entries_max guard_stale_reads_retried \
  guard_stale_reads_failed guard_min_write_delay_waits guard_cache_full_waits; do
  grep -Eq "^$name [0-9]+$" "$WORK/stats1" || fail "stats has no $name line"
done
grep -qx "guard_entries_max 1000" "$WORK/stats1" || fail "guard_entries_max is not 1000"
live=$(awk '$1 == "guard_entries_live" { print $2 }' "$WORK/stats1")
[ "$live" -gt 0 ] || fail "no live guard entries right after writing"
grep -qx "guard_stale_reads_failed 0" "$WORK/stats1" || fail "a directory bucket served stale data"
log "guard: $live live entries, $(awk '$1 == "guard_min_write_delay_waits" { print $2 }' \
  "$WORK/stats1") waits for --minWriteDelay"
loop_detach "$DEV"
stop_s3disk "$MNT"

log "second mount with the guard under the block cache: same data, clean file system"
start_s3disk "${GUARD[@]}" "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV"
loop_mount "$DEV" "$FS"
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ after remount"
random_file "$FS/d/more" 500000
sha256sum "$FS/d/more" | cut -d' ' -f1 >"$WORK/more.sum"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"

log "third mount without the options: no guard in the stack, the data still reads back"
start_s3disk "file://$BUCKET" "$MNT"
! grep -q '^guard_' "$MNT/stats" || fail "the guard is in the stack without --md5CacheSize"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ on the third mount"
[ "$(sha256sum "$FS/d/more" | cut -d' ' -f1)" = "$(cat "$WORK/more.sum")" ] ||
  fail "the file written under the cache differs"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
log "ok"
