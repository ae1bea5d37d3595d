# shellcheck shell=bash disable=SC2034
# Helpers for scripts/bench: the S3 server, the daemon under test, the ext4 on a loop device,
# timing and the raw results. Source it after setting WORK, LOGDIR, RAW, BENCH_D, S3RVER_MOD,
# BUCKET, SERVER (s3rver or ceph), CEPH_BYTES, S3DISK_BIN, REF_BIN and the CACHE_* arrays.
# Only one server and one daemon run at a time; their state is in the SRV_* and D_* globals.
# cleanup (the EXIT trap) undoes all of it.

SRV_PID='' SRV_DIR='' SRV_PORT='' SRV_COUNTS='' SRV_OUT='' SRV_ACCESS_ID='' SRV_SECRET=''
SRV_PASSWD=$WORK/passwd # both programs' --accessFile, for the running server
JOURNAL_CACHE=$WORK/journal.cache # the journal target's --blockCacheFile (and .journal)
D_PID="" D_TPID="" D_MNT="" D_LOG="" D_CPUFILE="" D_CPU_TOTAL="" D_READY_S=""
LOOP='' DISK='' IMG=''
CLK_TCK=$(getconf CLK_TCK)

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '%s WARNING: %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$RESULTS/notes.txt" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}

now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic through awk, printed with 3 decimals.
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
# record TARGET RUN METRIC VALUE: one raw figure.
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"
  say "  $1 run $2: $3 = $4"
}

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

# size_bytes SIZE: 128k, 1g, 1t (powers of 1024) -> bytes.
size_bytes() {
  local n=${1%[kKmMgGtT]} u=${1: -1} m=1
  case $u in
    k | K) m=1024 ;; m | M) m=$((1024 ** 2)) ;; g | G) m=$((1024 ** 3)) ;; t | T) m=$((1024 ** 4)) ;;
  esac
  echo $((n * m))
}

# ---- the S3 server --------------------------------------------------------------------------

# shellcheck source=scripts/bench.d/ceph.sh
. "$BENCH_D/ceph.sh"

# server_start DIR NAME: a fresh server of the kind SERVER, with the bucket, on a free port:
# s3rver keeps its objects in DIR, Ceph its cluster. Writes SRV_PASSWD (ID:SECRET, mode 600).
server_start() {
  if [ "$SERVER" = ceph ]; then
    ceph_start "$@"
  else
    s3rver_start "$@"
  fi
  (umask 077 && printf '%s:%s\n' "$SRV_ACCESS_ID" "$SRV_SECRET" >"$SRV_PASSWD")
}

# server_quiet: the server stops logging requests, where none are counted (only Ceph logs).
server_quiet() { [ "$SERVER" != ceph ] || ceph_quiet; }

# s3rver_start DATA_DIR NAME: a fresh s3rver (scripts/bench.d/s3server.js) on a free port.
s3rver_start() {
  local data=$1 name=$2 i
  SRV_ACCESS_ID=S3RVER SRV_SECRET=S3RVER
  mkdir -p "$data"
  SRV_COUNTS=$LOGDIR/$name.counts SRV_OUT=$LOGDIR/$name.s3server.log
  # s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (node 17+)
  # only has in its legacy provider: without it, every truncated V2 listing is a 500.
  node --openssl-legacy-provider "$BENCH_D/s3server.js" "$S3RVER_MOD" "$data" "$BUCKET" \
    "$SRV_COUNTS" >"$SRV_OUT" 2>&1 &
  SRV_PID=$!
  for i in $(seq 300); do
    # The log may not exist yet: under set -e a failing sed here would end the whole run.
    SRV_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$SRV_OUT" 2>/dev/null || true)
    [ -n "$SRV_PORT" ] && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "s3rver did not start: $(tail -5 "$SRV_OUT")"
}

# server_counts: prints the server's request counts now ("GET=N LIST=N PUT=N ...").
server_counts() {
  local old new i
  [ "$SERVER" != ceph ] || { ceph_counts; return; }
  old=$(sed -n 's/^seq=\([0-9]*\).*/\1/p' "$SRV_COUNTS")
  kill -USR2 "$SRV_PID"
  for i in $(seq 100); do
    new=$(sed -n 's/^seq=\([0-9]*\).*/\1/p' "$SRV_COUNTS" 2>/dev/null || true)
    if [ -n "$new" ] && [ "$new" != "$old" ]; then
      sed 's/^seq=[0-9]* //' "$SRV_COUNTS"
      return 0
    fi
    sleep 0.05
  done
  die "s3rver did not report its request counts"
}

