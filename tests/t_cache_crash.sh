#!/usr/bin/env bash
# t_cache_crash: the block cache file survives a crash. An ext4 on a mount with
# --blockCacheFile and a long write delay: files A are written and synced, files B are written
# and pushed down to the daemon with no flush (ext4 mounted nobarrier), so their blocks sit
# dirty in the cache; then the daemon is killed (-9) before the write delay passes. The next
# mount with the same cache file must recover (and upload) those dirty blocks, the file system
# must be clean, and every file A intact; after a clean stop, a mount without the cache file
# must still read every file A (and B) from the bucket alone.
#
# After kill -9 the bucket keeps its mount token, which the cache file also records: the
# remount with that cache file takes over without --reset-mounted-flag. Had the token gone
# from the bucket (someone else mounted it since), the dirty blocks could overwrite newer
# data: that mount is refused.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd sha256sum

DELAY_MS=20000 # long enough that the kill below always comes before any upload of B
BUCKET=$WORK/bucket
MNT=$WORK/mnt
FS=$WORK/fs
CACHE=$WORK/cache
mkdir -p "$BUCKET" "$MNT" "$FS"
CACHE_OPTS=(--blockCacheFile="$CACHE" --blockCacheWriteDelay="$DELAY_MS")

# stat_of NAME: the value of the stats line NAME (or of the one line ending in _NAME).
stat_of() {
  awk -v n="$1" '$1 == n || $1 ~ ("_" n "$") { print $2; exit }' "$MNT/stats"
}

log "first mount: empty bucket, cache file, write delay $DELAY_MS ms"
start_s3disk --size=256m --blockSize=64k "${CACHE_OPTS[@]}" "file://$BUCKET" "$MNT"
[ -f "$CACHE" ] || fail "no cache file at $CACHE"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"

log "files A (about 10 MB), then sync"
mkdir -p "$FS/a/sub"
i=0
for bytes in 1 4097 65537 1048576 3000001 6291456; do
  i=$((i + 1))
  random_file "$FS/a/sub/A$i.bin" "$bytes"
