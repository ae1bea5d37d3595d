#!/usr/bin/env bash
# t_s3_mount_faults: a real mount through tests/fault_proxy.js in front of the test's S3 server
# (tests/s3_server.sh; on RGW every retry must be signed afresh). At a 10%
# fault rate (500/503, delays, connection resets before and after the server acted, truncated
# and corrupted bodies) ext4 is created, written, unmounted and read back after a remount:
# every byte is right, the daemon stays up, and the stats show the retries that hid the faults.
# Behind a proxy that answers every request with 403, the mount fails within seconds with a
# message about the credentials or the clock, and nothing is mounted.
# S3DISK_TEST_SEED=N replays the proxy's choices (timing aside).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_loop
require_cmd sha256sum curl

SEED=${S3DISK_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
log "seed $SEED (replay with S3DISK_TEST_SEED=$SEED)"
BUCKET=s3disk-mfaults
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$MNT" "$FS"
s3_server_start "$BUCKET"

# fault_proxy_start reads the proxy's log while the background job may not have created it
# yet; called as the left side of || (where set -e does not apply) it just polls again.
start_proxy() { fault_proxy_start "$@" || fail "fault_proxy_start $* failed"; }
stat_value() { awk -v n="$2" '$1 == n { print $2 }' "$1/stats"; }
# A corrupted GET body is noticed (ETag vs MD5), logged as a WARNING, and retried.
expect_log "s3: get [0-9a-f]{8}: ETag [0-9a-f]+ does not match the MD5"

start_proxy 0.1 "$SEED"
S3=(--baseURL="$FAULT_PROXY_URL" --accessFile="$WORK/passwd" --initialRetryPause=20)

log "mount through the proxy; mkfs.ext4 and about 12 MB of files"
start_s3disk "${S3[@]}" --size=64m --blockSize=64k --listBlocks "$BUCKET" "$MNT"
PID1=$S3DISK_PID
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
mkdir -p "$FS/x/y"
i=0
for bytes in 1 4096 65536 65537 500000 1048576 2097153 4194304 4500000; do
  i=$((i + 1))
  case $((i % 2)) in 0) dir=x ;; *) dir=x/y ;; esac
  random_file "$FS/$dir/f$i.bin" "$bytes"
done
(cd "$FS" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$WORK/sums"
loop_umount "$FS"
loop_detach "$DEV"
proc_alive "$PID1" || fail "the daemon died during the writes"
retries1=$(stat_value "$MNT" s3_retries)
failures1=$(stat_value "$MNT" s3_failures)
[ "$(stat_value "$MNT" fuse_errors)" -eq 0 ] || fail "FUSE returned errors to the kernel"
stop_s3disk "$MNT"

log "remount through the proxy (geometry from the bucket) and read everything back"
start_s3disk "${S3[@]}" --listBlocks "$BUCKET" "$MNT"
PID2=$S3DISK_PID
loop_attach "$MNT/file"
DEV=$LOOP_DEV
fsck_clean "$DEV" "fsck.ext4 -n -f reports problems (seed $SEED)"
loop_mount "$DEV" "$FS" -o ro
(cd "$FS" && sha256sum --quiet -c "$WORK/sums") >&2 || fail "checksums differ (seed $SEED)"
loop_umount "$FS"
loop_detach "$DEV"
proc_alive "$PID2" || fail "the daemon died during the reads"
retries2=$(stat_value "$MNT" s3_retries)
failures2=$(stat_value "$MNT" s3_failures)
[ "$(stat_value "$MNT" fuse_errors)" -eq 0 ] || fail "FUSE returned errors to the kernel"
stop_s3disk "$MNT"

fault_proxy_stop
counts=$FAULT_PROXY_COUNTS
log "$counts"
injected=$(echo "$counts" | tr ' ' '\n' | awk -F= '$1 ~ /^(500|503|reset|truncate|corrupt)$/ { n += $2 }
  END { print n + 0 }')
log "$injected faults injected; retries: $retries1 writing, $retries2 reading"
[ "$injected" -ge 10 ] || fail "only $injected faults were injected: the test proves nothing"
[ $((retries1 + retries2)) -ge 10 ] || fail "the stats show only $((retries1 + retries2)) retries"
[ "$retries1" -gt 0 ] && [ "$retries2" -gt 0 ] || fail "one of the two mounts never retried"
[ $((failures1 + failures2)) -eq 0 ] || fail "requests failed for good: $failures1, $failures2"

log "a proxy that answers 403 to everything: the mount fails fast, naming the cause"
start_proxy 0 "$SEED" 403
t0=$(date +%s%N)
expect_fail "$S3DISK" -f --baseURL="$FAULT_PROXY_URL" --accessFile="$WORK/passwd" \
  "$BUCKET" "$MNT" "s3disk: .*HTTP 403 AccessDenied"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_err_has "credentials" "clock"
log "failed in $ms ms"
[ "$ms" -lt 5000 ] || fail "the always-403 mount took $ms ms to fail"
! is_mounted "$MNT" || fail "a mount remains after the refused start"
fault_proxy_stop
log "$FAULT_PROXY_COUNTS"
log "ok"
