#!/usr/bin/env bash
# t_journal: --fsyncTo=journal end to end. With --blockCacheFile=PATH, fsync returns once the
# writes before it are in PATH.journal, and the bucket follows in the background.
#   1. Bad command lines: --fsyncTo=journal without a cache file, an unknown --fsyncTo, a
#      --journalSize under 16m; each one line on stderr, nothing mounted.
#   2. FUSE: mkfs.ext4, files, sync, read back (with the page cache dropped, so the reads reach
#      the daemon while the bucket may lag); a clean unmount; then a mount without the cache
#      file and without --fsyncTo reads every file from the bucket alone.
#   3. NBD: nbdcopy with a flush, read back, stop; the bucket alone serves the same bytes.
#   4. A journal holding records (the daemon killed while the bucket, behind a proxy, is down)
#      refuses a mount without --fsyncTo=journal, naming the journal and the option, and
#      changes nothing (with --reset-mounted-flag too); the mount with --fsyncTo=journal takes
#      over and serves every fsynced write, and after a clean unmount the bucket alone holds
#      them.
#   5. The same state again: `--reset-mounted-flag BUCKET` with the cache file uploads the
#      journal's writes and clears the token; the journal is then empty.
#   6. A punched hole (its own epoch) and a write into it, fsynced with the bucket down,
#      survive a crash, and end up in the bucket (the whole blocks' objects deleted).
#   7. NBD: a flush with the bucket down, then kill -9 of nbdkit: the next start serves it.
#   8. A --journalSize the journal's disk has no room for: the start fails with one line that
#      says so, and does not leave a journal file taking the disk's free space.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/t_nbd_lib.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"
require_loop
require_nbd
require_cmd sha256sum curl

BS=65536
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$MNT" "$FS"

# bad_input PATTERN ARGS...: s3disk ARGS fails with one "s3disk:" line matching PATTERN and
# mounts nothing.
bad_input() {
  local pattern=$1
  shift
  log "case: s3disk $*"
  expect_fail "$S3DISK" "$@" "$pattern"
  if [ "$(wc -l <"$EXPECT_ERR")" -ne 1 ] || ! head -n 1 "$EXPECT_ERR" | grep -q '^s3disk:'; then
    sed 's/^/  | /' "$EXPECT_ERR" >&2
    fail "expected exactly one stderr line starting 's3disk:': s3disk $*"
  fi
  ! is_mounted "$MNT" || fail "something got mounted on $MNT: s3disk $*"
}

# ---- 1. bad input ----------------------------------------------------------------------------
log "1. bad command lines"
mkdir -p "$WORK/bad"
bad_input 'blockCacheFile' --size=16m --fsyncTo=journal "file://$WORK/bad" "$MNT"
bad_input 'fsyncTo.*(disk|journal|bucket)' --size=16m --blockCacheFile="$WORK/bad.cache" \
  --fsyncTo=disk "file://$WORK/bad" "$MNT"
bad_input 'journalSize.*(16m|16 ?MiB|16777216)|(16m|16 ?MiB|16777216).*journalSize' --size=16m \
  --blockCacheFile="$WORK/bad.cache" --fsyncTo=journal --journalSize=8m "file://$WORK/bad" "$MNT"
[ -z "$(ls -A "$WORK/bad")" ] || fail "a refused command line wrote into the bucket"
[ ! -e "$WORK/bad.cache.journal" ] || fail "a refused command line made a journal file"

# ---- 2. FUSE ---------------------------------------------------------------------------------
log "2. FUSE: ext4 on a mount with --fsyncTo=journal (and the default --journalSize)"
B=$WORK/bucket
CACHE=$WORK/cache
mkdir -p "$B"
start_s3disk --size=128m --blockSize=64k --blockCacheFile="$CACHE" --fsyncTo=journal \
  "file://$B" "$MNT"
[ -s "$CACHE.journal" ] || fail "no journal file at $CACHE.journal"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
mkdir -p "$FS/d/e"
i=0
for bytes in 1 4095 65536 65537 1000000 3145728 7000001; do
  i=$((i + 1))
  random_file "$FS/d/e/f$i.bin" "$bytes"
done
printf 'journal\n' >"$FS/d/hello.txt"
sync
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
[ "$(wc -l <"$WORK/sums")" -eq 8 ] || fail "expected 8 files in the checksum list"
fsyncs=$(journal_stat "$MNT/stats" "$JOURNAL_FSYNCS")
log "journal fsyncs after mkfs, writes and sync: $fsyncs"
[ "$fsyncs" -gt 0 ] || fail "sync did not reach the journal (journal fsyncs = $fsyncs)"
# Read back through the daemon, not from the page cache (the bucket may still lag behind).
loop_umount "$FS"
echo 3 >/proc/sys/vm/drop_caches
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "files differ when read back"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
[ ! -e "$B/s3backer-mounted" ] || fail "the token is still there after a clean unmount"

