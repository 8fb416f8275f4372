#pragma once
/// An OpenAI-compatible chat-completions server that answers at once, for benchmarks that
/// measure what weft adds to a turn: one thread, epoll, keep-alive, no JSON parsing — the
/// answer ("stream":true or not) is a fixed completion in the real wire shape.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace weft::fakes {

class instant_llm {
 public:
  /// Listens on 127.0.0.1 on a free port.
  instant_llm();
  /// The same, but a request whose last message is not a tool result is answered with one
  /// call of `tool` with `arguments` (JSON text): every turn is one tool call, then the reply.
  instant_llm(std::string tool, std::string arguments);
  ~instant_llm();
  instant_llm(const instant_llm&) = delete;
  instant_llm& operator=(const instant_llm&) = delete;

  std::uint16_t port() const { return _port; }
  std::uint64_t requests() const { return _requests.load(); }

 private:
  void start();
  void run();
  std::string _tool, _arguments;
  int _listen = -1, _epoll = -1, _wake = -1;
  std::uint16_t _port = 0;
  std::atomic<std::uint64_t> _requests{0};
  std::thread _thread;
};

}  // namespace weft::fakes
