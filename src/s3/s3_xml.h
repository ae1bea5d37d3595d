// The XML S3 speaks, parsed with expat: ListObjectsV2 pages, DeleteObjects results and error
// bodies; and the DeleteObjects request body. Malformed XML is an EBADMSG Status naming the
// expat error and line, never a crash or a silently empty answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace s3disk {

struct ListPage {
  std::vector<std::string> keys;
  std::vector<uint64_t> sizes;  // sizes[i]: the <Size> of keys[i] (0 when the page has none)
  bool truncated = false;
  std::string next_token;  // NextContinuationToken (V2) or NextMarker (V1), when truncated
};

// A ListBucketResult (ListObjectsV2, or V1 whose NextMarker is taken as the token; a truncated
// V1 page without NextMarker gives next_token = its last key, as S3 documents).
Result<ListPage> ParseListPage(std::string_view xml);

struct DeleteError {
  std::string key, code, message;
};

struct DeleteResultXml {
  std::vector<std::string> deleted;
  std::vector<DeleteError> errors;
};

// A DeleteResult. An <Error> document (not a DeleteResult) is EBADMSG too: callers look at the
// HTTP status first.
Result<DeleteResultXml> ParseDeleteResult(std::string_view xml);

// An S3 <Error> body. Fields absent from the body stay empty.
struct S3ErrorXml {
  std::string code;  // "NoSuchKey", "AccessDenied", "PermanentRedirect", ...
  std::string message;
  std::string endpoint;  // PermanentRedirect / TemporaryRedirect
  std::string region;    // AuthorizationHeaderMalformed
  std::string bucket;
  std::string request_id;
};

Result<S3ErrorXml> ParseErrorBody(std::string_view xml);

// Wraps text in a CDATA section (split where it contains "]]>").
std::string CdataText(std::string_view text);
// <Delete><Quiet>true</Quiet><Object><Key>...</Key></Object>...</Delete>. Keys are CDATA:
// exact for any XML parser, and simple ones that take text like "00000001" for a number
// (s3rver's) keep it a string.
std::string BuildDeleteRequest(const std::vector<std::string>& keys, bool quiet);

}  // namespace s3disk
