#!/usr/bin/env bash
# tests/ceph/rgw.sh: a throwaway single-node Ceph cluster with the RADOS Gateway (S3) on
# 127.0.0.1, from Debian's packages (radosgw, ceph-mon, ceph-osd). No disks: one monitor, one
# OSD on memstore (objects in memory, at most RGW_MEMSTORE_BYTES, default 2 GiB), pools of one
# replica, no manager, no authentication inside the cluster. RGW itself checks V2 and V4
# signatures like AWS.
#
#   tests/ceph/rgw.sh start DIR   start it, with everything under DIR (made empty); prints
#                                 the S3 endpoint and keys and writes them to DIR/env as
#                                 RGW_URL=, RGW_ACCESS_ID=, RGW_SECRET= lines
#   tests/ceph/rgw.sh stop DIR    stop it and remove DIR
#
# Try s3disk on it (no account needed):
#   tests/ceph/rgw.sh start /tmp/rgw && . /tmp/rgw/env
#   curl --aws-sigv4 aws:amz:us-east-1:s3 --user "$RGW_ACCESS_ID:$RGW_SECRET" \
#     -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "${RGW_URL}mybucket"
#   printf '%s:%s\n' "$RGW_ACCESS_ID" "$RGW_SECRET" >~/.s3disk_passwd; chmod 600 ~/.s3disk_passwd
#   s3disk --baseURL="$RGW_URL" --accessFile=~/.s3disk_passwd --size=1g mybucket /mnt/s3disk
set -euo pipefail

RGW_ACCESS_ID=${RGW_ACCESS_ID:-S3DISKTESTKEY}
RGW_SECRET=${RGW_SECRET:-s3disk-test-secret}

die() {
  printf 'rgw.sh: %s\n' "$*" >&2
  exit 1
}

# free_port: a TCP port that was free a moment ago on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
  local dir=$1 fsid=$2 mon_port=$3 rgw_port=$4
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = 127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks for the "secure" mode by default, which needs cephx.
ms mon client mode = crc
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon data = $dir/mon
mon allow pool size one = true
# Each pool RGW creates waits for a Paxos proposal: 1 s by default.
paxos propose interval = 0.01
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-2147483648}
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
EOF
}

# wait_http URL: until anything answers HTTP there (at most 30 s).
wait_http() {
  local i
  for i in $(seq 300); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# start_once DIR: one try at the cluster in DIR (made empty); on failure says why in WHY and
# returns 1, leaving to the caller what it started.
start_once() {
  local dir=$1 fsid mon_port rgw_port conf=$1/ceph.conf
  mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  [ "$mon_port" != "$rgw_port" ] || { WHY="the same free port twice"; return 1; }
  write_conf "$dir" "$fsid" "$mon_port" "$rgw_port"
  monmaptool --create --add a "127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null &&
    ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" &&
    ceph-mon -c "$conf" -i a || { WHY="ceph-mon did not start (see $dir/log/mon.a.log)"; return 1; }
  ceph -c "$conf" --connect-timeout 30 osd create >/dev/null &&
    ceph-osd -c "$conf" -i 0 --mkfs 2>"$dir/log/osd-mkfs.err" &&
    ceph-osd -c "$conf" -i 0 2>/dev/null &&
    ceph -c "$conf" osd crush add osd.0 1 root=default host=localhost >/dev/null 2>&1 ||
    { WHY="the OSD did not start (see $dir/log/osd.0.log, $dir/log/osd-mkfs.err)"; return 1; }
  radosgw-admin -c "$conf" user create --uid=s3disk-test --display-name=s3disk-test \
    --access-key="$RGW_ACCESS_ID" --secret="$RGW_SECRET" >"$dir/log/user.json" ||
    { WHY="radosgw-admin user create failed"; return 1; }
  radosgw -c "$conf" -n client.rgw || { WHY="radosgw did not start"; return 1; }
  # Answering, and ours: a radosgw that could not bind its port exits.
  wait_http "http://127.0.0.1:$rgw_port/" && alive "$dir" client.rgw ||
    { WHY="radosgw does not answer on port $rgw_port (see $dir/log/client.rgw.log)"; return 1; }
  {
    printf 'RGW_URL=http://127.0.0.1:%s/\n' "$rgw_port"
    printf 'RGW_ACCESS_ID=%s\n' "$RGW_ACCESS_ID"
    printf 'RGW_SECRET=%s\n' "$RGW_SECRET"
  } >"$dir/env"
}

start() {
  local dir=$1 try
  for cmd in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph python3 curl; do
    command -v "$cmd" >/dev/null 2>&1 ||
      die "$cmd is not installed (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd)"
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # A cluster of an earlier start in DIR: stopped, not orphaned.
  [ ! -f "$dir/ceph.conf" ] || stop "$dir"
  for try in 1 2 3; do
    rm -rf "$dir"
    if start_once "$dir"; then
      cat "$dir/env"
      return 0
    fi
    [ ! -f "$dir/ceph.conf" ] || stop "$dir"
  done
  die "no cluster after 3 tries: $WHY"
}

# daemon_pid DIR NAME: the pid of that daemon of the cluster in DIR, if it runs (its command
# line names DIR: a stale pid file's pid may be another process by now).
daemon_pid() {
  local pidf=$1/run/$2.pid pid
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/ceph.conf" || return 1
  printf '%s\n' "$pid"
}

alive() { daemon_pid "$1" "$2" >/dev/null; }

# stop_daemon DIR NAME: kills the daemon and waits (10 s at most) until it is gone. The
# cluster holds nothing worth keeping, and each daemon takes about 2 s to stop on SIGTERM.
stop_daemon() {
  local pid i
  pid=$(daemon_pid "$1" "$2") || return 0
  kill -KILL "$pid" 2>/dev/null || return 0
  # Gone, or a zombie that init has not reaped yet (some reap every few seconds).
  for i in $(seq 500); do
    [ -e "/proc/$pid" ] && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 0
    sleep 0.02
  done
  printf 'rgw.sh: %s (pid %s) did not die\n' "$2" "$pid" >&2
}

stop() {
  local dir=$1
  [ -f "$dir/ceph.conf" ] || [ ! -e "$dir" ] || die "$dir holds no cluster of rgw.sh"
  # Clients first: a monitor gone before the OSD, or an OSD before RGW, leaves them waiting.
  stop_daemon "$dir" client.rgw
  stop_daemon "$dir" osd.0
  stop_daemon "$dir" mon.a
  rm -rf "$dir"
}

case ${1:-} in
  start) [ $# -eq 2 ] || die "usage: rgw.sh start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: rgw.sh stop DIR"; stop "$2" ;;
  *) die "usage: rgw.sh start DIR | rgw.sh stop DIR" ;;
esac
