#include "s3/s3_xml.h"

#include <catch2/catch.hpp>

#include "s3/fake_s3.h"

namespace s3disk {
namespace {

TEST_CASE("s3_xml: a ListObjectsV2 page with a continuation token") {
  auto page = ParseListPage(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>vol1/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>vol1/0000002a</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>"fba9dede5f27731c9771645a39863328"</ETag><Size>434234</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>vol1/a&amp;b &lt;c&gt;</Key><Size>1</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)");
  REQUIRE(page.ok());
  CHECK(page->keys == std::vector<std::string>{"vol1/0000002a", "vol1/a&b <c>"});
  CHECK(page->sizes == std::vector<uint64_t>{434234, 1});
  CHECK(page->truncated);
  CHECK(page->next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST_CASE("s3_xml: a last page, an empty page, and a V1 page") {
  auto last = ParseListPage(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents>"
      "</ListBucketResult>");
  REQUIRE(last.ok());
  CHECK(last->keys == std::vector<std::string>{"k"});
  CHECK_FALSE(last->truncated);

  auto empty = ParseListPage(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  REQUIRE(empty.ok());
  CHECK(empty->keys.empty());

  // V1 without NextMarker: the next marker is the last key.
  auto v1 = ParseListPage(
      "<ListBucketResult><Marker></Marker><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents></ListBucketResult>");
  REQUIRE(v1.ok());
  CHECK(v1->next_token == "b");
  // Common prefixes' keys are not object keys.
  auto prefixes = ParseListPage(
      "<ListBucketResult><IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>x/</Prefix>"
      "</CommonPrefixes></ListBucketResult>");
  REQUIRE(prefixes.ok());
  CHECK(prefixes->keys.empty());
}

TEST_CASE("s3_xml: a list page's sizes pair with their keys in either order") {
  auto page = ParseListPage(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Size>7</Size><Key>a</Key></Contents>"
      "<Contents><Key>b</Key></Contents>"
      "<Contents><Key>c</Key><Size>18446744073709551615</Size></Contents></ListBucketResult>");
  REQUIRE(page.ok());
  CHECK(page->keys == std::vector<std::string>{"a", "b", "c"});
  CHECK(page->sizes == std::vector<uint64_t>{7, 0, 18446744073709551615u});
  for (const char* bad : {"-1", "12x", "", "18446744073709551616"}) {
    auto r = ParseListPage(std::string("<ListBucketResult><IsTruncated>false</IsTruncated>"
                                       "<Contents><Key>a</Key><Size>") +
                           bad + "</Size></Contents></ListBucketResult>");
    INFO(bad);
    CHECK(r.status().code() == EBADMSG);
  }
}

TEST_CASE("s3_xml: malformed or unexpected list pages are EBADMSG") {
  // Truncated in the middle (a body cut short on the way).
  auto cut =
      ParseListPage("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>vol1/00");
  CHECK(cut.status().code() == EBADMSG);
  CHECK(cut.status().message().find("malformed XML") != std::string::npos);
  CHECK(ParseListPage("").status().code() == EBADMSG);
  CHECK(ParseListPage("not xml at all").status().code() == EBADMSG);
  CHECK(ParseListPage("<a><b></a>").status().code() == EBADMSG);
  // Well-formed, but an error document or a page without IsTruncated.
  CHECK(ParseListPage("<Error><Code>AccessDenied</Code></Error>").status().code() == EBADMSG);
  CHECK(ParseListPage("<ListBucketResult></ListBucketResult>").status().code() == EBADMSG);
  // Truncated without any way to continue.
  CHECK(ParseListPage("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
            .status()
            .code() == EBADMSG);
}

TEST_CASE("s3_xml: DeleteObjects results") {
  auto r = ParseDeleteResult(R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>sample1.txt</Key></Deleted>
  <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>sample3.txt</Key><Code>InternalError</Code><Message>oops</Message></Error>
</DeleteResult>)");
  REQUIRE(r.ok());
  CHECK(r->deleted == std::vector<std::string>{"sample1.txt"});
  REQUIRE(r->errors.size() == 2);
  CHECK(r->errors[0].key == "sample2.txt");
  CHECK(r->errors[0].code == "AccessDenied");
  CHECK(r->errors[0].message == "Access Denied");
  CHECK(r->errors[1].key == "sample3.txt");
  CHECK(r->errors[1].code == "InternalError");

  auto quiet = ParseDeleteResult("<DeleteResult/>");
  REQUIRE(quiet.ok());
  CHECK(quiet->deleted.empty());
  CHECK(quiet->errors.empty());
  CHECK(ParseDeleteResult("<DeleteResult><Deleted>").status().code() == EBADMSG);
  CHECK(ParseDeleteResult("<Error><Code>x</Code></Error>").status().code() == EBADMSG);
}

TEST_CASE("s3_xml: error bodies") {
  auto e = ParseErrorBody(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message>
<Endpoint>mybucket.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>mybucket</Bucket>
<RequestId>4442587FB7D0A2F9</RequestId></Error>)");
  REQUIRE(e.ok());
  CHECK(e->code == "PermanentRedirect");
  CHECK(e->endpoint == "mybucket.s3.eu-west-1.amazonaws.com");
  CHECK(e->request_id == "4442587FB7D0A2F9");
  CHECK(e->message.starts_with("The bucket you are attempting"));

  auto region = ParseErrorBody(
      "<Error><Code>AuthorizationHeaderMalformed</Code><Message>m</Message>"
      "<Region>eu-central-1</Region></Error>");
  REQUIRE(region.ok());
  CHECK(region->region == "eu-central-1");
  CHECK(ParseErrorBody("<Error><Code>NoSuchKey</Code>").status().code() == EBADMSG);
  CHECK(ParseErrorBody("<html>502 Bad Gateway</html>").status().code() == EBADMSG);
}

TEST_CASE("s3_xml: a listing's escaped keys read back as they were stored") {
  // XmlEscape is the fake server's (fake_s3.h).
  CHECK(XmlEscape("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;");
  auto page = ParseListPage("<ListBucketResult><Contents><Key>" + XmlEscape("a&b<c>\"d' e+f") +
                            "</Key></Contents><IsTruncated>false</IsTruncated></ListBucketResult>");
  REQUIRE(page.ok());
  REQUIRE(page->keys.size() == 1);
  CHECK(page->keys[0] == "a&b<c>\"d' e+f");
}

TEST_CASE("s3_xml: the DeleteObjects request body escapes keys") {
  CHECK(CdataText("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>");
  std::string body = BuildDeleteRequest({"00000001", "x&y<z>"}, true);
  CHECK(body ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>"
        "<Object><Key><![CDATA[00000001]]></Key></Object>"
        "<Object><Key><![CDATA[x&y<z>]]></Key></Object></Delete>");
  // An XML parser reads the keys back exactly, "]]>" included.
  std::string tricky = BuildDeleteRequest({"a]]>b", "00000001"}, false);
  std::string as_list =
      "<ListBucketResult><IsTruncated>false</IsTruncated>" + tricky.substr(tricky.find("<Object>"));
  as_list = as_list.substr(0, as_list.find("</Delete>")) + "</ListBucketResult>";
  for (size_t p; (p = as_list.find("<Object>")) != std::string::npos;) {
    as_list.replace(p, 8, "<Contents>");
  }
  for (size_t p; (p = as_list.find("</Object>")) != std::string::npos;) {
    as_list.replace(p, 9, "</Contents>");
  }
  auto parsed = ParseListPage(as_list);
  REQUIRE(parsed.ok());
  CHECK(parsed->keys == std::vector<std::string>{"a]]>b", "00000001"});
  CHECK(BuildDeleteRequest({}, false).find("<Quiet>") == std::string::npos);
}

}  // namespace
}  // namespace s3disk
