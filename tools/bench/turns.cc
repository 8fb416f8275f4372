// weft-bench-turns — what weft adds to an agent turn, on real processes, with an instant
// fake LLM (tests/fakes/instant_llm: answers at once in the OpenAI wire shape).
//
//   weft-bench-turns latency [--turns N]        one session, turns one after another: web
//                                               channel in (HTTP POST) → reply out (SSE), p50/p99
//   weft-bench-turns throughput [--turns N] [--concurrency C]
//                                               C sessions at once; turns/s; every turn must get
//                                               exactly one reply (loss and duplicates counted)
//   weft-bench-turns pss [--turns N]            sum of PSS of the default stack idle, and after N turns
//   weft-bench-turns coldstart [--runs N]       default stack (weftd, bus, llm, router, agent main,
//                                               its fs/shell tools, web tools, web chat) to READY=1
//   weft-bench-turns all
//
// Each conversation is 20 turns long, then a new session starts (the model gets the whole
// history every turn, so one endless session would measure prompt growth).
// The stack is the default one (one agent `main`, core tools, web chat) with the provider
// pointed at the instant fake and the web chat on a free port. Not a test: prints figures.
// Budgets (docs/benchmarks.md): p99 ≤ 2 ms, ≥ 2,000 turns/s at concurrency 16 with zero
// loss, PSS ≤ 40 MB with no growth trend, cold start ≤ 50 ms.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "tests/fakes/instant_llm.hh"
#include "tools/bench/bench_stack.hh"

using namespace weft;
using namespace weft::bench;

