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

start() {
  local dir=$1 fsid mon_port rgw_port conf
  for cmd in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph python3 curl; do
    command -v "$cmd" >/dev/null 2>&1 ||
      die "$cmd is not installed (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd)"
  done
  rm -rf "$dir"
  mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
  dir=$(cd "$dir" && pwd)
  conf=$dir/ceph.conf
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  write_conf "$dir" "$fsid" "$mon_port" "$rgw_port"
  monmaptool --create --add a "127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" || die "ceph-mon --mkfs failed"
  ceph-mon -c "$conf" -i a || die "ceph-mon did not start (see $dir/log/mon.a.log)"
  ceph -c "$conf" --connect-timeout 30 osd create >/dev/null || die "ceph osd create failed"
  ceph-osd -c "$conf" -i 0 --mkfs 2>"$dir/log/osd-mkfs.err" ||
    die "ceph-osd --mkfs failed: $(tail -3 "$dir/log/osd-mkfs.err")"
  ceph-osd -c "$conf" -i 0 2>/dev/null || die "ceph-osd did not start (see $dir/log/osd.0.log)"
  ceph -c "$conf" osd crush add osd.0 1 root=default host=localhost >/dev/null 2>&1 ||
    die "ceph osd crush add failed"
  radosgw-admin -c "$conf" user create --uid=s3disk-test --display-name=s3disk-test \
    --access-key="$RGW_ACCESS_ID" --secret="$RGW_SECRET" >"$dir/log/user.json" ||
    die "radosgw-admin user create failed"
  radosgw -c "$conf" -n client.rgw || die "radosgw did not start"
  wait_http "http://127.0.0.1:$rgw_port/" ||
    die "radosgw does not answer on port $rgw_port (see $dir/log/client.rgw.log)"
  {
    printf 'RGW_URL=http://127.0.0.1:%s/\n' "$rgw_port"
    printf 'RGW_ACCESS_ID=%s\n' "$RGW_ACCESS_ID"
    printf 'RGW_SECRET=%s\n' "$RGW_SECRET"
  } >"$dir/env"
  cat "$dir/env"
}

# stop_daemon DIR NAME: kills the daemon of that pid file and waits until it is gone. The
# cluster holds nothing worth keeping, and each daemon takes about 2 s to stop on SIGTERM.
stop_daemon() {
  local pidf=$1/run/$2.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill -KILL "$pid" 2>/dev/null || return 0
  # Gone, or a zombie that init has not reaped yet (some reap every few seconds).
  while [ -e "/proc/$pid" ] && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
    sleep 0.02
  done
}

stop() {
  local dir=$1
  [ -f "$dir/ceph.conf" ] || die "$dir holds no cluster of rgw.sh"
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
