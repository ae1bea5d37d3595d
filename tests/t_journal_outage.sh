#!/usr/bin/env bash
# t_journal_outage: with --fsyncTo=journal the bucket can be gone for a while. s3rver sits
# behind a proxy that stops listening for 30 s (a stopped server: connections are refused).
# During the outage:
#   - fsync returns at local speed while the journal (--journalSize=16m) has room: 20 writes
#     of one block, each with dd conv=fsync, each must take less than 1 s;
#   - a long write (32 MiB in 1 MiB pieces, each fsynced: twice the ring) fills the journal,
#     and then waits: the stats count full waits, and the writer has not finished when the
#     server comes back.
# Then the uploads resume on their own: the writer finishes and no epoch is left pending. After
# a clean unmount, a mount without the cache file (the bucket alone) holds every byte.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"
require_root
require_cmd curl

OUTAGE_S=30
BS=65536
MIB=$((1024 * 1024))
SB=s3disk-joutage
MNT=$WORK/mnt
CACHE=$WORK/cache
mkdir -p "$MNT"
s3rver_start "$SB"
OBJDIR=$WORK/s3rver-data/$SB
fault_proxy_controlled
printf 'S3RVER:S3RVER\n' >"$WORK/passwd"
chmod 600 "$WORK/passwd"
# Short retry pauses: requests give up within the outage, so the layers above must keep
# their blocks and try again, and they notice the server's return soon.
S3=(--baseURL="$FAULT_PROXY_URL" --accessFile="$WORK/passwd" --initialRetryPause=100
  --maxRetryPause=2000)
# What the outage makes the daemon log.
expect_log 's3: .*giving up after'
expect_log 'cache: upload of block [0-9a-f]{8} failed'
expect_log 'journal: uploading an epoch failed'

# Where things go in the image: A before the outage, P the probes, W the long write.
A_OFF=$((4 * MIB)) A_LEN=$((2 * MIB))
P_OFF=0 P_COUNT=20
W_OFF=$((16 * MIB)) W_MIB=32
random_file "$WORK/a" "$A_LEN"
random_file "$WORK/p" $((P_COUNT * BS))
random_file "$WORK/w" $((W_MIB * MIB))

