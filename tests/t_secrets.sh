#!/usr/bin/env bash
# t_secrets: the keys and the password stay out of core dumps. The FUSE daemon, the --nbd
# launcher and nbdkit serving the plugin are not dumpable unless -d; with -d they are (a
# debugger may attach). The daemons here hold a password (--encrypt --passwordFile).
#
# How it is seen: the files under /proc/PID (not the directory itself) of a process that is
# not dumpable belong to root. s3disk runs here as root but with group nogroup (setpriv), so
# the group of /proc/PID/status is nogroup when it is dumpable and root when it is not.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/t_nbd_lib.sh"
require_root
require_nbd
require_cmd setpriv

GID=65534
MNT=$WORK/mnt
mkdir -p "$MNT"
printf 'secrets-test-password\n' >"$WORK/pw"
chmod 600 "$WORK/pw"
# (--encrypt with its value: the nbd launcher takes a bare --encrypt's next argument as one.)
ENC=(--encrypt=aes-128-cbc --passwordFile="$WORK/pw")

# s3disk with group nogroup: exec keeps the process id that start_s3disk and start_nbd record.
REAL_S3DISK=$S3DISK
S3DISK=$WORK/s3disk-nogroup
printf '#!/bin/sh\nexec setpriv --regid=%s --clear-groups -- "%s" "$@"\n' "$GID" "$REAL_S3DISK" \
  >"$S3DISK"
chmod 755 "$S3DISK"

# dumpable PID: prints 1 if PID is dumpable, 0 if not.
dumpable() {
  local pid=$1 group
  group=$(stat -c %g "/proc/$pid") || fail "no process $pid"
  [ "$group" = "$GID" ] || fail "process $pid runs with group $group, not $GID"
  group=$(stat -c %g "/proc/$pid/status")
  case $group in
    "$GID") echo 1 ;;
    0) echo 0 ;;
    *) fail "/proc/$pid/status has group $group" ;;
  esac
}

# check_dumpable WHAT PID WANT
check_dumpable() {
  local got
  got=$(dumpable "$2")
  [ "$got" = "$3" ] || fail "$1 (pid $2): dumpable is $got, want $3"
  log "$1 (pid $2): dumpable $got, as it should be"
}

log "FUSE daemon"
mkdir -p "$WORK/fuse"
# -o allow_other: the daemon's group is not the test's, which FUSE would otherwise shut out.
start_s3disk -o allow_other "${ENC[@]}" --size=4m --blockSize=64k "file://$WORK/fuse" "$MNT"
check_dumpable "s3disk" "$S3DISK_PID" 0
random_file "$WORK/data" 65536
write_at "$MNT/file" 0 "$WORK/data"
stop_s3disk "$MNT"
start_s3disk -d -o allow_other "${ENC[@]}" "file://$WORK/fuse" "$MNT"
check_dumpable "s3disk -d" "$S3DISK_PID" 1
read_at "$MNT/file" 0 65536 >"$WORK/back"
same_bytes "$WORK/data" "$WORK/back" "read back under -d"
stop_s3disk "$MNT"

log "nbd: the launcher and nbdkit with the plugin"
mkdir -p "$WORK/nbd"
SOCK=$WORK/nbd.sock
start_nbd "$SOCK" "${ENC[@]}" --size=4m --blockSize=64k "file://$WORK/nbd"
check_dumpable "s3disk --nbd" "$NBD_PID" 0
check_dumpable "nbdkit" "$(nbdkit_pids "$SOCK")" 0
stop_nbd
start_nbd "$SOCK" -d "${ENC[@]}" --size=4m --blockSize=64k "file://$WORK/nbd"
check_dumpable "s3disk --nbd -d" "$NBD_PID" 1
check_dumpable "nbdkit, -d" "$(nbdkit_pids "$SOCK")" 1
stop_nbd
log "ok"
