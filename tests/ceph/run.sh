#!/usr/bin/env bash
# The log compiler of tests/ceph/NAME.ceph (made by make check): runs tests/NAME.sh with its
# S3 server set to Ceph RGW (tests/s3_server.sh). The test body is the one s3rver runs.
name=$(basename "$1" .ceph)
S3DISK_TEST_SERVER=ceph exec bash "${S3DISK_SRCDIR:?}/tests/$name.sh"