namespace {

std::string stack_config(std::uint16_t llm_port) {
  return fmt::format(
      "[providers.instant]\n"
      "style = \"openai\"\n"
      "base_url = \"http://127.0.0.1:{}/v1\"\n"
      "model = \"instant\"\n"
      "[llm]\n"
      "default_provider = \"instant\"\n"
      "[agents.main]\n"
      "[channels.web]\n"
      "listen = \"127.0.0.1:0\"\n",
      llm_port);
}

/// A blocking HTTP/1.1 connection to 127.0.0.1.
class conn {
 public:
  explicit conn(std::uint16_t port) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error(fmt::format("connect 127.0.0.1:{}: {}", port, std::strerror(errno)));
    int one = 1;
    ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~conn() { ::close(_fd); }
  void write_all(std::string_view s) {
    while (!s.empty()) {
      auto n = ::write(_fd, s.data(), s.size());
      if (n <= 0) throw std::runtime_error("write failed");
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// Reads until `delim` is in the buffer; returns everything up to and including it.
  std::string read_until(std::string_view delim, int timeout_ms = 30000) {
    for (;;) {
      if (auto p = _buf.find(delim); p != std::string::npos) {
        auto out = _buf.substr(0, p + delim.size());
        _buf.erase(0, p + delim.size());
        return out;
      }
      pollfd pf{_fd, POLLIN, 0};
      if (::poll(&pf, 1, timeout_ms) <= 0) throw std::runtime_error("timed out waiting for the server");
      char tmp[16384];
      auto n = ::read(_fd, tmp, sizeof tmp);
      if (n <= 0) throw std::runtime_error("the server closed the connection");
      _buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
  std::string read_n(std::size_t n) {
    while (_buf.size() < n) {
      char tmp[16384];
      auto r = ::read(_fd, tmp, sizeof tmp);
      if (r <= 0) throw std::runtime_error("the server closed the connection");
      _buf.append(tmp, static_cast<std::size_t>(r));
    }
    auto out = _buf.substr(0, n);
    _buf.erase(0, n);
    return out;
  }
  /// POST with a JSON body and the web API's token; returns the status code (body read and dropped).
  int post(const std::string& path, const std::string& token, const std::string& body) {
    write_all(fmt::format("POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{}",
                          path, token, body.size(), body));
    auto head = read_until("\r\n\r\n");
    int status = std::atoi(head.c_str() + 9);
    std::size_t len = 0;
    for (auto p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2))
      if (strncasecmp(head.c_str() + p + 2, "content-length:", 15) == 0) len = std::stoul(head.substr(p + 17));
    read_n(len);
    return status;
  }

 private:
  int _fd = -1;
  std::string _buf;
};

/// An SSE subscription to one web-chat session; next_message() waits for a reply.
class session_stream {
 public:
  session_stream(std::uint16_t port, const std::string& token, const std::string& session) : _c(port) {
    _c.write_all(fmt::format("GET /api/stream?session={} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                             "Authorization: Bearer {}\r\n\r\n",
                             session, token));
    _c.read_until("\r\n\r\n");
  }
  /// Skips deltas and comments; returns the data of the next `message` event.
  std::string next_message(int timeout_ms = 30000) {
    for (;;) {
      auto ev = _c.read_until("\n\n", timeout_ms);
      if (ev.find("event: message") != std::string::npos) return ev;
    }
  }

 private:
  conn _c;
};

std::uint16_t web_port(const stack& s) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream f(s.runtime() + "/web.port");
    int port = 0;
    if (f >> port && port > 0) return static_cast<std::uint16_t>(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("chan-web did not write " + s.runtime() + "/web.port");
}

/// The web API's token, from the 0600 file chan-web creates (it exists once the port file does).
std::string web_token(const stack& s) {
  std::ifstream f(s.dir() + "/home/channels/web/token");
  std::string t;
  if (!(f >> t)) throw std::runtime_error("chan-web did not write " + s.dir() + "/home/channels/web/token");
  return t;
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

/// Conversations of this many turns: each turn sends its session's history to the model,
/// so one endless session would measure the growing prompt, not the gateway.
constexpr int turns_per_session = 20;

std::string message_body(const std::string& session, int i) {
  return fmt::format(R"({{"session":"{}","text":"turn {}"}})", session, i);
}

void bench_latency(int turns) {
  fakes::instant_llm llm;
  stack s(stack_config(llm.port()));
  s.start();
  auto port = web_port(s);
  auto token = web_token(s);
  conn c(port);
  std::vector<double> us, accepted_us;
  std::unique_ptr<session_stream> stream;
  std::string session;
  for (int i = 0; i < turns + 50; ++i) {
    if (i % turns_per_session == 0) {
      session = fmt::format("lat-{}", i);
      stream = std::make_unique<session_stream>(port, token, session);
    }
    auto t0 = clk::now();
    if (auto st = c.post("/api/messages", token, message_body(session, i)); st / 100 != 2)
      throw std::runtime_error(fmt::format("POST /api/messages answered {}", st));
    auto t1 = clk::now();
    stream->next_message();
    if (i >= 50) {  // 50 warm-up turns
      us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      accepted_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  fmt::print("turn latency, web chat in (HTTP POST) → reply out (SSE), instant fake LLM, {} turns one at a time:\n",
             turns);
  fmt::print("  p50 {:.0f} µs   p90 {:.0f} µs   p99 {:.0f} µs   max {:.0f} µs   (LLM requests seen: {})\n",
             pct(us, 0.5), pct(us, 0.9), pct(us, 0.99), pct(us, 1.0), llm.requests());
  fmt::print("  of which POST answered (stored durably by the router): p50 {:.0f} µs   p99 {:.0f} µs\n",
             pct(accepted_us, 0.5), pct(accepted_us, 0.99));
}

struct load_result {
  double seconds;
  std::uint64_t replies, failures;
};

load_result run_load(std::uint16_t port, const std::string& token, int turns, int concurrency) {
  std::atomic<int> next{0};
  std::atomic<std::uint64_t> replies{0}, failures{0};
  std::vector<std::thread> ts;
  auto t0 = clk::now();
  for (int w = 0; w < concurrency; ++w)
    ts.emplace_back([&, w] {
      try {
        conn c(port);
        std::unique_ptr<session_stream> stream;
        std::string session;
        for (int i, k = 0; (i = next++) < turns; ++k) {
          if (k % turns_per_session == 0) {
            session = fmt::format("load-{}-{}-{}", w, k, std::chrono::steady_clock::now().time_since_epoch().count());
            stream = std::make_unique<session_stream>(port, token, session);
          }
          if (c.post("/api/messages", token, message_body(session, i)) / 100 != 2) {
            ++failures;
            continue;
          }
          stream->next_message();
          ++replies;
        }
      } catch (const std::exception& e) {
        fmt::print(stderr, "worker {}: {}\n", w, e.what());
        ++failures;
      }
    });
  for (auto& t : ts) t.join();
  return {std::chrono::duration<double>(clk::now() - t0).count(), replies.load(), failures.load()};
}

void bench_throughput(int turns, int concurrency) {
  fakes::instant_llm llm;
  stack s(stack_config(llm.port()));
  s.start();
  auto port = web_port(s);
  auto token = web_token(s);
  run_load(port, token, 200, concurrency);  // warm-up
  auto r = run_load(port, token, turns, concurrency);
  fmt::print("sustained turns, concurrency {}, {} turns:\n", concurrency, turns);
  fmt::print("  {:.0f} turns/s   replies {} of {}   failures {}\n", static_cast<double>(r.replies) / r.seconds,
             r.replies, turns, r.failures);
}

long stack_pss(const stack& s, bool print) {
  long total = pss_kb(s.pid());
  if (print) fmt::print("  {:<20} {:>6} kB\n", "weftd", total);
  for (auto c : children_of(s.pid())) {
    auto k = pss_kb(c);
    total += k;
    if (print) fmt::print("  {:<20} {:>6} kB\n", comm(c), k);
  }
  return total;
}

void bench_pss(int turns) {
  fakes::instant_llm llm;
  stack s(stack_config(llm.port()));
  s.start();
  auto port = web_port(s);
  auto token = web_token(s);
  run_load(port, token, 50, 4);
  fmt::print("memory of the default stack (sum of PSS), idle after 50 turns:\n");
  auto idle = stack_pss(s, true);
  fmt::print("  total {:.1f} MB\n", idle / 1024.0);
  std::vector<long> trend;
  int steps = 10;
  for (int k = 0; k < steps; ++k) {
    run_load(port, token, turns / steps, 16);
    trend.push_back(stack_pss(s, false));
  }
  fmt::print("after {} more turns (16 at a time), PSS after each tenth: ", turns);
  for (auto t : trend) fmt::print("{:.1f} ", t / 1024.0);
  fmt::print("MB\n");
  stack_pss(s, true);
}

void bench_coldstart(int runs) {
  fakes::instant_llm llm;
  std::vector<double> ms;
  std::size_t services = 0;
  for (int i = 0; i < runs; ++i) {
    stack s(stack_config(llm.port()));
    ms.push_back(std::chrono::duration<double, std::milli>(s.start()).count());
    services = children_of(s.pid()).size();
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("cold start of the default stack to READY=1 ({} processes under weftd, {} runs):\n", services, runs);
  fmt::print("  median {:.1f} ms   min {:.1f} ms   max {:.1f} ms\n", ms[ms.size() / 2], ms.front(), ms.back());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);
  std::string what = argc > 1 ? argv[1] : "all";
  int turns = 10000, concurrency = 16, runs = 10, lat_turns = 2000;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--turns") turns = lat_turns = std::atoi(argv[i + 1]);
    else if (a == "--concurrency") concurrency = std::atoi(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  try {
    bool all = what == "all";
    if (all || what == "latency") bench_latency(lat_turns);
    if (all || what == "throughput") bench_throughput(turns, concurrency);
    if (all || what == "pss") bench_pss(turns);
    if (all || what == "coldstart") bench_coldstart(runs);
    if (!all && what != "latency" && what != "throughput" && what != "pss" && what != "coldstart") {
      fmt::print(stderr, "error: unknown benchmark '{}'\nTry: weft-bench-turns latency|throughput|pss|coldstart|all\n", what);
      return 2;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "Failed to run benchmark '{}': {}\n", what, e.what());
    return 1;
  }
  return 0;
}
