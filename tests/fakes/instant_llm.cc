#include "instant_llm.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weft::fakes {

namespace {

constexpr std::string_view body_json =
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"instant",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the instant fake."},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":6,"total_tokens":16}})";

constexpr std::string_view body_sse =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"instant\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello from \"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"instant\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"the instant fake.\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"instant\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

/// A tool call in both shapes; `args` is JSON text, quoted here as a JSON string.
std::string tool_call_body(bool stream, const std::string& tool, const std::string& args) {
  std::string quoted = "\"";
  for (char c : args) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  auto call = R"([{"index":0,"id":"call_bench","type":"function","function":{"name":")" + tool +
              R"(","arguments":)" + quoted + "}}]";
  if (!stream)
    return R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"instant",)"
           R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":)" + call +
           R"(},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":6,"total_tokens":16}})";
  return "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"instant\","
         "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":" + call +
         "},\"finish_reason\":null}]}\n\n"
         "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"instant\","
         "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
         "data: [DONE]\n\n";
}

/// The role of the request's last message: the last "role" key of the body (the messages
/// come before the tools in the compact, key-sorted JSON the llm service sends).
bool last_is_tool_result(std::string_view request) {
  constexpr std::string_view key = R"("role":")";
  auto p = request.rfind(key);
  return p != std::string_view::npos && request.substr(p + key.size(), 5) == "tool\"";
}

std::string response(bool stream, std::string_view body) {
  return std::string("HTTP/1.1 200 OK\r\nContent-Type: ") + (stream ? "text/event-stream" : "application/json") +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" +
         std::string(body);
}

std::string response(bool stream) {
  auto body = stream ? body_sse : body_json;
  return std::string("HTTP/1.1 200 OK\r\nContent-Type: ") + (stream ? "text/event-stream" : "application/json") +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" +
         std::string(body);
}

std::size_t content_length(std::string_view headers) {
  for (std::size_t pos = 0; pos < headers.size();) {
    auto eol = headers.find("\r\n", pos);
    auto line = headers.substr(pos, eol - pos);
    if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0)
      return std::stoul(std::string(line.substr(15)));
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return 0;
}

}  // namespace

instant_llm::instant_llm(std::string tool, std::string arguments) : _tool(std::move(tool)), _arguments(std::move(arguments)) {
  start();
}

instant_llm::instant_llm() { start(); }

void instant_llm::start() {
  _listen = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(_listen, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(_listen, 512) != 0)
    throw std::runtime_error(std::string("instant_llm: bind/listen: ") + std::strerror(errno));
  socklen_t len = sizeof sa;
  ::getsockname(_listen, reinterpret_cast<sockaddr*>(&sa), &len);
  _port = ntohs(sa.sin_port);
  _epoll = ::epoll_create1(EPOLL_CLOEXEC);
  _wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{EPOLLIN, {.fd = _listen}};
  ::epoll_ctl(_epoll, EPOLL_CTL_ADD, _listen, &ev);
  epoll_event wv{EPOLLIN, {.fd = _wake}};
  ::epoll_ctl(_epoll, EPOLL_CTL_ADD, _wake, &wv);
  _thread = std::thread([this] { run(); });
}

instant_llm::~instant_llm() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(_wake, &one, sizeof one);
  _thread.join();
  ::close(_listen);
  ::close(_epoll);
  ::close(_wake);
}

void instant_llm::run() {
  std::unordered_map<int, std::string> bufs;
  epoll_event evs[64];
  for (;;) {
    int n = ::epoll_wait(_epoll, evs, 64, -1);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == _wake) {
        for (auto& [c, b] : bufs) ::close(c);
        return;
      }
      if (fd == _listen) {
        for (;;) {
          int c = ::accept4(_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event ev{EPOLLIN, {.fd = c}};
          ::epoll_ctl(_epoll, EPOLL_CTL_ADD, c, &ev);
          bufs[c];
        }
        continue;
      }
      auto& b = bufs[fd];
      char tmp[65536];
      bool closed = false;
      for (;;) {
        auto r = ::read(fd, tmp, sizeof tmp);
        if (r > 0) b.append(tmp, static_cast<std::size_t>(r));
        else {
          closed = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          break;
        }
      }
      // Answer every complete request in the buffer.
      for (;;) {
        auto end = b.find("\r\n\r\n");
        if (end == std::string::npos) break;
        auto total = end + 4 + content_length(std::string_view(b).substr(0, end));
        if (b.size() < total) break;
        bool stream = std::string_view(b).substr(end, total - end).find("\"stream\":true") != std::string_view::npos;
        auto request = std::string_view(b).substr(end, total - end);
        auto out = !_tool.empty() && !last_is_tool_result(request)
                       ? response(stream, tool_call_body(stream, _tool, _arguments))
                       : response(stream);
        std::string_view rest = out;
        while (!rest.empty()) {  // small answers: a blocking-ish retry loop is fine for a fake
          auto w = ::write(fd, rest.data(), rest.size());
          if (w > 0) rest.remove_prefix(static_cast<std::size_t>(w));
          else if (errno != EAGAIN) break;
        }
        ++_requests;
        b.erase(0, total);
      }
      if (closed) {
        ::epoll_ctl(_epoll, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        bufs.erase(fd);
      }
    }
  }
}

}  // namespace weft::fakes