log "the bucket alone (no cache file, no --fsyncTo) holds everything"
start_s3disk "file://$B" "$MNT"
sha256sum <"$MNT/file" >"$WORK/image.sum"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV" "fsck.ext4 -n -f reports problems in the bucket's image"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 ||
  fail "files differ in the bucket: the clean unmount returned before everything was uploaded"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"

log "a journal emptied by a clean unmount does not hold back a mount without --fsyncTo"
start_s3disk --blockCacheFile="$CACHE" "file://$B" "$MNT"
sha256sum <"$MNT/file" | cmp - "$WORK/image.sum" >&2 ||
  fail "the image differs when mounted with the cache file after the journal was emptied"
stop_s3disk "$MNT"

# ---- 3. NBD ----------------------------------------------------------------------------------
log "3. NBD with --fsyncTo=journal: nbdcopy with a flush, read back"
NB=$WORK/nbd-bucket
mkdir -p "$NB"
SOCK=$WORK/nbd.sock
URI=$(nbd_uri "$SOCK")
random_file "$WORK/img" $((12 * 1024 * 1024))
truncate -s $((16 * 1024 * 1024)) "$WORK/img"
start_nbd "$SOCK" --size=16m --blockSize=64k --blockCacheFile="$WORK/nbd.cache" \
  --fsyncTo=journal --journalSize=16m --statsFile="$WORK/nbd.stats" "file://$NB"