# count_of KIND COUNTS: the number for KIND in a server_counts line.
count_of() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

server_stop() {
  if [ -n "$SRV_DIR" ]; then
    ceph_stop
  elif [ -n "$SRV_PID" ]; then
    kill -TERM "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
  fi
  rm -f "$SRV_PASSWD"
  SRV_PID='' SRV_DIR='' SRV_PORT=''
}

# s3load ARGS...: scripts/bench.d/s3load.js on the running server, with its keys.
s3load() {
  S3_ACCESS_ID=$SRV_ACCESS_ID S3_SECRET=$SRV_SECRET node "$BENCH_D/s3load.js" "$SRV_PORT" "$BUCKET" "$@"
}

# ---- the daemon -----------------------------------------------------------------------------

# daemon_cmd TARGET MNT ARGS...: the command line of the daemon for TARGET, into DCMD.
#   s3disk, reference: s3disk / s3backer against the running server; journal: s3disk there
#   with its fsyncs durable in a journal next to a cache file in the work directory; mem,
#   file: s3disk alone.
daemon_cmd() {
  local target=$1 mnt=$2
  shift 2
  local s3=(--baseURL="http://127.0.0.1:$SRV_PORT/" --accessFile="$SRV_PASSWD" --listBlocks)
  case $target in
    # s3backer 1.5.4 turns on virtual-host style with --region, which s3rver on an IP address
    # cannot serve; its default region is us-east-1 anyway.
    # Upstream s3backer 2.x takes --size only with a unit suffix ("--size=5520512k").
    reference) DCMD=("$REF_BIN" -f "${s3[@]}" "${CACHE_REF[@]}" "${@/#--size=*/--size=$(ref_size "$@")}" "$BUCKET" "$mnt") ;;
    s3disk) DCMD=("$S3DISK_BIN" -f "${s3[@]}" --region=us-east-1 "${CACHE_S3DISK[@]}" "$@" "$BUCKET" "$mnt") ;;
    journal) DCMD=("$S3DISK_BIN" -f "${s3[@]}" --region=us-east-1 "${CACHE_S3DISK[@]}" \
      --blockCacheFile="$JOURNAL_CACHE" --fsyncTo=journal "$@" "$BUCKET" "$mnt") ;;
    mem) DCMD=("$S3DISK_BIN" -f "${CACHE_S3DISK[@]}" "$@" mem: "$mnt") ;;
    file) DCMD=("$S3DISK_BIN" -f "${CACHE_S3DISK[@]}" "$@" "file://$WORK/file-bucket" "$mnt") ;;
    *) die "unknown target $target" ;;
  esac
}

# ref_size ARGS...: the --size among ARGS in KiB with its suffix, for the reference.
ref_size() {
  local a
  for a in "$@"; do
    case $a in --size=*) echo "$(($(size_bytes "${a#--size=}") / 1024))k" ;; esac
  done
}

# daemon_start TARGET NAME ARGS...: mounts TARGET on $WORK/fuse in the foreground (in the
# background of this shell) under /usr/bin/time, which reports the daemon's whole CPU time
# when it exits. Waits until the image is there AND the bucket listing is done (s3backer lists
# before it mounts; s3disk mounts first and lists after). Sets D_READY_S (seconds it took).
daemon_start() {
  local target=$1 name=$2 t0
  shift 2
  D_MNT=$WORK/fuse D_LOG=$LOGDIR/$name.daemon.log D_CPUFILE=$LOGDIR/$name.cpu
  mkdir -p "$D_MNT"
  # Each journal daemon starts without a cache file: the last one stopped cleanly (its journal
  # is empty), and a kept file would serve B2's "cold" reads from local disk.
  [ "$target" != journal ] || rm -f "$JOURNAL_CACHE" "$JOURNAL_CACHE.journal"
  daemon_cmd "$target" "$D_MNT" "$@"
  printf '%s\n' "${DCMD[*]}" >"$D_LOG"
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$D_CPUFILE" "${DCMD[@]}" >>"$D_LOG" 2>&1 &
  D_TPID=$! D_PID=''
  local deadline=$((SECONDS + MOUNT_TIMEOUT_S))
  # (Cheapest test first, and a 50 ms poll: the polling must not load the machine.)
  # (s3backer 1.5 says "found N non-zero blocks", 2.x "non-zero block survey completed".)
  until grep -Eq 'survey found|found [0-9]+ non-zero blocks|survey completed|survey failed' "$D_LOG" &&
    [ -n "$D_PID" ] && is_mounted "$D_MNT" && timeout 5 test -e "$D_MNT/file"; do
    [ -n "$D_PID" ] || D_PID=$(pgrep -P "$D_TPID" | head -1 || true)
    kill -0 "$D_TPID" 2>/dev/null || { sed 's/^/  | /' "$D_LOG" >&2; die "$name: the daemon exited before it was ready"; }
    [ "$SECONDS" -lt "$deadline" ] || { sed 's/^/  | /' "$D_LOG" >&2; die "$name: not ready within $MOUNT_TIMEOUT_S s"; }
    sleep 0.05
  done
  D_READY_S=$(calc "$(now) - $t0")
  IMG=$D_MNT/file
  if grep -q 'survey failed' "$D_LOG"; then warn "$name: the daemon's bucket listing failed (see $D_LOG)"; fi
}

