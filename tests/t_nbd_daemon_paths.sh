#!/usr/bin/env bash
# t_nbd_daemon_paths: s3disk --nbd as a daemon (no -f) with relative file options. The daemon
# and its nbdkit run in "/", so --passwordFile, --blockCacheFile, --statsFile and --socket
# must reach them as absolute paths: the password is read, the cache file and the stats file
# are created in the directory s3disk was started from, and what was written reads back.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_nbd
require_cmd cmp

B=$WORK/bucket
mkdir -p "$B" "$WORK/run"
printf 'relative-secret\n' >"$WORK/run/pw"
chmod 600 "$WORK/run/pw"
random_file "$WORK/data" $((8 * 1024 * 1024))

# daemon_pid: the daemonized launcher (not nbdkit) serving $B.
daemon_pid() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    case $(tr '\0' ' ' 2>/dev/null <"$f") in
      "$S3DISK --nbd "*"file://$B ") printf '%s\n' "$pid" ;;
    esac
  done
}

log "start: cd $WORK/run && s3disk --nbd (a daemon) with relative paths"
(cd "$WORK/run" && "$S3DISK" --nbd --socket=nbd.sock --size=64m --blockSize=64k --encrypt \
  --passwordFile=pw --blockCacheFile=cache --statsFile=stats "file://$B") ||
  fail "s3disk --nbd did not start as a daemon with relative paths"
NBD_PID=$(daemon_pid)
[ -n "$NBD_PID" ] || fail "the daemon is not running"
NBD_SOCK=$WORK/run/nbd.sock
[ -S "$NBD_SOCK" ] || fail "no socket at $NBD_SOCK"
nbdcopy "$WORK/data" "$(nbd_uri "$NBD_SOCK")" || fail "nbdcopy to the disk failed"
[ -s "$WORK/run/cache" ] || fail "the cache file is not $WORK/run/cache"
deadline=$((SECONDS + 10))
until [ -f "$WORK/run/stats" ] && [ "$(stat_value "$WORK/run/stats" nbd_writes)" -ge 1 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no stats file counting the writes at $WORK/run/stats"
  sleep 0.2
done

log "stop: SIGTERM to the daemon (pid $NBD_PID)"
kill -TERM "$NBD_PID"
deadline=$((SECONDS + 60))
while proc_alive "$NBD_PID"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the daemon did not exit within 60 s of SIGTERM"
  sleep 0.1
done
NBD_PID=
[ -z "$(nbdkit_pids "$NBD_SOCK")" ] || fail "nbdkit still runs after the daemon exited"
[ ! -e "$NBD_SOCK" ] || fail "the socket was left behind"
[ ! -f "$B/s3backer-mounted" ] || fail "the mount token was left: the stop was not clean"
[ "$(count_objects "$B")" -eq 128 ] || fail "expected 128 objects, found $(count_objects "$B")"

log "read back in the foreground, with the password given by absolute path"
start_nbd "$WORK/fg.sock" --encrypt --passwordFile="$WORK/run/pw" "file://$B"
nbdcopy "$(nbd_uri "$WORK/fg.sock")" "$WORK/back" || fail "nbdcopy from the disk failed"
cmp -n $((8 * 1024 * 1024)) "$WORK/data" "$WORK/back" >&2 || fail "the data read back differs"
stop_nbd
log "ok"