[ -s "$WORK/nbd.cache.journal" ] || fail "no journal file at $WORK/nbd.cache.journal"
nbdcopy --flush "$WORK/img" "$URI" || fail "nbdcopy in"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out"
same_bytes "$WORK/img" "$WORK/out" "NBD read back"
# The stats file is rewritten every second: the flush must show as a journal fsync.
deadline=$((SECONDS + 10))
until [ -s "$WORK/nbd.stats" ] &&
  [ "$(journal_stat "$WORK/nbd.stats" "$JOURNAL_FSYNCS")" -gt 0 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no journal fsync counted within 10 s of nbdcopy --flush"
  sleep 0.2
done
stop_nbd
log "the bucket alone serves the same bytes"
start_nbd "$SOCK" "file://$NB"
rm -f "$WORK/out"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out of the bucket alone"
same_bytes "$WORK/img" "$WORK/out" "NBD, the bucket alone"
stop_nbd

# ---- 4. a journal with records refuses a mount without --fsyncTo=journal ---------------------
log "4. a journal holding records (daemon killed with the bucket down)"
SB=s3disk-journal
s3rver_start "$SB"
OBJDIR=$WORK/s3rver-data/$SB
fault_proxy_controlled
printf 'S3RVER:S3RVER\n' >"$WORK/passwd"
chmod 600 "$WORK/passwd"
S3=(--baseURL="$FAULT_PROXY_URL" --accessFile="$WORK/passwd" --initialRetryPause=50
  --maxRetryPause=1000)
SCACHE=$WORK/s3.cache
J=$SCACHE.journal
start_s3disk "${S3[@]}" --size=16m --blockSize=64k --blockCacheFile="$SCACHE" --fsyncTo=journal \
  --journalSize=16m "$SB" "$MNT"
random_file "$WORK/before" $((BS * 8))
write_at "$MNT/file" 0 "$WORK/before" conv=fsync || fail "write + fsync with the bucket up failed"
fault_proxy_state down
random_file "$WORK/during" $((BS * 8))
t0=$(date +%s%N)
write_at "$MNT/file" $((BS * 32)) "$WORK/during" conv=fsync ||
  fail "write + fsync with the bucket down failed: fsync must not need the bucket"
ms=$((($(date +%s%N) - t0) / 1000000))
log "write + fsync of 512 KiB with the bucket down: $ms ms"
[ "$ms" -lt 5000 ] || fail "fsync waited for the bucket ($ms ms) with --fsyncTo=journal"
pending=$(journal_stat "$MNT/stats" "$JOURNAL_PENDING")
log "epochs pending upload at the kill: $pending"
[ "$pending" -gt 0 ] || fail "no epoch pending with the bucket down: the test proves nothing"
kill_s3disk "$MNT"
[ -s "$J" ] || fail "no journal file at $J after the kill"
fault_proxy_state pass
sha256sum "$J" "$SCACHE" >"$WORK/files.before"
snapshot_dir "$OBJDIR" >"$WORK/bucket.before"

log "a mount without --fsyncTo=journal is refused and changes nothing"
expect_fail "$S3DISK" "${S3[@]}" --blockCacheFile="$SCACHE" "$SB" "$MNT" 'fsyncTo=journal'
grep -qF -- "$J" "$EXPECT_ERR" || fail "the refusal does not name the journal $J: $(cat "$EXPECT_ERR")"
# (An S3 mount says where its credentials came from first, on a line of its own.)
[ "$(grep -vc '^s3disk: INFO:' "$EXPECT_ERR")" -eq 1 ] ||
  fail "the refusal is not one line: $(cat "$EXPECT_ERR")"
! is_mounted "$MNT" || fail "the refused mount is mounted"
sha256sum -c --quiet "$WORK/files.before" >&2 || fail "the refused mount changed the journal or cache file"
snapshot_dir "$OBJDIR" >"$WORK/bucket.after"
diff "$WORK/bucket.before" "$WORK/bucket.after" >&2 || fail "the refused mount changed the bucket"
# Clearing the token first would make the journal's records stale for every later mount.
log "with --reset-mounted-flag too, it is refused before the token is touched"
expect_fail "$S3DISK" "${S3[@]}" --blockCacheFile="$SCACHE" --reset-mounted-flag "$SB" "$MNT" \
  'fsyncTo=journal'
! is_mounted "$MNT" || fail "the refused mount is mounted"
sha256sum -c --quiet "$WORK/files.before" >&2 || fail "the refused mount changed the journal or cache file"
snapshot_dir "$OBJDIR" >"$WORK/bucket.after"
diff "$WORK/bucket.before" "$WORK/bucket.after" >&2 ||
  fail "the refused mount with --reset-mounted-flag changed the bucket"

log "the mount with --fsyncTo=journal takes over and serves every fsynced write"
expect_log 'did not unmount cleanly; taking over'
start_s3disk "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m "$SB" "$MNT"
replayed=$(journal_stat "$MNT/stats" 'replayed')
log "records replayed from the journal: $replayed"
[ "$replayed" -gt 0 ] || fail "the takeover replayed nothing from the journal"
cmp <(read_at "$MNT/file" 0 $((BS * 8))) "$WORK/before" >&2 || fail "data before the outage differs"
cmp <(read_at "$MNT/file" $((BS * 32)) $((BS * 8))) "$WORK/during" >&2 ||
  fail "data fsynced during the outage differs after the crash"
stop_s3disk "$MNT"
log "the bucket alone holds them after the clean unmount"
start_s3disk "${S3[@]}" "$SB" "$MNT"
cmp <(read_at "$MNT/file" 0 $((BS * 8))) "$WORK/before" >&2 || fail "bucket: data before the outage differs"
cmp <(read_at "$MNT/file" $((BS * 32)) $((BS * 8))) "$WORK/during" >&2 ||
  fail "bucket: data fsynced during the outage differs"
stop_s3disk "$MNT"

log "5. --reset-mounted-flag alone, with the crashed mount's cache file, uploads its journal"
start_s3disk "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m "$SB" "$MNT"
fault_proxy_state down
random_file "$WORK/again" $((BS * 8))
write_at "$MNT/file" $((BS * 64)) "$WORK/again" conv=fsync ||
  fail "write + fsync with the bucket down failed"
pending=$(journal_stat "$MNT/stats" "$JOURNAL_PENDING")
[ "$pending" -gt 0 ] || fail "no epoch pending with the bucket down: the test proves nothing"
kill_s3disk "$MNT"
fault_proxy_state pass
"$S3DISK" "${S3[@]}" --reset-mounted-flag --blockCacheFile="$SCACHE" "$SB" >"$WORK/reset.log" 2>&1 ||
  fail "--reset-mounted-flag with the cache file failed: $(cat "$WORK/reset.log")"
sed 's/^/  | /' "$WORK/reset.log"
[ ! -e "$OBJDIR/s3backer-mounted._S3rver_object" ] || fail "the mount token is still there"
log "the journal is empty now: a mount without --fsyncTo=journal takes the cache file"
start_s3disk "${S3[@]}" --blockCacheFile="$SCACHE" "$SB" "$MNT"
stop_s3disk "$MNT"
log "the bucket alone holds the journal's writes"
start_s3disk "${S3[@]}" "$SB" "$MNT"
cmp <(read_at "$MNT/file" $((BS * 64)) $((BS * 8))) "$WORK/again" >&2 ||
  fail "bucket: the journal's writes were not uploaded by --reset-mounted-flag"
cmp <(read_at "$MNT/file" $((BS * 32)) $((BS * 8))) "$WORK/during" >&2 ||
  fail "bucket: older data differs after --reset-mounted-flag"
stop_s3disk "$MNT"

log "6. a punched hole (a trim epoch) fsynced with the bucket down survives a crash"
start_s3disk "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m "$SB" "$MNT"
random_file "$WORK/t" $((BS * 16))
cp "$WORK/t" "$WORK/t.ref"
write_at "$MNT/file" $((BS * 96)) "$WORK/t" conv=fsync || fail "write + fsync failed"
fault_proxy_state down
# Blocks 100..105 whole, the ends of 99 and 106 in part.
fallocate --punch-hole --keep-size -o $((BS * 99 + 1000)) -l $((BS * 7)) "$MNT/file" ||
  fail "punch hole failed"
zero_at "$WORK/t.ref" $((BS * 3 + 1000)) $((BS * 7))
random_file "$WORK/t2" 5000
write_at "$MNT/file" $((BS * 102)) "$WORK/t2" conv=fsync || fail "write + fsync into the hole failed"
write_at "$WORK/t.ref" $((BS * 6)) "$WORK/t2"
cmp <(read_at "$MNT/file" $((BS * 96)) $((BS * 16))) "$WORK/t.ref" >&2 || fail "the hole reads wrong"
pending=$(journal_stat "$MNT/stats" "$JOURNAL_PENDING")
[ "$pending" -gt 0 ] || fail "no epoch pending with the bucket down: the test proves nothing"
kill_s3disk "$MNT"
fault_proxy_state pass
start_s3disk "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m "$SB" "$MNT"
cmp <(read_at "$MNT/file" $((BS * 96)) $((BS * 16))) "$WORK/t.ref" >&2 ||
  fail "the hole and the write into it differ after the crash"
stop_s3disk "$MNT"
for b in 100 101 103 104 105; do
  [ ! -e "$OBJDIR/$(printf '%08x' "$b")._S3rver_object" ] || fail "block $b still has an object after the trim"
done
start_s3disk "${S3[@]}" "$SB" "$MNT"
cmp <(read_at "$MNT/file" $((BS * 96)) $((BS * 16))) "$WORK/t.ref" >&2 ||
  fail "bucket: the hole and the write into it differ"
stop_s3disk "$MNT"

log "7. NBD: a flush with the bucket down, kill -9, the next start serves it"
random_file "$WORK/n" $((4 * 1024 * 1024))
start_nbd "$SOCK" "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m \
  --statsFile="$WORK/s3nbd.stats" "$SB"
fault_proxy_state down
nbdcopy --flush "$WORK/n" "$URI" || fail "nbdcopy with the bucket down"
deadline=$((SECONDS + 10))
until [ -s "$WORK/s3nbd.stats" ] &&
  [ "$(journal_stat "$WORK/s3nbd.stats" "$JOURNAL_PENDING")" -gt 0 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no epoch pending within 10 s of the flush, with the bucket down"
  sleep 0.2
done
log "kill -9 of nbdkit and the launcher"
# shellcheck disable=SC2046
kill -9 $(nbdkit_pids "$SOCK") "$NBD_PID"
wait "$NBD_PID" 2>/dev/null || true
unset "S3DISK_PIDS[nbd:$SOCK]"
NBD_PID=
rm -f "$SOCK"
fault_proxy_state pass
start_nbd "$SOCK" "${S3[@]}" --blockCacheFile="$SCACHE" --fsyncTo=journal --journalSize=16m "$SB"
rm -f "$WORK/out"
nbdcopy "$URI" "$WORK/out" || fail "nbdcopy out after the crash"
cmp <(head -c $((4 * 1024 * 1024)) "$WORK/out") "$WORK/n" >&2 || fail "NBD: flushed data lost in the crash"
stop_nbd

log "8. a journal that does not fit on its disk: a clear error, and the disk's space given back"
SMALL=$WORK/small
mkdir -p "$SMALL" "$WORK/small-bucket"
truncate -s 48m "$WORK/small.img"
mkfs.ext4 -q -F "$WORK/small.img" || fail "mkfs.ext4 of the small disk failed"
mount -o loop "$WORK/small.img" "$SMALL" || fail "cannot mount the small disk"
avail0=$(df -B1 --output=avail "$SMALL" | tail -n 1)
expect_fail "$S3DISK" --size=16m --blockSize=64k --blockCacheSize=50 --blockCacheFile="$SMALL/c" \
  --fsyncTo=journal --journalSize=1g "file://$WORK/small-bucket" "$MNT" \
  '[Nn]o space left|ENOSPC|too small|--journalSize'
[ "$(grep -c '^s3disk:' "$EXPECT_ERR")" -eq 1 ] || fail "not one line: $(cat "$EXPECT_ERR")"
! is_mounted "$MNT" || fail "the refused mount is mounted"
avail1=$(df -B1 --output=avail "$SMALL" | tail -n 1)
ls -l "$SMALL" | sed 's/^/  | /'
log "free on the small disk: $avail0 bytes before, $avail1 after"
# The cache file (50 blocks of 64k) may stay; a journal that filled the disk may not.
[ "$avail1" -ge $((avail0 - 8 * 1024 * 1024)) ] ||
  fail "the refused start left $((avail0 - avail1)) bytes taken on the journal's disk"
umount "$SMALL" || fail "cannot unmount the small disk"
log "ok"
