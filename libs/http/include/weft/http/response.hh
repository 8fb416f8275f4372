#pragma once
/// HTTP/1.1 response heads and bodies as bytes, for the server (and its tests).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// "HTTP/1.1 <status> <reason>\r\n" + Content-Type + Content-Length + Connection +
/// Cache-Control: no-store + X-Content-Type-Options: nosniff + `extra` + body.
std::string format_response(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                            const header_list& extra = {});
/// The reason phrase of a status code ("Not Found"); "Unknown" for codes weft never sends.
std::string_view status_reason(int status);

}  // namespace weft::http
