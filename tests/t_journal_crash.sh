#!/usr/bin/env bash
# t_journal_crash: with --fsyncTo=journal, a crash loses no acknowledged write, and losing the
# journal too leaves the bucket a consistent disk as at some earlier flush.
#
# An ext4 on a loop device over a mount of s3rver (through a proxy that holds every request
# 100 ms while the writer runs, so the bucket lags: many epochs wait in the journal), with
# --blockCacheFile and --fsyncTo=journal. A SQLite writer commits transactions one by one, each
# its own sqlite3 process, and after each commit returns appends its number to a file outside
# the mount. The daemon is killed (-9) at a random moment; the stats read just before must
# show epochs pending upload, or the test would prove nothing.
#   Round 1: remount with the same cache file (and its journal): every recorded transaction is
#   in the database, PRAGMA integrity_check is ok, and after the ext4 journal replay fsck.ext4
#   -n -f is clean.
#   Round 2: the same, but the cache file and its journal are deleted before the remount
#   (which then needs --reset-mounted-flag: the bucket keeps the dead mount's token). The
#   bucket alone must be a clean ext4 after its journal replay, and the database whole, at
#   some transaction between the end of round 1 and the last one recorded (logged).
#
# The rollback journal (SQLite's default, journal_mode=DELETE) rather than WAL: each commit is
# several flushes whose order matters (the rollback journal durable before the database is
# written, the database durable before the journal is deleted), so a bucket that received
# blocks out of flush order shows as a database that integrity_check or the row counts reject.
# WAL checksums its frames and drops a torn tail, which would hide that. The rollback journal
# needs synchronous=EXTRA, not FULL: with FULL the deletion of the journal, which is the
# commit, is not synced, so the last transaction to return may still be rolled back after a
# crash (a run without --fsyncTo=journal shows it).
#
# Beside it a second writer checks the order alone: it appends a 4 KiB record to a log file and
# fsyncs, then writes the record's number into a pointer file and fsyncs, over and over. A
# bucket that is a disk as at some flush has, in the log, every record up to the pointer's
# number; one that got a block ahead of its flush (a newer pointer) very likely has not.
#
# S3DISK_TEST_SEED=N replays the moments of the kills (timing aside).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"
require_loop
require_cmd sqlite3 curl