# daemon_cpu: user + system CPU seconds of the running daemon so far.
daemon_cpu() { awk -v t="$CLK_TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$D_PID/stat"; }
# daemon_hwm_mib: the daemon's peak resident memory so far (VmHWM), in MiB.
daemon_hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$D_PID/status"; }

# daemon_stop: unmounts the FUSE mount and waits for the daemon to flush and exit; sets
# D_CPU_TOTAL (its whole CPU time, from /usr/bin/time).
daemon_stop() {
  local tries=0 rc=0
  [ -n "$D_TPID" ] || return 0
  until fusermount3 -u "$D_MNT" 2>>"$LOGDIR/fusermount.err"; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "cannot unmount $D_MNT"
    sleep 0.1
  done
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$D_TPID" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "the daemon (pid $D_PID) did not exit within $STOP_TIMEOUT_S s of the unmount; killed"
      kill -9 "$D_PID" 2>/dev/null || true
    fi
    sleep 0.05
  done
  wait "$D_TPID" || rc=$?
  [ "$rc" -eq 0 ] || warn "the daemon exited with status $rc (log: $D_LOG)"
  D_CPU_TOTAL=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { s = $1 + $2 } END { printf "%.3f", s }' "$D_CPUFILE")
  D_TPID='' D_PID=''
}

# ---- the ext4 on a loop device -------------------------------------------------------------
# The image is $IMG: the daemon's file, or for the local target a sparse file on local disk.

# local_image BYTES: a fresh sparse image in the work directory (the physical limit: the same
# ext4 on a loop device, with no FUSE and no network under it).
local_image() {
  IMG=$WORK/local.img
  rm -f "$IMG"
  truncate -s "$1" "$IMG"
}

disk_mkfs() { mkfs.ext4 -q -F "$@" "$IMG" >>"$LOGDIR/mkfs.log" 2>&1 || die "mkfs.ext4 failed (see $LOGDIR/mkfs.log)"; }

# disk_mount [LOSETUP_OPTION...]: the image on a loop device, its ext4 mounted at $DISK.
disk_mount() {
  DISK=$WORK/disk
  mkdir -p "$DISK"
  LOOP=$(losetup -f --show "$@" "$IMG") || die "losetup $* failed"
  mount "$LOOP" "$DISK" || die "cannot mount $LOOP"
}

disk_umount() {
  [ -n "$LOOP" ] || return 0
  is_mounted "$DISK" && { umount "$DISK" || die "cannot unmount $DISK"; }
  losetup -d "$LOOP" 2>/dev/null || true
  LOOP=''
}

drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# ---- teardown (EXIT trap) ------------------------------------------------------------------

cleanup() {
  local rc=$?
  set +e
  if [ -n "$LOOP" ]; then
    is_mounted "$DISK" && umount "$DISK" 2>/dev/null
    is_mounted "$DISK" && umount -l "$DISK" 2>/dev/null
    losetup -d "$LOOP" 2>/dev/null
  fi
  if [ -n "$D_TPID" ]; then
    fusermount3 -u "$D_MNT" 2>/dev/null
    local i
    for i in $(seq 100); do
      kill -0 "$D_TPID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$D_TPID" 2>/dev/null; then
      [ -n "$D_PID" ] && kill -9 "$D_PID" 2>/dev/null
      fusermount3 -u -z "$D_MNT" 2>/dev/null
    fi
    wait "$D_TPID" 2>/dev/null
  fi
  server_stop
  [ -n "${SRV_WORK:-}" ] && [ "${KEEP_WORK:-0}" != 1 ] && rm -rf "$SRV_WORK"
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ] && [ "${KEEP_WORK:-0}" != 1 ]; then
    is_mounted "$WORK/fuse" || is_mounted "$WORK/disk" || rm -rf "$WORK"
  fi
  exit "$rc"
}
