# shellcheck shell=bash disable=SC2034
# Shared helpers for the integration tests (tests/t_*.sh). Each test sources this file first:
#
#   if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
#   . "$(dirname "$0")/functions.sh"
#
# It turns on strict mode, makes a private work directory ($WORK), and installs an EXIT trap
# that tears down everything the test set up (loop mounts, loop devices, FUSE mounts, daemons)
# even when the test fails half-way. Exit codes follow automake: 0 pass, 77 skip, else fail.
#
# Environment (set by `make check`): S3DISK = the binary under test, S3DISK_SRCDIR = the
# source tree. CI=true turns every skip into a failure.

set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
S3DISK_SRCDIR=${S3DISK_SRCDIR:-$(cd "$TESTS_DIR/.." && pwd)}
S3DISK=${S3DISK:-$S3DISK_SRCDIR/build/s3disk}

declare -A S3DISK_PIDS=()     # mount point -> pid of the foreground daemon serving it
declare -A S3DISK_LOGS=()     # mount point -> its stderr log
EXPECTED_LOG_PATTERNS=()      # ERROR/WARNING log lines a test declared as expected
S3DISK_COUNT=0
S3DISK_PID=
S3DISK_LOG=
LOOP_DEV=
EXPECT_ERR=

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

fail() {
  printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
  # In a subshell ($(...), a pipeline, a negated pipeline) exit ends only that subshell: the
  # mark makes the test fail at its end all the same.
  [ "$BASHPID" = $$ ] || [ -z "${WORK:-}" ] || : >"$WORK/.failed"
  exit 1
}

# skip_or_fail MSG: a missing prerequisite. Skip (77) on a developer machine, fail in CI.
skip_or_fail() {
  if [ "${CI:-}" = true ]; then
    printf '%s: FAIL (skip is not allowed in CI): %s\n' "$TEST_NAME" "$*" >&2
    exit 1
  fi
  printf '%s: SKIP: %s\n' "$TEST_NAME" "$*" >&2
  exit 77
}

require_root() {
  [ "$(id -u)" -eq 0 ] || skip_or_fail "needs root (FUSE and loop mounts)"
  [ -c /dev/fuse ] || skip_or_fail "/dev/fuse is missing"
}

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip_or_fail "command '$c' is not installed"
  done
}

require_loop() {
  require_root
  require_cmd losetup mkfs.ext4 fsck.ext4 mount umount
  [ -e /dev/loop-control ] || ls /dev/loop[0-9]* >/dev/null 2>&1 ||
    skip_or_fail "no loop devices on this machine"
}

