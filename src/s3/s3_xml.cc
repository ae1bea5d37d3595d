// Expat-based parsers. Each parser walks the document keeping the path of open elements
// (namespace prefixes dropped) and collects the text of the elements it cares about.
#include "s3/s3_xml.h"

#include <expat.h>

#include <charconv>
#include <functional>
#include <memory>
#include <optional>

namespace s3disk {
namespace {

// Runs expat over xml; on_end(path, text) is called at each element's end with the element
// path ("ListBucketResult/Contents/Key") and its text.
class Walker {
 public:
  using EndFn = std::function<void(const std::string& path, const std::string& text)>;

  explicit Walker(EndFn on_end) : on_end_(std::move(on_end)) {}

  Status Run(std::string_view xml, const char* what) {
    std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                        XML_ParserFree);
    if (!parser) return Status::Errorf(ENOMEM, "s3_xml: %s: cannot create a parser", what);
    XML_SetUserData(parser.get(), this);
    XML_SetElementHandler(parser.get(), &Walker::Start, &Walker::End);
    XML_SetCharacterDataHandler(parser.get(), &Walker::Text);
    if (XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), XML_TRUE) !=
        XML_STATUS_OK) {
      return Status::Errorf(EBADMSG, "s3_xml: %s: malformed XML at line %lu: %s", what,
                            static_cast<unsigned long>(XML_GetCurrentLineNumber(parser.get())),
                            XML_ErrorString(XML_GetErrorCode(parser.get())));
    }
    return Status::Ok();
  }

  const std::string& root() const { return root_; }

 private:
  static void Start(void* user, const XML_Char* name, const XML_Char**) {
    auto* self = static_cast<Walker*>(user);
    std::string local(name);
    size_t colon = local.rfind(':');
    if (colon != std::string::npos) local.erase(0, colon + 1);
    if (self->stack_.empty()) self->root_ = local;
    self->stack_.push_back(self->path_.size());
    if (!self->path_.empty()) self->path_ += '/';
    self->path_ += local;
    self->text_.clear();
  }

  static void End(void* user, const XML_Char*) {
    auto* self = static_cast<Walker*>(user);
    self->on_end_(self->path_, self->text_);
    self->path_.resize(self->stack_.back());
    self->stack_.pop_back();
    self->text_.clear();
  }

  static void Text(void* user, const XML_Char* s, int len) {
    static_cast<Walker*>(user)->text_.append(s, static_cast<size_t>(len));
  }

  EndFn on_end_;
  std::string path_;
  std::vector<size_t> stack_;
  std::string text_;
  std::string root_;
};

}  // namespace

Result<ListPage> ParseListPage(std::string_view xml) {
  ListPage page;
  std::string next_marker;
  bool saw_truncated = false;
  std::string key;
  uint64_t size = 0;
  bool saw_key = false;
  std::optional<std::string> bad_size;
  Walker walker([&](const std::string& path, const std::string& text) {
    if (path == "ListBucketResult/Contents/Key") {
      key = text;
      saw_key = true;
    } else if (path == "ListBucketResult/Contents/Size") {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
      if (ec != std::errc() || end != text.data() + text.size()) bad_size = text;
    } else if (path == "ListBucketResult/Contents") {
      // Key and Size may come in either order: the pair is complete at </Contents>.
      if (saw_key) {
        page.keys.push_back(std::move(key));
        page.sizes.push_back(size);
      }
      key.clear();
      size = 0;
      saw_key = false;
    } else if (path == "ListBucketResult/IsTruncated") {
      saw_truncated = true;
      page.truncated = text == "true";
    } else if (path == "ListBucketResult/NextContinuationToken") {
      page.next_token = text;
    } else if (path == "ListBucketResult/NextMarker") {
      next_marker = text;
    }
  });
  S3DISK_RETURN_IF_ERROR(walker.Run(xml, "list page"));
  if (bad_size) {
    return Status::Errorf(EBADMSG, "s3_xml: list page: <Size>%s</Size> is not a byte count",
                          bad_size->c_str());
  }
  if (walker.root() != "ListBucketResult") {
    return Status::Errorf(EBADMSG,
                          "s3_xml: list page: root element is <%s>, not "
                          "<ListBucketResult>",
                          walker.root().c_str());
  }
  if (!saw_truncated) {
    return Status::Errorf(EBADMSG, "s3_xml: list page: no <IsTruncated>");
  }
  if (page.truncated && page.next_token.empty()) {
    page.next_token = !next_marker.empty() ? next_marker
                      : !page.keys.empty() ? page.keys.back()
                                           : std::string();
    if (page.next_token.empty()) {
      return Status::Errorf(EBADMSG, "s3_xml: list page: truncated but no continuation token");
    }
  }
  return page;
}

Result<DeleteResultXml> ParseDeleteResult(std::string_view xml) {
  DeleteResultXml result;
  DeleteError error;
  Walker walker([&](const std::string& path, const std::string& text) {
    if (path == "DeleteResult/Deleted/Key") {
      result.deleted.push_back(text);
    } else if (path == "DeleteResult/Error/Key") {
      error.key = text;
    } else if (path == "DeleteResult/Error/Code") {
      error.code = text;
    } else if (path == "DeleteResult/Error/Message") {
      error.message = text;
    } else if (path == "DeleteResult/Error") {
      result.errors.push_back(std::move(error));
      error = DeleteError();
    }
  });
  S3DISK_RETURN_IF_ERROR(walker.Run(xml, "delete result"));
  if (walker.root() != "DeleteResult") {
    return Status::Errorf(EBADMSG,
                          "s3_xml: delete result: root element is <%s>, not "
                          "<DeleteResult>",
                          walker.root().c_str());
  }
  return result;
}

Result<S3ErrorXml> ParseErrorBody(std::string_view xml) {
  S3ErrorXml error;
  Walker walker([&](const std::string& path, const std::string& text) {
    if (path == "Error/Code") {
      error.code = text;
    } else if (path == "Error/Message") {
      error.message = text;
    } else if (path == "Error/Endpoint") {
      error.endpoint = text;
    } else if (path == "Error/Region") {
      error.region = text;
    } else if (path == "Error/BucketName") {
      error.bucket = text;
    } else if (path == "Error/RequestId") {
      error.request_id = text;
    }
  });
  S3DISK_RETURN_IF_ERROR(walker.Run(xml, "error body"));
  if (walker.root() != "Error") {
    return Status::Errorf(EBADMSG, "s3_xml: error body: root element is <%s>, not <Error>",
                          walker.root().c_str());
  }
  return error;
}

std::string CdataText(std::string_view text) {
  std::string out = "<![CDATA[";
  for (size_t pos = 0;;) {
    size_t end = text.find("]]>", pos);
    if (end == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    // "]]>" cannot appear inside a CDATA section: end it after "]]" and start a new one.
    out.append(text.substr(pos, end + 2 - pos)).append("]]><![CDATA[");
    pos = end + 2;
  }
  return out + "]]>";
}

std::string BuildDeleteRequest(const std::vector<std::string>& keys, bool quiet) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete>";
  if (quiet) out += "<Quiet>true</Quiet>";
  for (const auto& key : keys) out += "<Object><Key>" + CdataText(key) + "</Key></Object>";
  out += "</Delete>";
  return out;
}

}  // namespace s3disk
