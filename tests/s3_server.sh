# shellcheck shell=bash
# The S3 server of a test, chosen by S3DISK_TEST_SERVER: s3rver (the default; a fake on local
# files, tests/s3rver/) or ceph (Ceph RGW, tests/ceph/rgw.sh: signatures, conditional writes
# and listings as a real S3 store does them). make check runs the S3 tests once on each.
# Source after functions.sh:
#
#   . "$TESTS_DIR/s3_server.sh"
#   s3_server_start BUCKET   # sets S3_URL (http://127.0.0.1:PORT/), S3_PORT, S3_ACCESS_ID,
#                            # S3_SECRET, S3_SERVER (s3rver|ceph); writes $WORK/passwd
#   s3_curl ARGS...          # curl, signed (SigV4) with the server's keys
#   s3_bucket_create NAME
#   s3_bucket_public NAME    # anyone may list it (its objects need a public-read ACL too)
#   s3_keys BUCKET [PREFIX]  # the keys in the bucket, one a line, sorted
#   s3_list BUCKET [PREFIX]  # the same as KEY<tab>ETAG<tab>SIZE<tab>LASTMODIFIED lines
#   s3_head BUCKET KEY       # the object's headers (names in lower case)
#   s3_get BUCKET KEY FILE   # the object's body into FILE; its headers into FILE.headers
#   s3_put BUCKET KEY FILE [HEADER...]
#   s3_delete BUCKET KEY
#   s3_size BUCKET KEY       # the stored body's size
#   s3_corrupt BUCKET KEY    # flips the body's last byte: on s3rver in its file, so the ETag
#                            # (MD5) is stale; on RGW by a PUT with the object's own headers
#
# Whatever a server cannot show (s3rver checks no V4 signature and ignores If-None-Match) a
# test tells apart with S3_SERVER. The fault proxy of s3rver.sh sits in front of either.

. "$TESTS_DIR/s3rver/s3rver.sh"

S3_SERVER=${S3DISK_TEST_SERVER:-s3rver}
RGW_DIR=

rgw_stop() {
  [ -n "$RGW_DIR" ] || return 0
  "$TESTS_DIR/ceph/rgw.sh" stop "$RGW_DIR" || true
  RGW_DIR=
}
CLEANUP_HOOKS+=(rgw_stop)

s3_server_start() {
  local bucket=$1
  case $S3_SERVER in
    s3rver)
      s3rver_start "$bucket"
      S3_URL=$S3RVER_URL
      S3_ACCESS_ID=S3RVER
      S3_SECRET=S3RVER
      ;;
    ceph)
      command -v radosgw >/dev/null 2>&1 || skip_or_fail "radosgw is not installed (scripts/check installs it)"
      RGW_DIR=$WORK/ceph
      "$TESTS_DIR/ceph/rgw.sh" start "$RGW_DIR" >/dev/null || fail "Ceph RGW did not start"
      # shellcheck disable=SC1091  # written by rgw.sh start
      . "$RGW_DIR/env"
      S3_URL=$RGW_URL
      S3_PORT=${RGW_URL##*:}
      S3_PORT=${S3_PORT%/}
      S3_ACCESS_ID=$RGW_ACCESS_ID
      S3_SECRET=$RGW_SECRET
      log "Ceph RGW on port $S3_PORT"
      s3_bucket_create "$bucket"
      ;;
    *) fail "S3DISK_TEST_SERVER=$S3_SERVER: use s3rver or ceph" ;;
  esac
  printf '%s:%s\n' "$S3_ACCESS_ID" "$S3_SECRET" >"$WORK/passwd"
  chmod 600 "$WORK/passwd"
}