# is_mounted DIR: true if DIR is a mount point. Reads the mount table only, so it never
# touches (and never hangs on) a dead FUSE mount.
is_mounted() {
  awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# proc_alive PID: the process exists and is not a zombie (a dead child stays a zombie until
# `wait`, and `kill -0` succeeds on zombies).
proc_alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# --- the daemon -----------------------------------------------------------------------------

# start_s3disk ARGS... (the last argument is the mount point): runs "$S3DISK" -f ARGS in the
# background, stderr to $WORK/s3disk.N.log, and waits (20 s) until the image shows in the
# mount point. Sets S3DISK_PID and S3DISK_LOG.
start_s3disk() {
  local mnt=${!#} fname=file arg rc
  for arg in "$@"; do
    case $arg in --filename=*) fname=${arg#--filename=} ;; esac
  done
  S3DISK_COUNT=$((S3DISK_COUNT + 1))
  local logf=$WORK/s3disk.$S3DISK_COUNT.log
  log "start: s3disk -f $*"
  "$S3DISK" -f "$@" >"$logf" 2>&1 &
  local pid=$!
  S3DISK_PIDS[$mnt]=$pid
  S3DISK_LOGS[$mnt]=$logf
  local deadline=$((SECONDS + 20))
  until is_mounted "$mnt" && timeout -k 2 5 test -e "$mnt/$fname"; do
    if ! proc_alive "$pid"; then
      rc=0
      wait "$pid" || rc=$?
      unset "S3DISK_PIDS[$mnt]"
      sed 's/^/  | /' "$logf" >&2
      fail "s3disk exited with status $rc before the mount was ready: $*"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      sed 's/^/  | /' "$logf" >&2
      fail "timeout: $mnt/$fname did not appear within 20 s: $*"
    fi
    sleep 0.1
  done
  S3DISK_PID=$pid
  S3DISK_LOG=$logf
}

# stop_s3disk MNT: unmounts MNT and waits (60 s) for its daemon to exit (it flushes and removes
# the mount token first). The test fails if the daemon had to be killed, exited non-zero, or
# logged an ERROR/WARNING the test did not declare (see expect_log).
stop_s3disk() {
  local mnt=$1 tries=0 rc=0
  local pid=${S3DISK_PIDS[$mnt]:-} logf=${S3DISK_LOGS[$mnt]:-}
  [ -n "$pid" ] || fail "stop_s3disk: no daemon started on $mnt"
  log "stop: $mnt"
  until fusermount3 -u "$mnt" 2>"$WORK/fusermount.err"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 50 ]; then
      cat "$WORK/fusermount.err" >&2
      fail "cannot unmount $mnt"
    fi
    sleep 0.2
  done
  local deadline=$((SECONDS + 60))
  while proc_alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      unset "S3DISK_PIDS[$mnt]"
      sed 's/^/  | /' "$logf" >&2
      fail "s3disk (pid $pid) did not exit within 60 s of the unmount and was killed"
    fi
    sleep 0.1
  done
  wait "$pid" || rc=$?
  unset "S3DISK_PIDS[$mnt]"
  if [ "$rc" -ne 0 ]; then
    sed 's/^/  | /' "$logf" >&2
    fail "s3disk exited with status $rc after unmounting $mnt"
  fi
  check_log "$logf"
}

# kill_s3disk MNT: simulates a crash (kill -9, then a lazy unmount of the dead mount). The
# test declared this, so it is not a failure.
kill_s3disk() {
  local mnt=$1
  local pid=${S3DISK_PIDS[$mnt]:-}
  [ -n "$pid" ] || fail "kill_s3disk: no daemon started on $mnt"
  log "kill -9 the daemon of $mnt (pid $pid)"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  unset "S3DISK_PIDS[$mnt]"
  fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  ! is_mounted "$mnt" || fail "the dead mount $mnt is still mounted"
}

# fsck_clean DEV [MESSAGE]: fails the test (with MESSAGE) unless fsck.ext4 -n -f finds the
# file system on DEV clean; fsck's report is printed on failure.
fsck_clean() {
  fsck.ext4 -n -f "$1" >"$WORK/fsck.out" 2>&1 || {
    cat "$WORK/fsck.out" >&2
    fail "${2:-fsck.ext4 -n -f reports problems}"
  }
}

# What the journal's counters are called (the regexes journal_stat takes): closed epochs not
# yet in the bucket; the times a writer waited for room in the ring; fsyncs (flushes) served.
JOURNAL_PENDING='epochs.*pending|pending.*epochs'
JOURNAL_FULL_WAITS='full.*wait|wait.*full'
JOURNAL_FSYNCS='^journal_(fsyncs|fsync_count|flushes)$'

# journal_stat FILE REGEX: the value of the one line of the stats FILE whose name starts with
# journal_ and matches REGEX (awk). Fails, listing the journal's lines, unless exactly one
# matches: the names are matched loosely, so each test says what it needs from a counter.
journal_stat() {
  local lines found
  lines=$(awk '$1 ~ /^journal_/' "$1") || fail "cannot read the stats file $1"
  found=$(printf '%s\n' "$lines" | awk -v re="$2" '$1 ~ re')
  if [ -z "$found" ] || [ "$(printf '%s\n' "$found" | wc -l)" -ne 1 ]; then
    printf '%s\n' "${lines:-(no journal_ lines)}" | sed 's/^/  | /' >&2
    fail "not exactly one journal_ stats line of $1 matches /$2/"
  fi
  printf '%s\n' "$found" | awk '{ print $2 }'
}

# expect_log PATTERN: an ERROR/WARNING line matching PATTERN (grep -E) is expected.
expect_log() { EXPECTED_LOG_PATTERNS+=("$1"); }

# check_log LOGFILE...: fails if a daemon log has ERROR or WARNING lines not declared with
# expect_log.
check_log() {
  local f bad
  for f in "$@"; do
    [ -f "$f" ] || continue
    bad=$(grep -E '\b(ERROR|WARNING)\b' "$f" || true)
    local p
    for p in "${EXPECTED_LOG_PATTERNS[@]}"; do
      [ -n "$bad" ] || break
      bad=$(printf '%s\n' "$bad" | grep -Ev -- "$p" || true)
    done
    if [ -n "$bad" ]; then
      printf '%s\n' "$bad" | sed 's/^/  | /' >&2
      fail "unexpected ERROR/WARNING lines in $f"
    fi
  done
}

# expect_fail CMD... PATTERN: CMD must exit non-zero (within 60 s) and its stderr must match
# PATTERN (grep -E). Its stderr is left in $EXPECT_ERR for more checks.
expect_fail() {
  [ $# -ge 2 ] || fail "expect_fail: usage: expect_fail CMD... PATTERN"
  local pattern=${!#}
  local cmd=("${@:1:$#-1}") rc=0
  EXPECT_ERR=$WORK/expect.$RANDOM.err
  timeout -k 5 60 "${cmd[@]}" >"$WORK/expect.out" 2>"$EXPECT_ERR" || rc=$?
  if [ "$rc" -eq 0 ]; then
    sed 's/^/  | /' "$EXPECT_ERR" >&2
    fail "expected a failure, but it succeeded: ${cmd[*]}"
  fi
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "timed out after 60 s: ${cmd[*]}"
  if ! grep -Eq -- "$pattern" "$EXPECT_ERR"; then
    sed 's/^/  | /' "$EXPECT_ERR" >&2
    fail "stderr of '${cmd[*]}' does not match /$pattern/"
  fi
  log "failed as expected (status $rc): $(head -n 1 "$EXPECT_ERR")"
}

# expect_err_has PATTERN...: every PATTERN (grep -E) matches the last expect_fail's stderr.
expect_err_has() {
  local p
  for p in "$@"; do
    if ! grep -Eq -- "$p" "$EXPECT_ERR"; then
      sed 's/^/  | /' "$EXPECT_ERR" >&2
      fail "the error message does not match /$p/"
    fi
  done
}

# --- loop devices ---------------------------------------------------------------------------

# loop_attach FILE: attaches FILE to a free loop device; sets LOOP_DEV.
loop_attach() {
  LOOP_DEV=$(losetup -f --show "$1") || fail "losetup -f --show $1 failed"
}

# loop_detach DEV: detaches DEV and waits until the kernel released its backing file (so the
# FUSE mount below is no longer busy).
loop_detach() {
  local dev=$1 tries=0
  losetup -d "$dev" || fail "losetup -d $dev failed"
  while [ -n "$(losetup -n -O BACK-FILE "$dev" 2>/dev/null)" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || fail "loop device $dev still attached 10 s after losetup -d"
    sleep 0.1
  done
}

# loop_mount DEV DIR [mount options...]: mounts the ext4 on DEV at DIR.
loop_mount() {
  local dev=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  mount -t ext4 "$@" "$dev" "$dir" || fail "mount $dev $dir failed"
}

# loop_umount DIR: unmounts the ext4 at DIR (the loop device stays attached).
loop_umount() {
  local dir=$1
  umount "$dir" || fail "umount $dir failed"
}

# --- data helpers ---------------------------------------------------------------------------

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

# write_at DEST OFFSET SRC [dd options...]: writes SRC into DEST at byte OFFSET, in place.
write_at() {
  local dest=$1 off=$2 src=$3
  shift 3
  dd if="$src" of="$dest" bs=64k seek="$off" oflag=seek_bytes conv=notrunc status=none "$@"
}

# read_at SRC OFFSET LENGTH: prints LENGTH bytes of SRC from byte OFFSET.
read_at() {
  dd if="$1" bs=64k skip="$2" count="$3" iflag=skip_bytes,count_bytes status=none
}

# zero_at DEST OFFSET LENGTH: writes LENGTH zero bytes into DEST at OFFSET, in place.
zero_at() {
  dd if=/dev/zero of="$1" bs=64k seek="$2" count="$3" oflag=seek_bytes iflag=count_bytes \
    conv=notrunc status=none
}

# same_bytes A B WHAT: fails unless files A and B are identical.
same_bytes() {
  cmp "$1" "$2" >&2 || fail "$3: contents differ"
}

# block_objects BUCKETDIR: lists the block objects (names of exactly 8 lowercase hex digits).
block_objects() {
  find "$1" -maxdepth 1 -type f -name '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]' \
    -printf '%f\n' | LC_ALL=C sort
}

count_objects() { block_objects "$1" | wc -l; }

# has_object BUCKETDIR BLOCKNUM
has_object() { [ -f "$1/$(printf '%08x' "$2")" ]; }

# nonzero_blocks FILE BLOCKSIZE: prints the numbers (decimal) of the non-zero blocks of FILE.
nonzero_blocks() {
  perl -e '
    my ($f, $bs) = @ARGV;
    open(my $h, "<:raw", $f) or die "$f: $!\n";
    for (my $i = 0;; $i++) {
      my $n = read($h, my $buf, $bs);
      die "$f: read: $!\n" unless defined $n;
      last if $n == 0;
      print "$i\n" if $buf =~ /[^\0]/;
    }' "$1" "$2"
}

# snapshot_dir DIR: prints a listing of DIR (type and path of every entry) and the sha256 of
# every file, to compare a bucket directory before and after.
snapshot_dir() {
  (
    cd "$1"
    find . -printf '%y %p\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
  )
}

# --- set-up and tear-down -------------------------------------------------------------------

cleanup() {
  local rc=$? m dev pid hook leftover=0
  set +e
  trap - EXIT
  exec 1>&"$SAVED_STDOUT" 2>&"$SAVED_STDERR" # an exit inside a redirected block keeps no file open
  # 1. Non-FUSE mounts under $WORK (ext4 on loop, tmpfs), deepest first.
  for m in $(awk -v w="$WORK/" 'index($2, w) == 1 && $3 !~ /^fuse/ { print $2 }' \
    /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  # 2. Loop devices whose backing file lives under $WORK (usually $MNT/file).
  while read -r dev back; do
    case $back in "$WORK"/*) losetup -d "$dev" ;; esac
  done < <(losetup -l -n -O NAME,BACK-FILE 2>/dev/null)
  # 3. FUSE mounts under $WORK.
  for m in $(awk -v w="$WORK/" 'index($2, w) == 1 && $3 ~ /^fuse/ { print $2 }' \
    /proc/self/mounts | sort -r); do
    fusermount3 -u "$m" 2>/dev/null || { sleep 1; fusermount3 -u "$m" 2>/dev/null; } ||
      fusermount3 -u -z "$m"
  done
  # 4. Daemons still running: ours (foreground children) and any that daemonized by mistake
  #    (found by the unique $WORK in their command line). Give them 20 s, then kill.
  local pids=("${S3DISK_PIDS[@]}")
  for pid in $(grep -lsF -- "$WORK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] || continue
    case $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") in
      "$S3DISK "*) pids+=("$pid") ;;
    esac
  done
  local deadline=$((SECONDS + 20))
  for pid in "${pids[@]}"; do
    while proc_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if proc_alive "$pid"; then
      printf '%s: FAIL: s3disk pid %s was still running at the end and was killed\n' \
        "$TEST_NAME" "$pid" >&2
      kill -9 "$pid"
      leftover=1
    fi
    wait "$pid" 2>/dev/null
  done
  if [ "$leftover" -eq 1 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; }; then rc=1; fi
  if [ -e "$WORK/.failed" ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; }; then
    printf '%s: FAIL: a check failed in a subshell (see FAIL above)\n' "$TEST_NAME" >&2
    rc=1
  fi
  # 5. Servers the test started (s3rver, proxies): stopped only now, after the daemons that
  #    talk to them have flushed and exited.
  for hook in "${CLEANUP_HOOKS[@]}"; do "$hook"; done
  # 6. The work directory, unless something is still mounted in it.
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    if awk -v w="$WORK/" 'index($2, w) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
      printf '%s: WARNING: mounts remain under %s; not removing it\n' "$TEST_NAME" "$WORK" >&2
    elif [ "$rc" -ne 0 ] && [ -n "${KEEP_WORK:-}" ]; then
      printf '%s: keeping %s\n' "$TEST_NAME" "$WORK" >&2
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  exit "$rc"
}

# Functions cleanup calls after the mounts and daemons are gone (helpers append to it).
CLEANUP_HOOKS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3disk-$TEST_NAME.XXXXXX")
WORK=$(cd "$WORK" && pwd -P)
exec {SAVED_STDOUT}>&1 {SAVED_STDERR}>&2
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$S3DISK" ] || fail "the binary under test is missing: S3DISK=$S3DISK"
