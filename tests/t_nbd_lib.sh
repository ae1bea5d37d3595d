# shellcheck shell=bash
# Helpers for the NBD tests (tests/t_nbd_*.sh), sourced after functions.sh:
#
#   . "$(dirname "$0")/functions.sh"
#   . "$(dirname "$0")/t_nbd_lib.sh"
#
# start_nbd runs `s3disk --nbd -f --socket=SOCKET ...` in the background (the launcher starts
# nbdkit with the plugin built next to $S3DISK); stop_nbd stops it with SIGTERM and fails on
# a non-zero exit, a leftover nbdkit or an unexpected ERROR/WARNING line. The clients are
# libnbd's userspace tools (nbdinfo, nbdcopy, nbdfuse): no kernel NBD module is needed.

NBD_PLUGIN=$(dirname "$S3DISK")/s3disk.so
NBD_PID=
NBD_LOG=
NBD_SOCK=

require_nbd() {
  require_cmd nbdkit nbdinfo nbdcopy
  [ -f "$NBD_PLUGIN" ] ||
    skip_or_fail "the nbdkit plugin $NBD_PLUGIN was not built (install nbdkit-plugin-dev)"
}

nbd_uri() { printf 'nbd+unix:///?socket=%s' "$1"; }

# start_nbd SOCKET ARGS...: serves ARGS (options and BUCKET) on SOCKET; waits (30 s) for the
# launcher's "serving ... on SOCKET" line. Sets NBD_PID, NBD_LOG, NBD_SOCK.
start_nbd() {
  local sock=$1 rc
  shift
  S3DISK_COUNT=$((S3DISK_COUNT + 1))
  NBD_LOG=$WORK/s3disk.$S3DISK_COUNT.log
  NBD_SOCK=$sock
  log "start: s3disk --nbd -f --socket=$sock $*"
  "$S3DISK" --nbd -f --socket="$sock" "$@" >"$NBD_LOG" 2>&1 &
  NBD_PID=$!
  S3DISK_PIDS["nbd:$sock"]=$NBD_PID
  S3DISK_LOGS["nbd:$sock"]=$NBD_LOG
  local deadline=$((SECONDS + 30))
  until grep -qs "nbd: serving .* on $sock" "$NBD_LOG"; do
    if ! proc_alive "$NBD_PID"; then
      rc=0
      wait "$NBD_PID" || rc=$?
      unset "S3DISK_PIDS[nbd:$sock]"
      sed 's/^/  | /' "$NBD_LOG" >&2
      fail "s3disk --nbd exited with status $rc before serving: $*"
    fi
    [ "$SECONDS" -lt "$deadline" ] || {
      sed 's/^/  | /' "$NBD_LOG" >&2
      fail "timeout: s3disk --nbd did not serve on $sock within 30 s"
    }
    sleep 0.1
  done
}

# nbdkit_pids SOCKET: the nbdkit processes serving SOCKET.
nbdkit_pids() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    case $(tr '\0' ' ' 2>/dev/null <"$f") in
      *nbdkit*"--unix $1 "*) printf '%s\n' "$pid" ;;
    esac
  done
}

# stop_nbd: SIGTERM to the launcher; it must exit 0 within 60 s, leave no nbdkit and no
# socket behind, and log no unexpected ERROR/WARNING.
stop_nbd() {
  local pid=$NBD_PID rc=0
  [ -n "$pid" ] || fail "stop_nbd: nothing started"
  log "stop: s3disk --nbd (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while proc_alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      sed 's/^/  | /' "$NBD_LOG" >&2
      fail "s3disk --nbd (pid $pid) did not exit within 60 s of SIGTERM and was killed"
    fi
    sleep 0.1
  done
  wait "$pid" || rc=$?
  unset "S3DISK_PIDS[nbd:$NBD_SOCK]"
  NBD_PID=
  if [ "$rc" -ne 0 ]; then
    sed 's/^/  | /' "$NBD_LOG" >&2
    fail "s3disk --nbd exited with status $rc"
  fi
  [ -z "$(nbdkit_pids "$NBD_SOCK")" ] || fail "nbdkit still runs after s3disk --nbd exited"
  [ ! -e "$NBD_SOCK" ] || fail "the socket $NBD_SOCK was left behind"
  grep -q "nbd: stopped serving" "$NBD_LOG" || fail "the plugin did not log its clean stop"
  check_log "$NBD_LOG"
}

# stat_value FILE NAME: the value of counter NAME in a stats file.
stat_value() { awk -v n="$2" '$1 == n { print $2; found = 1 } END { exit !found }' "$1"; }

# On failure, stop a launcher still running before functions.sh's cleanup (which only waits):
# unmount what sits on top of it first, lazily.
nbd_cleanup() {
  local rc=$? m
  set +e # strict mode would end this trap at `(exit "$rc")`, before cleanup
  if [ -n "$NBD_PID" ] && proc_alive "$NBD_PID"; then
    for m in $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do
      umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || true
    done
    kill -TERM "$NBD_PID" 2>/dev/null || true
  fi
  (exit "$rc")
  cleanup
}
trap nbd_cleanup EXIT