done
random_file "$FS/a/A0.bin" 200000
sync
(cd "$FS" && find a -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
[ "$(wc -l <"$WORK/sums")" -eq 7 ] || fail "expected 7 files A in the checksum list"
[ "$(count_objects "$BUCKET")" -gt 0 ] || fail "sync uploaded nothing to the bucket"

log "files B (about 8 MB) pushed to the daemon without any flush (ext4 remounted nobarrier)"
mount -o remount,barrier=0 "$FS" || fail "cannot remount $FS with barrier=0"
fsyncs0=$(stat_of fuse_fsyncs)
mkdir -p "$FS/b"
for i in 1 2 3 4; do random_file "$FS/b/B$i.bin" 2097152; done
sync # writes B back to the loop device; nobarrier: no flush reaches the daemon
# The loop device writes into the image's page cache (the kernel's write-back cache); a
# second sync writes those pages back to the daemon (write-back sends no fsync).
sync
# The daemon acknowledged every write of B (into its cache file), so B must survive too.
(cd "$FS" && find b -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums_b"
# A block written whole is uploaded at once, without the write delay: wait until no upload is
# in flight or starting, so that the blocks still dirty are the ones the delay holds back.
uploads=-1 settled=0
for _ in $(seq 50); do
  now=$(stat_of uploads)
  [ "$(stat_of uploads_in_flight)" = 0 ] && [ "$now" = "$uploads" ] && { settled=1; break; }
  uploads=$now
  sleep 0.2
done
[ "$settled" = 1 ] || fail "uploads still running 10 s after the last sync (uploads=$uploads)"
cat "$MNT/stats" >"$WORK/stats.before_kill"
dirty=$(stat_of dirty_blocks)
fsyncs1=$(stat_of fuse_fsyncs)
log "before the kill: dirty_blocks=$dirty fuse_fsyncs $fsyncs0 -> $fsyncs1"
[ -n "$dirty" ] || fail "no dirty_blocks line in the stats file"
[ "$dirty" -gt 0 ] || fail "no dirty blocks in the cache before the kill: nothing to recover"
kill_s3disk "$MNT"
[ -f "$BUCKET/s3backer-mounted" ] || fail "the mount token vanished although the daemon was killed"

log "clean up the dead ext4 and loop device"
umount "$FS" 2>/dev/null || umount -l "$FS" || fail "cannot unmount the dead ext4 at $FS"
loop_detach "$DEV"

log "without the cache file the bucket stays locked"
expect_fail "$S3DISK" "file://$BUCKET" "$MNT" '--reset-mounted-flag'
! is_mounted "$MNT" || fail "the refused mount is mounted"

log "token cleared behind the cache file's back: its dirty blocks must not be uploaded"
cp -p "$BUCKET/s3backer-mounted" "$WORK/token.saved"
"$S3DISK" --reset-mounted-flag "file://$BUCKET" >"$WORK/reset.log" 2>&1 ||
  fail "--reset-mounted-flag failed: $(cat "$WORK/reset.log")"
expect_fail "$S3DISK" "${CACHE_OPTS[@]}" "file://$BUCKET" "$MNT" 'dirty blocks.*--uploadStaleDirtyBlocks'
! is_mounted "$MNT" || fail "the refused mount is mounted"
cp -p "$WORK/token.saved" "$BUCKET/s3backer-mounted" # as the crashed mount left it

log "second mount: same cache file, no flag; it takes over and recovers the dirty blocks"
expect_log 'did not unmount cleanly; taking over'
start_s3disk "${CACHE_OPTS[@]}" "file://$BUCKET" "$MNT"
grep -q 'did not unmount cleanly; taking over' "$S3DISK_LOG" ||
  fail "the log does not say the crashed mount was taken over"
sed 's/^/  | /' "$S3DISK_LOG"
# "cache: PATH: N dirty and M clean blocks reused, ..." is written by the recovery itself.
# (The later "recovered K dirty blocks; uploading them" counts only the blocks the upload
# workers, already running, had not yet taken, so K can be a little less than N.)
recovered=$(sed -n 's/.*cache: .*: \([0-9][0-9]*\) dirty and [0-9][0-9]* clean blocks reused.*/\1/p' \
  "$S3DISK_LOG")
[ -n "$recovered" ] || fail "the log does not say how many dirty blocks were recovered"
log "recovered $recovered dirty blocks (dirty before the kill: $dirty)"
[ "$recovered" -gt 0 ] || fail "recovered $recovered dirty blocks; expected > 0"
# Nothing could upload a block between the stats read and the kill (no flush, no upload in
# flight or due, the write delay far away), so every block dirty then must be recovered.
[ "$recovered" -ge "$dirty" ] || fail "recovered $recovered blocks, but $dirty were dirty"
[ "$(stat_of recovered_blocks)" = "$recovered" ] ||
  fail "stats recovered_blocks=$(stat_of recovered_blocks), the log says $recovered"
grep -Eq 'cache: [0-9]+ recovered blocks uploaded' "$S3DISK_LOG" ||
  fail "the log does not say the recovered blocks were uploaded"
[ "$(stat_of dirty_blocks)" -eq 0 ] || fail "dirty blocks left after the recovery upload"

loop_attach "$MNT/file"
DEV=$LOOP_DEV
log "mount the ext4 once to replay its journal, then fsck.ext4 -n -f"
loop_mount "$DEV" "$FS"
loop_umount "$FS"
fsck_clean "$DEV" "fsck.ext4 -n -f reports problems after the crash"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "files A differ after the crash"
(cd "$FS" && sha256sum --quiet -c "$WORK/sums_b") >&2 ||
  fail "files B (written to the daemon, not flushed) differ after the crash"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
[ ! -e "$BUCKET/s3backer-mounted" ] || fail "the token is still there after a clean unmount"

log "third mount: no cache file; files A and B come from the bucket"
start_s3disk "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV" "fsck.ext4 -n -f reports problems when mounted without the cache file"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "files A differ without the cache file"
(cd "$FS" && sha256sum --quiet -c "$WORK/sums_b") >&2 ||
  fail "files B differ without the cache file (the recovered blocks did not reach the bucket)"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
log "ok"