s3_curl() {
  # curl 7.88 signs only the headers it sends; RGW requires x-amz-content-sha256 with V4.
  curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS_ID:$S3_SECRET" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

s3_bucket_create() {
  local code
  code=$(s3_curl -o "$WORK/create-bucket.out" -w '%{http_code}' -X PUT "$S3_URL$1")
  [ "$code" = 200 ] || fail "cannot create bucket $1 (HTTP $code): $(cat "$WORK/create-bucket.out")"
}

s3_bucket_public() {
  # s3rver lets anyone read anything and has no ACLs. (curl 7.88 signs a bare "?acl" wrongly.)
  [ "$S3_SERVER" != s3rver ] || return 0
  s3_curl -f -o /dev/null -X PUT -H "x-amz-acl: public-read" -H "Content-Length: 0" \
    "$S3_URL$1?acl=" || fail "cannot make bucket $1 public"
}

s3_keys() { s3_list "$1" "${2:-}" | cut -f1; }

# s3_list BUCKET [PREFIX]: "KEY<tab>ETAG<tab>SIZE<tab>LASTMODIFIED" for every object, sorted.
s3_list() {
  local bucket=$1 prefix=${2:-} token= page=$WORK/s3_list.xml query
  while :; do
    # In sorted order: curl 7.88 signs the query as given, and SigV4 wants it sorted.
    query=
    [ -z "$token" ] || query+="continuation-token=$(url_encode "$token")&"
    query+="list-type=2&max-keys=1000"
    [ -z "$prefix" ] || query+="&prefix=$(url_encode "$prefix")"
    s3_curl -f -o "$page" "$S3_URL$bucket?$query" || fail "cannot list bucket $bucket"
    perl -0ne 'sub unxml { my $v = shift; $v =~ s/&lt;/</g; $v =~ s/&gt;/>/g;
        $v =~ s/&quot;/"/g; $v =~ s/&apos;/'"'"'/g; $v =~ s/&#34;/"/g; $v =~ s/&amp;/&/g; $v }
      while (/<Contents>(.*?)<\/Contents>/gs) { my $c = $1;
        my ($k) = $c =~ /<Key>(.*?)<\/Key>/s; my ($e) = $c =~ /<ETag>(.*?)<\/ETag>/s;
        my ($n) = $c =~ /<Size>(.*?)<\/Size>/s; my ($t) = $c =~ /<LastModified>(.*?)<\/LastModified>/s;
        print unxml($k), "\t", unxml($e), "\t$n\t$t\n" }' "$page"
    grep -q '<IsTruncated>true</IsTruncated>' "$page" || break
    token=$(perl -0ne 'print $1 if /<NextContinuationToken>(.*?)<\/NextContinuationToken>/s' "$page")
    [ -n "$token" ] || fail "a truncated listing of $bucket without a continuation token"
  done | LC_ALL=C sort
}

# s3_head BUCKET KEY: the object's headers, names in lower case, no CR.
s3_head() {
  s3_curl -f -I "$S3_URL$1/$(url_encode "$2")" | tr -d '\r' |
    perl -pe 's/^([^:]+):/lc($1) . ":"/e' || fail "cannot HEAD $1/$2"
}

url_encode() {
  perl -e '(my $s = $ARGV[0]) =~ s/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord($1))/ge; print $s' "$1"
}

s3_get() {
  s3_curl -f -D "$3.headers" -o "$3" "$S3_URL$1/$(url_encode "$2")" || fail "cannot get $1/$2"
}

s3_put() {
  local bucket=$1 key=$2 file=$3 h args=()
  shift 3
  for h in "$@"; do args+=(-H "$h"); done
  s3_curl -f -o /dev/null -X PUT "${args[@]}" --data-binary "@$file" \
    "$S3_URL$bucket/$(url_encode "$key")" || fail "cannot put $bucket/$key"
}

s3_delete() {
  s3_curl -f -o /dev/null -X DELETE "$S3_URL$1/$(url_encode "$2")" || fail "cannot delete $1/$2"
}

s3_size() { s3_head "$1" "$2" | awk '$1 == "content-length:" { print $2 }'; }

s3_corrupt() {
  local bucket=$1 key=$2 f=$WORK/corrupt.body
  if [ "$S3_SERVER" = s3rver ]; then
    f=$WORK/s3rver-data/$bucket/$key._S3rver_object
    [ -f "$f" ] || fail "s3rver holds no file for $bucket/$key"
  else
    s3_get "$bucket" "$key" "$f"
  fi
  perl -e 'open(my $h, "+<:raw", $ARGV[0]) or die; my $n = -s $ARGV[0]; sysseek($h, $n - 1, 0);
    sysread($h, my $c, 1); sysseek($h, $n - 1, 0); syswrite($h, chr(ord($c) ^ 1))' "$f" ||
    fail "cannot flip a byte of $f"
  [ "$S3_SERVER" = s3rver ] && return 0
  local headers=()
  mapfile -t headers < <(tr -d '\r' <"$f.headers" | grep -Ei '^(x-amz-meta-|content-encoding:|content-type:)')
  s3_put "$bucket" "$key" "$f" "${headers[@]}"
}
