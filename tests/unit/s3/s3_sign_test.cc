// SigV4 and V2 signing against the examples AWS publishes: the S3 API reference's
// "Signature Calculations for the Authorization Header" examples (GET Object with a Range, PUT
// Object, GET Bucket lifecycle, GET Bucket list), the Signature Version 4 test suite
// (get-vanilla, get-vanilla-query-order-key-case, post-vanilla), and the S3 REST
// authentication (V2) examples.
#include "s3/s3_sign.h"

#include <catch2/catch.hpp>

#include "base/crypto.h"

namespace s3disk {
namespace {

constexpr char kS3Id[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kS3Secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";
constexpr char kDate[] = "20130524T000000Z";

SigV4Request S3Example(std::string method, std::string uri,
                       std::vector<std::pair<std::string, std::string>> query, SignHeaders extra,
                       std::string payload) {
  SigV4Request r;
  r.method = std::move(method);
  r.canonical_uri = std::move(uri);
  r.query = std::move(query);
  r.headers = {{"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", payload}};
  for (auto& h : extra) r.headers.push_back(h);
  r.payload_sha256 = payload;
  r.amz_date = kDate;
  r.region = "us-east-1";
  return r;
}

TEST_CASE("s3_sign: crypto helpers used by signing") {
  CHECK(Sha256Hex(AsBytes("")) == kEmptySha256);
  CHECK(Sha256Hex(AsBytes("Welcome to Amazon S3.")) ==
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  // RFC 4231 test case 2.
  CHECK(HexEncode(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 6: a key longer than a block is hashed first.
  const std::vector<uint8_t> long_key(131, 0xaa);
  const char* long_msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  CHECK(HexEncode(HmacSha256(long_key, AsBytes(long_msg))) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CHECK(HexEncode(HmacSha256({}, {})) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // RFC 2202 test cases 2 and 6.
  CHECK(HexEncode(HmacSha1(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(HexEncode(HmacSha1(std::vector<uint8_t>(80, 0xaa), AsBytes(long_msg))) ==
        "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  std::vector<uint8_t> out;
  REQUIRE(Base64Decode("4gJE4saaMU4BqNR0kLY+lw==", &out));
  CHECK(Base64Encode(out) == "4gJE4saaMU4BqNR0kLY+lw==");
  REQUIRE(Base64Decode("aGVsbG8=", &out));
  CHECK(std::string(out.begin(), out.end()) == "hello");
  REQUIRE(Base64Decode("", &out));
  CHECK(out.empty());
  CHECK_FALSE(Base64Decode("aGVsbG8", &out));   // not a multiple of 4
  CHECK_FALSE(Base64Decode("aGV*bG8=", &out));  // bad character
  CHECK_FALSE(Base64Decode("aG==bG8=", &out));  // padding in the middle
}

TEST_CASE("s3_sign: URI encoding and dates") {
  CHECK(UriEncode("/test$file.text", true) == "/test%24file.text");
  CHECK(UriEncode("a b+c/d~e_f-g.h", false) == "a%20b%2Bc%2Fd~e_f-g.h");
  CHECK(UriEncode("vol1/0000002a", true) == "vol1/0000002a");
  CHECK(UriEncode("\xc3\xa9", true) == "%C3%A9");
  CHECK(AmzDate(1369353600) == "20130524T000000Z");
  CHECK(HttpDate(1369353600) == "Fri, 24 May 2013 00:00:00 GMT");
  CHECK(HttpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  // A server's Date header read back (setup_error.h measures a skewed clock with it).
  CHECK(ParseHttpDate("Fri, 24 May 2013 00:00:00 GMT") == 1369353600);
  CHECK(ParseHttpDate("Sun, 06 Dec 2026 23:03:36 GMT") == 1796598216);
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{1796598216}}) {
    CHECK(ParseHttpDate(HttpDate(t)) == t);
  }
  for (const char* bad : {"", "yesterday", "Fri, 24 Foo 2013 00:00:00 GMT",
                          "Fri, 24 May 2013 00:00:00 UTC", "Fri, 24 May 2013 25:00:00 GMT",
                          "Fri, 24 May 2013 00:00:00 GMT trailing", "Fri, 24 Ma 2013 00:00:00 GMT",
                          "Thu, 01 Jan -2147483648 00:00:00 GMT", "Thu, 01 Jan 99999 00:00:00 GMT",
                          "Thu, 01 Jan 13 00:00:00 GMT", "Thu, 4294967297 Jan 2020 00:00:00 GMT"}) {
    INFO(bad);
    CHECK_FALSE(ParseHttpDate(bad).has_value());
  }
  CHECK(CanonicalQueryV4({{"prefix", "J"}, {"max-keys", "2"}}) == "max-keys=2&prefix=J");
  CHECK(CanonicalQueryV4({{"delete", ""}}) == "delete=");
  CHECK(CanonicalQueryV4({{"prefix", "a/b c"}}) == "prefix=a%2Fb%20c");
}

TEST_CASE("s3_sign: SigV4 GET Object example (Range header)") {
  auto r = SignV4(S3Example("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}}, kEmptySha256), kS3Id,
                  kS3Secret);
  CHECK(r.canonical_request ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(r.string_to_sign ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  CHECK(r.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(r.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("s3_sign: SigV4 PUT Object example") {
  std::string payload = Sha256Hex(AsBytes("Welcome to Amazon S3."));
  auto r = SignV4(S3Example("PUT", UriEncode("/test$file.text", true), {},
                            {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                             {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                            payload),
                  kS3Id, kS3Secret);
  CHECK(r.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  CHECK(Sha256Hex(AsBytes(r.canonical_request)) ==
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  CHECK(r.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("s3_sign: SigV4 GET Bucket lifecycle and list examples (query strings)") {
  auto lifecycle =
      SignV4(S3Example("GET", "/", {{"lifecycle", ""}}, {}, kEmptySha256), kS3Id, kS3Secret);
  CHECK(lifecycle.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  // Parameters given out of order: the canonical query sorts them.
  auto list = SignV4(S3Example("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}, kEmptySha256),
                     kS3Id, kS3Secret);
  CHECK(list.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("s3_sign: SigV4 test suite get-vanilla, query order, post-vanilla") {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  r.payload_sha256 = kEmptySha256;
  r.amz_date = AmzDate(1440938160);
  r.region = "us-east-1";
  r.service = "service";
  const char* secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  auto vanilla = SignV4(r, "AKIDEXAMPLE", secret);
  CHECK(vanilla.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(vanilla.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
        "SignedHeaders=host;x-amz-date,"
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  CHECK(SignV4(r, "AKIDEXAMPLE", secret).signature ==
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  r.query.clear();
  r.method = "POST";
  CHECK(SignV4(r, "AKIDEXAMPLE", secret).signature ==
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  // Any change to what is signed changes the signature.
  r.headers.push_back({"x-amz-meta-a", "1"});
  CHECK(SignV4(r, "AKIDEXAMPLE", secret).signature !=
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST_CASE("s3_sign: the signing key of AWS's derivation example; signing with it") {
  // "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference).
  SigningKeyV4 key = DeriveSigningKeyV4("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                        "us-east-1", "iam");
  CHECK(HexEncode(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  SigV4Request r = S3Example("GET", "/test.txt", {}, {}, kEmptySha256);
  SigV4Result plain = SignV4(r, kS3Id, kS3Secret);
  SigningKeyV4 day = DeriveSigningKeyV4(kS3Secret, "20130524", "us-east-1", "s3");
  CHECK(SignV4WithKey(r, kS3Id, day).authorization == plain.authorization);
  CHECK(SignV4WithKey(r, kS3Id, key).signature != plain.signature);
}

TEST_CASE("s3_sign: SigV4 canonical headers trim and join values") {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"My-Header1", "  a   b   c  "}, {"host", "h"}, {"my-header1", "d"}};
  r.payload_sha256 = kEmptySha256;
  r.amz_date = kDate;
  r.region = "us-east-1";
  auto s = SignV4(r, "id", "secret");
  CHECK(s.canonical_request.find("my-header1:a b c,d\n") != std::string::npos);
  CHECK(s.signed_headers == "host;my-header1");
}

TEST_CASE("s3_sign: V2 examples from the S3 REST authentication docs") {
  std::string get = StringToSignV2("GET", "", "", "Tue, 27 Mar 2007 19:36:42 +0000", {},
                                   "/awsexamplebucket1/photos/puppy.jpg");
  CHECK(get == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
  CHECK(SignatureV2(kS3Secret, get) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
  CHECK(SignatureV2(kS3Secret, StringToSignV2("GET", "", "", "Tue, 27 Mar 2007 19:36:42 +0000", {},
                                              "/johnsmith/photos/puppy.jpg")) ==
        "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
  CHECK(SignatureV2(kS3Secret,
                    StringToSignV2("PUT", "", "image/jpeg", "Tue, 27 Mar 2007 21:15:45 +0000", {},
                                   "/johnsmith/photos/puppy.jpg")) ==
        "MyyxeRY7whkBe+bq8fHCL/2kKUg=");
  // The upload example: x-amz headers lowercased, sorted, repeated ones joined with ','; other
  // headers ignored.
  SignHeaders headers = {{"User-Agent", "curl/7.15.5"},
                         {"Host", "static.johnsmith.net:8080"},
                         {"x-amz-acl", "public-read"},
                         {"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"},
                         {"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
                         {"X-Amz-Meta-FileChecksum", "0x02661779"},
                         {"X-Amz-Meta-ChecksumAlgorithm", "crc32"}};
  std::string put = StringToSignV2("PUT", "4gJE4saaMU4BqNR0kLY+lw==", "application/x-download",
                                   "Tue, 27 Mar 2007 21:06:08 +0000", headers,
                                   "/static.johnsmith.net/db-backup.dat.gz");
  CHECK(put ==
        "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 "
        "+0000\nx-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\n"
        "x-amz-meta-filechecksum:0x02661779\n"
        "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n"
        "/static.johnsmith.net/db-backup.dat.gz");
  CHECK(SignatureV2(kS3Secret, put) == "ilyl83RwaSoYIEdixDQcA4OnAnc=");
}

}  // namespace
}  // namespace s3disk