SEED=${S3DISK_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
KILL1_MS=$((1000 + SEED % 2500))
KILL2_MS=$((1000 + SEED / 2500 % 2500))
log "seed $SEED: kills ${KILL1_MS} ms and ${KILL2_MS} ms after the writer starts" \
  "(replay with S3DISK_TEST_SEED=$SEED)"
HOLD_MS=100

SB=s3disk-jcrash
MNT=$WORK/mnt
FS=$WORK/fs
CACHE=$WORK/cache
mkdir -p "$MNT" "$FS"
s3rver_start "$SB"
fault_proxy_controlled
printf 'S3RVER:S3RVER\n' >"$WORK/passwd"
chmod 600 "$WORK/passwd"
S3=(--baseURL="$FAULT_PROXY_URL" --accessFile="$WORK/passwd" --initialRetryPause=50)
# Room for the few seconds of writes before a kill (about 50 MB), so no writer waits.
JOPTS=(--blockCacheFile="$CACHE" --fsyncTo=journal --journalSize=256m)
DB=$FS/db.sqlite
expect_log 'did not unmount cleanly; taking over'

WRITER_PID='' LOGGER_PID=''
# writer FIRST COMMITTED: commits transactions FIRST, FIRST+1, ... (a 3000-byte row with that
# id, and the counter set to it), one sqlite3 process each, appending each number to
# COMMITTED once its commit returned; stops at the first failure.
writer() {
  local i=$1
  while sqlite3 -bail "$DB" "PRAGMA synchronous=EXTRA; BEGIN IMMEDIATE;
      INSERT INTO t (id, v) VALUES ($i, randomblob(3000)); UPDATE c SET n = $i; COMMIT;" \
    >/dev/null 2>>"$WORK/writer.err"; do
    echo "$i" >>"$2"
    i=$((i + 1))
  done
}

# logger FIRST DONE: appends record FIRST, FIRST+1, ... to the log, each fsynced, then sets the
# pointer to its number (fsynced) and appends the number to DONE; stops at the first failure.
logger() {
  local i=$1
  while printf 'record %08d\n' "$i" |
    dd of="$FS/log" bs=4096 conv=sync,notrunc,fsync oflag=append status=none 2>/dev/null &&
    printf '%08d\n' "$i" | dd of="$FS/pointer" conv=notrunc,fsync status=none 2>/dev/null; do
    echo "$i" >>"$2"
    i=$((i + 1))
  done
}

# log_check: prints the pointer's number p and checks that records 1..p are all in the log.
log_check() {
  local p
  p=$(cat "$FS/pointer") || fail "cannot read the pointer file"
  [[ $p =~ ^[0-9]{8}$ ]] || fail "the pointer file holds '$p'"
  p=$((10#$p))
  perl -e '
    my ($f, $p) = @ARGV;
    open(my $h, "<:raw", $f) or die "$f: $!\n";
    for my $k (1 .. $p) {
      my $n = read($h, my $rec, 4096);
      die "the log ends before record $k, the pointer says $p\n" unless $n == 4096;
      my $want = sprintf("record %08d\n", $k);
      die "record $k of the log is not there (the pointer says $p)\n"
        unless substr($rec, 0, length $want) eq $want;
    }' "$FS/log" "$p" >&2 ||
    fail "the log and its pointer disagree: blocks reached the bucket out of flush order (seed $SEED)"
  echo "$p"
}

# db_check: checks the database; prints its counter (the last transaction it holds). Every
# transaction 1..n must be there, whole, and nothing after it.
db_check() {
  local out n rows want
  out=$(sqlite3 -bail "$DB" "PRAGMA integrity_check; SELECT n FROM c;
      SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0),
             coalesce(sum(length(v) != 3000), 0) FROM t;" 2>&1) ||
    fail "sqlite3 cannot read the database: $out"
  [ "$(sed -n 1p <<<"$out")" = ok ] || fail "PRAGMA integrity_check: $out"
  n=$(sed -n 2p <<<"$out")
  rows=$(sed -n 3p <<<"$out")
  [[ $n =~ ^[0-9]+$ ]] || fail "no counter in the database: $out"
  if [ "$n" -eq 0 ]; then want='0|0|0|0'; else want="$n|1|$n|0"; fi
  [ "$rows" = "$want" ] ||
    fail "rows (count|min|max|bad) are $rows; the counter $n wants $want: a torn transaction"
  echo "$n"
}

# run_and_kill ROUND KILL_MS FIRST LOG_FIRST: the writer from transaction FIRST and the logger
# from record LOG_FIRST; kill -9 of the daemon KILL_MS ms after they started, with epochs
# pending upload; then the dead mounts cleaned up.
run_and_kill() {
  local round=$1 kill_ms=$2 first=$3 log_first=$4 pending fsyncs n
  : >"$WORK/committed.$round"
  : >"$WORK/logged.$round"
  fault_proxy_state "delay $HOLD_MS"
  writer "$first" "$WORK/committed.$round" &
  WRITER_PID=$!
  logger "$log_first" "$WORK/logged.$round" &
  LOGGER_PID=$!
  sleep "$(printf '%d.%03d' $((kill_ms / 1000)) $((kill_ms % 1000)))" # the random moment
  cat "$MNT/stats" >"$WORK/stats.kill$round" || fail "cannot read the stats file"
  kill_s3disk "$MNT"
  n=$(wc -l <"$WORK/committed.$round")
  pending=$(journal_stat "$WORK/stats.kill$round" "$JOURNAL_PENDING")
  fsyncs=$(journal_stat "$WORK/stats.kill$round" "$JOURNAL_FSYNCS")
  log "stats at the kill: $(grep '^journal_' "$WORK/stats.kill$round" | tr '\n' ' ')"
  log "round $round: killed after $n commits and $(wc -l <"$WORK/logged.$round") log records;" \
    "epochs pending upload: $pending, fsyncs: $fsyncs"
  # The writers fail once the mount is gone.
  local deadline=$((SECONDS + 20))
  while proc_alive "$WRITER_PID" || proc_alive "$LOGGER_PID"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "a writer still runs 20 s after the kill"
    sleep 0.1
  done
  wait "$WRITER_PID" 2>/dev/null || true
  wait "$LOGGER_PID" 2>/dev/null || true
  WRITER_PID='' LOGGER_PID=''
  log "the writer stopped: $(tail -n 1 "$WORK/writer.err" 2>/dev/null)"
  [ "$n" -gt 0 ] || fail "no transaction committed before the kill"
  [ -s "$WORK/logged.$round" ] || fail "no log record written before the kill"
  [ "$pending" -gt 0 ] || fail "no epoch pending upload at the kill: the test proves nothing"
  fault_proxy_state pass
  umount "$FS" 2>/dev/null || umount -l "$FS" || fail "cannot unmount the dead ext4 at $FS"
  loop_detach "$DEV"
}

# On failure, the writer stops before functions.sh's cleanup unmounts what it writes to.
crash_cleanup() {
  local rc=$?
  set +e
  [ -z "$WRITER_PID" ] || { kill "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID"; }
  [ -z "$LOGGER_PID" ] || { kill "$LOGGER_PID" 2>/dev/null; wait "$LOGGER_PID"; }
  (exit "$rc")
  cleanup
}
trap crash_cleanup EXIT

log "first mount: mkfs.ext4 and an empty database"
start_s3disk "${S3[@]}" "${JOPTS[@]}" --size=64m --blockSize=64k "$SB" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
sqlite3 -bail "$DB" "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
  CREATE TABLE c (n INTEGER); INSERT INTO c VALUES (0);" || fail "cannot create the database"
: >"$FS/log"
printf '%08d\n' 0 >"$FS/pointer"
sync

log "round 1: kill -9 while the writer commits"
run_and_kill 1 "$KILL1_MS" 1 1
rec1=$(tail -n 1 "$WORK/committed.1")
logged1=$(tail -n 1 "$WORK/logged.1")

log "round 1: remount with the same cache file and journal"
start_s3disk "${S3[@]}" "${JOPTS[@]}" "$SB" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
loop_mount "$DEV" "$FS" # replays the ext4 journal
n1=$(db_check)
log "round 1: the database holds transaction $n1; the last one recorded is $rec1"
[ "$n1" -ge "$rec1" ] || fail "transactions $((n1 + 1))..$rec1 committed but lost (seed $SEED)"
# One more than recorded: the kill came between a commit's return and its record.
[ "$n1" -le $((rec1 + 1)) ] || fail "the database holds $n1, beyond any transaction begun"
p1=$(log_check)
log "round 1: the log's pointer says $p1; the last record logged is $logged1"
[ "$p1" -ge "$logged1" ] || fail "log records $((p1 + 1))..$logged1 fsynced but lost (seed $SEED)"
# A record appended after the pointer's last update goes, so record k stays at place k.
truncate -s $((p1 * 4096)) "$FS/log" || fail "cannot truncate the log"
loop_umount "$FS"
fsck_clean "$DEV" "fsck.ext4 -n -f reports problems after the crash (seed $SEED)"
loop_detach "$DEV"
stop_s3disk "$MNT"

log "round 2: a new mount, kill -9 while the writer commits"
start_s3disk "${S3[@]}" "${JOPTS[@]}" "$SB" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
loop_mount "$DEV" "$FS"
run_and_kill 2 "$KILL2_MS" $((n1 + 1)) $((p1 + 1))
rec2=$(tail -n 1 "$WORK/committed.2")
logged2=$(tail -n 1 "$WORK/logged.2")

log "round 2: the cache file and its journal are lost; the bucket alone"
[ -s "$CACHE.journal" ] || fail "no journal file at $CACHE.journal"
rm -f "$CACHE" "$CACHE.journal"
start_s3disk "${S3[@]}" "${JOPTS[@]}" --reset-mounted-flag "$SB" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
loop_mount "$DEV" "$FS" # replays the ext4 journal
loop_umount "$FS"
fsck_clean "$DEV" "fsck.ext4 -n -f: the bucket alone is no consistent disk (seed $SEED)"
loop_mount "$DEV" "$FS"
n2=$(db_check)
log "round 2: the bucket holds transaction $n2 of $n1..$rec2 ($((rec2 - n2)) recorded" \
  "commits behind, as at an earlier flush)"
[ "$n2" -ge "$n1" ] || fail "the bucket went back before round 1's $n1 (seed $SEED)"
[ "$n2" -le $((rec2 + 1)) ] || fail "the bucket holds $n2, beyond any transaction begun"
p2=$(log_check)
log "round 2: the log's pointer in the bucket says $p2 of $p1..$logged2"
[ "$p2" -ge "$p1" ] || fail "the log went back before round 1's $p1 (seed $SEED)"
loop_umount "$FS"
loop_detach "$DEV"
stop_s3disk "$MNT"
log "ok"