# stats: a copy of the stats file in $WORK/stats.now (the daemon must answer within 10 s).
stats() {
  timeout -k 2 10 cat "$MNT/stats" >"$WORK/stats.now" ||
    fail "the stats file could not be read within 10 s"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

W_PID=
# The long write: 1 MiB at a time, each fsynced; the count done goes to $WORK/w.done.
long_write() {
  local i
  for i in $(seq 0 $((W_MIB - 1))); do
    dd if="$WORK/w" of="$MNT/file" bs=1M skip="$i" seek=$((W_OFF / MIB + i)) count=1 \
      conv=notrunc,fsync status=none || exit 1
    echo $((i + 1)) >"$WORK/w.done"
  done
}
# On failure, the long write (blocked in the mount) is ended before functions.sh's cleanup.
outage_cleanup() {
  local rc=$? kids
  set +e
  if [ -n "$W_PID" ]; then
    kids=$(cat "/proc/$W_PID/task/"*/children 2>/dev/null)
    # shellcheck disable=SC2086
    kill -9 $kids "$W_PID" 2>/dev/null
    wait "$W_PID" 2>/dev/null
  fi
  (exit "$rc")
  cleanup
}
trap outage_cleanup EXIT

start_s3disk "${S3[@]}" --size=64m --blockSize=64k --blockCacheFile="$CACHE" --fsyncTo=journal \
  --journalSize=16m "$SB" "$MNT"

log "before the outage: 2 MiB written and fsynced, then uploaded"
dd if="$WORK/a" of="$MNT/file" bs=1M seek=$((A_OFF / MIB)) conv=notrunc,fsync status=none ||
  fail "write before the outage"
deadline=$((SECONDS + 20))
until stats && [ "$(journal_stat "$WORK/stats.now" "$JOURNAL_PENDING")" -eq 0 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "epochs still pending 20 s after the first write"
  sleep 0.1
done
fsyncs0=$(journal_stat "$WORK/stats.now" "$JOURNAL_FSYNCS")
waits0=$(journal_stat "$WORK/stats.now" "$JOURNAL_FULL_WAITS")
objects0=$(find "$OBJDIR" -name '*._S3rver_object' | wc -l)

log "the server goes away for $OUTAGE_S s"
fault_proxy_state down
down_ms=$(now_ms)

log "$P_COUNT single-block writes, each with fsync, while the journal has room"
max_ms=0
for i in $(seq 0 $((P_COUNT - 1))); do
  t0=$(now_ms)
  dd if="$WORK/p" of="$MNT/file" bs=64k skip="$i" seek=$((P_OFF / BS + i)) count=1 \
    conv=notrunc,fsync status=none || fail "write + fsync $i failed with the server down"
  ms=$(($(now_ms) - t0))
  [ "$ms" -gt "$max_ms" ] && max_ms=$ms
  [ "$ms" -lt 1000 ] || fail "write + fsync $i took $ms ms with the server down (journal not full)"
done
stats
fsyncs1=$(journal_stat "$WORK/stats.now" "$JOURNAL_FSYNCS")
pending=$(journal_stat "$WORK/stats.now" "$JOURNAL_PENDING")
log "slowest write + fsync: $max_ms ms; journal fsyncs $fsyncs0 -> $fsyncs1; epochs pending: $pending"
[ $((fsyncs1 - fsyncs0)) -ge "$P_COUNT" ] || fail "the fsyncs did not go to the journal"
[ "$pending" -gt 0 ] || fail "no epoch pending with the server down"

log "the long write ($W_MIB MiB, twice the journal) fills the journal"
echo 0 >"$WORK/w.done"
long_write &
W_PID=$!
deadline=$((down_ms / 1000 + OUTAGE_S - 2))
until stats && [ "$(journal_stat "$WORK/stats.now" "$JOURNAL_FULL_WAITS")" -gt "$waits0" ]; do
  [ "$(date +%s)" -lt "$deadline" ] ||
    fail "no full wait counted during the outage (the long write did $(cat "$WORK/w.done") MiB)"
  proc_alive "$W_PID" || fail "the long write ended during the outage ($(cat "$WORK/w.done") MiB)"
  sleep 0.2
done
log "full waits: $waits0 -> $(journal_stat "$WORK/stats.now" "$JOURNAL_FULL_WAITS") after" \
  "$(cat "$WORK/w.done") MiB of the long write"

# The outage lasts its time, whatever was done in it (this sleep is the outage itself).
left_ms=$((down_ms + OUTAGE_S * 1000 - $(now_ms)))
[ "$left_ms" -le 0 ] || sleep "$(printf '%d.%03d' $((left_ms / 1000)) $((left_ms % 1000)))"
done_mib=$(cat "$WORK/w.done")
log "end of the outage: the long write did $done_mib of $W_MIB MiB"
proc_alive "$W_PID" || fail "the long write finished during the outage: nothing waited"
[ "$done_mib" -lt "$W_MIB" ] || fail "the long write finished during the outage"
[ "$(find "$OBJDIR" -name '*._S3rver_object' | wc -l)" -eq "$objects0" ] ||
  fail "the bucket changed during the outage: the proxy let requests through"
fault_proxy_state pass
up_ms=$(now_ms)

log "the server is back: uploads resume on their own"
deadline=$((SECONDS + 45))
while proc_alive "$W_PID"; do
  [ "$SECONDS" -lt "$deadline" ] ||
    fail "the long write is still blocked 45 s after the server came back ($(cat "$WORK/w.done") MiB)"
  sleep 0.2
done
wait "$W_PID" || fail "the long write failed"
W_PID=
log "the long write finished $(($(now_ms) - up_ms)) ms after the server came back"
until stats && [ "$(journal_stat "$WORK/stats.now" "$JOURNAL_PENDING")" -eq 0 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "epochs still pending 45 s after the server came back"
  sleep 0.2
done
log "every epoch uploaded $(($(now_ms) - up_ms)) ms after the server came back"
log "journal stats: $(grep '^journal_' "$WORK/stats.now" | tr '\n' ' ')"
stop_s3disk "$MNT"

log "the bucket alone (no cache file) holds every byte"
start_s3disk "${S3[@]}" "$SB" "$MNT"
cmp <(read_at "$MNT/file" "$A_OFF" "$A_LEN") "$WORK/a" >&2 || fail "the data before the outage differs"
cmp <(read_at "$MNT/file" "$P_OFF" $((P_COUNT * BS))) "$WORK/p" >&2 ||
  fail "the blocks fsynced during the outage differ"
cmp <(read_at "$MNT/file" "$W_OFF" $((W_MIB * MIB))) "$WORK/w" >&2 || fail "the long write differs"
stop_s3disk "$MNT"
log "ok"
