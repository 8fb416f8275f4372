#pragma once
/// Blocking calls to the Telegram Bot API over libcurl, one easy handle per call, for the
/// channel's worker threads (never the bus loop). The token appears only in URLs, which
/// are never logged: methods are logged by name.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "telegram.hh"

namespace weft::chan::telegram {

/// One multipart field: text, or a file when `filename` is set.
struct form_field {
  std::string name;
  std::string value;     ///< text, or the file's bytes
  std::string filename;  ///< set for a file
  std::string media_type;
};

class bot_api {
 public:
  bot_api(std::string api_base, std::string token) : _base(std::move(api_base)), _token(std::move(token)) {}

  /// POST <base>/bot<token>/<method> with a JSON body. `timeout` is the whole exchange;
  /// setting *cancel aborts it (a long poll at shutdown).
  api_outcome call(const std::string& method, const nlohmann::json& params, std::chrono::seconds timeout,
                   const std::atomic<bool>* cancel = nullptr) const;
  /// POST multipart/form-data (uploads).
  api_outcome call_multipart(const std::string& method, const std::vector<form_field>& fields,
                             std::chrono::seconds timeout) const;

  struct download_result {
    api_outcome outcome;  ///< ok, or why not
    std::string data;
  };
  /// GET <base>/file/bot<token>/<file_path>, refusing more than `max_bytes`.
  download_result download(const std::string& file_path, std::uint64_t max_bytes, std::chrono::seconds timeout) const;

 private:
  std::string _base, _token;
};

/// curl_global_init once, before threads start.
void init_curl();

}  // namespace weft::chan::telegram
