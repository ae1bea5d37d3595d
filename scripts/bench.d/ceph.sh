# shellcheck shell=bash
# The Ceph RGW server of scripts/bench (--server=ceph), sourced by lib.sh: a throwaway cluster
# of tests/ceph/rgw.sh (one monitor, one OSD on memstore, RGW on 127.0.0.1) per measurement,
# with its objects in memory (at most CEPH_BYTES). Sets the SRV_* globals like s3rver's.

RGW_SH=$REPO_ROOT/tests/ceph/rgw.sh

# ceph_start DIR NAME: a fresh cluster in DIR (made empty), with the bucket created.
ceph_start() {
  local dir=$1 name=$2 code
  SRV_DIR=$dir SRV_OUT=$LOGDIR/$name.rgw.log
  local err=$LOGDIR/$name.rgw-start.err
  RGW_MEMSTORE_BYTES=$CEPH_BYTES "$RGW_SH" start "$dir" >/dev/null 2>"$err" ||
    die "Ceph RGW did not start: $(tail -5 "$err")"
  SRV_URL=$(sed -n 's/^RGW_URL=//p' "$dir/env")
  SRV_ACCESS_ID=$(sed -n 's/^RGW_ACCESS_ID=//p' "$dir/env")
  SRV_SECRET=$(sed -n 's/^RGW_SECRET=//p' "$dir/env")
  SRV_PORT=${SRV_URL##*:} SRV_PORT=${SRV_PORT%/}
  # curl 7.88 signs only the headers it sends; RGW wants x-amz-content-sha256 with V4.
  code=$(curl -s -o "$LOGDIR/$name.bucket.out" -w '%{http_code}' -X PUT \
    --aws-sigv4 aws:amz:us-east-1:s3 --user "$SRV_ACCESS_ID:$SRV_SECRET" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$SRV_URL$BUCKET") || true
  [ "$code" = 200 ] || die "cannot create the bucket on RGW (HTTP $code): $(cat "$LOGDIR/$name.bucket.out")"
  rm -f "$LOGDIR/$name.bucket.out"
  [ -s "$err" ] || rm -f "$err"
}

# ceph_quiet: RGW stops logging requests (where none are counted, its log would only fill RAM).
ceph_quiet() {
  ceph --admin-daemon "$SRV_DIR/run/client.rgw.asok" config set debug_rgw 0/0 >/dev/null ||
    warn "could not turn RGW's request log off"
}

# ceph_counts: the requests RGW has served so far, by kind, as server_counts prints them. RGW
# logs one "beast:" line per request as it ends (with the default debug_rgw 1); its counter
# "req" says how many lines to wait for, since the log is written by a thread of its own.
ceph_counts() {
  local log=$SRV_DIR/log/client.rgw.log req n=0
  req=$(ceph --admin-daemon "$SRV_DIR/run/client.rgw.asok" perf dump rgw |
    sed -n 's/^ *"req": \([0-9]*\),*$/\1/p')
  [ -n "$req" ] || die "RGW did not report its request counter"
  for _ in $(seq 100); do
    n=$(grep -c ' beast: ' "$log" || true)
    [ "$n" -lt "$req" ] || break
    sleep 0.05
  done
  [ "$n" -ge "$req" ] || warn "RGW logged $n of its $req requests: B8 may count too few"
  # The kinds of s3server.js: a GET of the bucket itself is a LIST, a POST ?delete a bulk delete.
  awk -v b="/$BUCKET" '
    / beast: / && match($0, /"[A-Z]+ [^ ]+ HTTP\//) {
      split(substr($0, RSTART + 1, RLENGTH - 1), r, " ")
      m = r[1]; p = r[2]; q = ""
      i = index(p, "?")
      if (i) { q = substr(p, i + 1); p = substr(p, 1, i - 1) }
      sub(/\/+$/, "", p)
      if (m == "GET") k = p == b ? "LIST" : "GET"
      else if (m == "PUT" || m == "DELETE" || m == "HEAD") k = m
      else if (m == "POST" && q ~ /(^|&)delete(=|&|$)/) k = "DELETEMANY"
      else k = "OTHER"
      c[k]++
    }
    END {
      printf "GET=%d LIST=%d PUT=%d DELETE=%d DELETEMANY=%d HEAD=%d OTHER=%d\n",
        c["GET"], c["LIST"], c["PUT"], c["DELETE"], c["DELETEMANY"], c["HEAD"], c["OTHER"]
    }' "$log"
}

# ceph_stop: keeps the end of RGW's log, then stops the cluster and removes its directory.
ceph_stop() {
  tail -c 20000000 "$SRV_DIR/log/client.rgw.log" >"$SRV_OUT" 2>/dev/null || true
  "$RGW_SH" stop "$SRV_DIR" 2>>"$LOGDIR/rgw-stop.err" || true
}

# ceph_version: "Ceph RGW 16.2.15", say.
ceph_version() {
  radosgw --version 2>/dev/null | sed -n 's/^ceph version \([^ ]*\).*/Ceph RGW \1/p'
}
