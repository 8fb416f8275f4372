#include "bot_api.hh"

#include <curl/curl.h>

#include <memory>

namespace weft::chan::telegram {

namespace {

struct sink {
  std::string data;
  std::uint64_t max = 0;
  bool too_large = false;
};

size_t on_data(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<sink*>(user);
  auto len = size * n;
  if (s->max && s->data.size() + len > s->max) {
    s->too_large = true;
    return 0;  // aborts the transfer
  }
  s->data.append(p, len);
  return len;
}

struct easy_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

CURL* make_easy(const std::string& url, sink& out, std::chrono::seconds timeout, char* errbuf) {
  CURL* c = curl_easy_init();
  if (!c) return nullptr;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "weft-chan-telegram");
  errbuf[0] = 0;
  return c;
}

api_outcome finish(CURL* c, CURLcode rc, const sink& out, const char* errbuf) {
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return classify(0, {}, why);
  }
  return classify(status, out.data, {});
}

}  // namespace

void init_curl() { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel && cancel->load() ? 1 : 0;
}

api_outcome bot_api::call(const std::string& method, const nlohmann::json& params, std::chrono::seconds timeout,
                          const std::atomic<bool>* cancel) const {
  sink out;
  out.max = 16u << 20;
  char errbuf[CURL_ERROR_SIZE];
  std::unique_ptr<CURL, easy_deleter> c(make_easy(_base + "/bot" + _token + "/" + method, out, timeout, errbuf));
  if (!c) return classify(0, {}, "curl_easy_init failed");
  auto body = params.dump();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  if (cancel) {
    curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
    curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
  }
  auto rc = curl_easy_perform(c.get());
  auto o = finish(c.get(), rc, out, errbuf);
  curl_slist_free_all(headers);
  return o;
}

api_outcome bot_api::call_multipart(const std::string& method, const std::vector<form_field>& fields,
                                    std::chrono::seconds timeout) const {
  sink out;
  out.max = 16u << 20;
  char errbuf[CURL_ERROR_SIZE];
  std::unique_ptr<CURL, easy_deleter> c(make_easy(_base + "/bot" + _token + "/" + method, out, timeout, errbuf));
  if (!c) return classify(0, {}, "curl_easy_init failed");
  curl_mime* mime = curl_mime_init(c.get());
  for (auto& f : fields) {
    curl_mimepart* p = curl_mime_addpart(mime);
    curl_mime_name(p, f.name.c_str());
    curl_mime_data(p, f.value.data(), f.value.size());
    if (!f.filename.empty()) curl_mime_filename(p, f.filename.c_str());
    if (!f.media_type.empty()) curl_mime_type(p, f.media_type.c_str());
  }
  curl_easy_setopt(c.get(), CURLOPT_MIMEPOST, mime);
  auto rc = curl_easy_perform(c.get());
  auto o = finish(c.get(), rc, out, errbuf);
  curl_mime_free(mime);
  return o;
}

bot_api::download_result bot_api::download(const std::string& file_path, std::uint64_t max_bytes,
                                           std::chrono::seconds timeout) const {
  download_result r;
  sink out;
  out.max = max_bytes;
  char errbuf[CURL_ERROR_SIZE];
  std::unique_ptr<CURL, easy_deleter> c(make_easy(_base + "/file/bot" + _token + "/" + file_path, out, timeout, errbuf));
  if (!c) {
    r.outcome = classify(0, {}, "curl_easy_init failed");
    return r;
  }
  auto rc = curl_easy_perform(c.get());
  long status = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
  if (out.too_large) {
    r.outcome.kind = outcome_kind::permanent;
    r.outcome.description = fmt::format("file is larger than {} bytes", max_bytes);
    return r;
  }
  if (rc != CURLE_OK) {
    r.outcome = classify(0, {}, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return r;
  }
  if (status != 200) {
    r.outcome.kind = status >= 500 ? outcome_kind::transient : outcome_kind::permanent;
    r.outcome.error_code = static_cast<int>(status);
    r.outcome.description = fmt::format("file download answered HTTP {}", status);
    return r;
  }
  r.outcome.kind = outcome_kind::ok;
  r.data = std::move(out.data);
  return r;
}

}  // namespace weft::chan::telegram
