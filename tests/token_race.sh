# shellcheck shell=bash
# race NAME ARGS... for the mount token tests (t_token_race.sh, t_s3_token_race.sh). Source
# after functions.sh and set N, the number of mounts started at once.

# race NAME ARGS...: starts N mounts of ARGS (options and the bucket) on $WORK/NAME.1..N at
# once, waits until each is either mounted or gone, and checks that exactly one is mounted.
# Sets WINNER to the mount point that serves; the losers' stderr is in $WORK/NAME.I.log.
race() {
  local name=$1 i pid rc mnt won=0 deadline
  shift
  local pids=()
  for i in $(seq "$N"); do mkdir -p "$WORK/$name.$i"; done
  log "$N mounts of one bucket at once: $*"
  for i in $(seq "$N"); do
    "$S3DISK" -f "$@" "$WORK/$name.$i" >"$WORK/$name.$i.log" 2>&1 &
    pids+=($!)
    S3DISK_PIDS[$WORK/$name.$i]=$!
    S3DISK_LOGS[$WORK/$name.$i]=$WORK/$name.$i.log
  done
  deadline=$((SECONDS + 60))
  for i in $(seq "$N"); do
    pid=${pids[$((i - 1))]}
    mnt=$WORK/$name.$i
    until ! proc_alive "$pid" || { is_mounted "$mnt" && timeout -k 2 5 test -e "$mnt/file"; }; do
      [ "$SECONDS" -lt "$deadline" ] || fail "mount $i neither served nor exited within 60 s"
      sleep 0.1
    done
  done
  # A loser may still be on its way out: give every one a moment, then count.
  sleep 2
  WINNER=
  for i in $(seq "$N"); do
    pid=${pids[$((i - 1))]}
    mnt=$WORK/$name.$i
    if proc_alive "$pid"; then
      is_mounted "$mnt" || fail "mount $i is running but not mounted"
      won=$((won + 1))
      WINNER=$mnt
      S3DISK_PID=$pid
      S3DISK_LOG=$WORK/$name.$i.log
    else
      rc=0
      wait "$pid" || rc=$?
      unset "S3DISK_PIDS[$mnt]"
      ! is_mounted "$mnt" || fail "mount $i exited but is still mounted"
      [ "$rc" -eq 1 ] || fail "losing mount $i exited with status $rc (expected 1)"
      grep -Eq 'already mounted|mounted by another process' "$WORK/$name.$i.log" || {
        sed 's/^/  | /' "$WORK/$name.$i.log" >&2
        fail "losing mount $i does not say the bucket is mounted"
      }
    fi
  done
  [ "$won" -eq 1 ] || fail "$won of $N simultaneous mounts of one bucket serve (expected 1)"
  log "exactly one of $N serves: $WINNER"
}
