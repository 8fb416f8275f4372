// weft-bench-wasm-engines — measures the WASM engines weft could run plugins on (issue 19),
// on tests/wasm/guest.wasm (freestanding C compiled by clang --target=wasm32):
//   - wabt's interpreter through libs/wasm, metered (as shipped) and unmetered;
//   - wasm2c in process: the module translated and compiled into this binary at build time
//     (only possible for modules known when weft is built), metered and unmetered;
//   - wasm2c as a per-plugin executable: what a plugin installed at run time would need —
//     wasm2c on the metered module, cc on the C, a process started per plugin, calls and
//     host calls over a pipe. Built here at run time, each step timed.
// Per engine: module load + instantiate (p50/p99), an empty host-call round trip
// (wasm -> host -> wasm), and FNV-1a over 1 MiB of linear memory against the same loop
// compiled natively. Figures go to stdout (docs/benchmarks.md); progress to stderr.
// Not installed; not a test.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/command.hh>
#include <weft/base/fd.hh>
#include <weft/wasm/engine.hh>

#include "tools/bench/measure.hh"
#include "w2c_glue.h"

using namespace weft;
using clk = std::chrono::steady_clock;

namespace {

constexpr std::string_view help = R"(Usage: weft-bench-wasm-engines [--runs N] [--no-exe]

Measures the WASM engines weft could run untrusted plugins on, on tests/wasm/guest.wasm:
wabt's interpreter (libs/wasm; metered as shipped, and unmetered), wasm2c compiled into
this binary at build time (metered and not), and wasm2c as a per-plugin executable built
at run time (wasm2c + cc, a process per plugin, calls over a pipe). Prints load +
instantiate p50/p99, the empty host-call round trip, and FNV-1a over 1 MiB against native.

Options:
  --runs N   repetitions of each timed step (default 200; the exe path uses N/10 starts)
  --no-exe   skip the per-plugin executable path (needs wasm2c and cc in PATH)
  --help     this text
)";

constexpr std::uint32_t mib = 1u << 20;

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr, "error: %s\nTry --help.\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(1);
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("Failed to open '" + path + "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void fill(std::uint8_t* p, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 31u + (i >> 9));
}

/// The same loop as guest.c's fnv1a, compiled by the host compiler.
__attribute__((noinline)) std::uint32_t native_fnv1a(const std::uint8_t* p, std::uint32_t n) {
  std::uint32_t h = 2166136261u;
  for (std::uint32_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }

struct row {
  std::string engine;
  bench::figures load_inst{};     ///< ms
  std::optional<bench::figures> inst;  ///< ms, instantiate alone
  double host_call_ns = 0;
  double fnv_ms = 0;
  std::string note;
};

// ---- the interpreter, through libs/wasm

row measure_interp(const std::vector<std::uint8_t>& bytes, bool meter, int runs, double native_ms,
                   std::uint32_t expect) {
  auto eng = wasm::engine::create(wasm::engine_kind::interpreter);
  std::uint64_t nops = 0;
  const wasm::func_type ii_i{{wasm::value_type::i32, wasm::value_type::i32}, {wasm::value_type::i32}};
  std::vector<wasm::host_function> host{
      {"env", "add", ii_i,
       [](wasm::host_call& c) -> result<std::vector<wasm::value>> {
         return std::vector<wasm::value>{wasm::value::i32(c.args[0].as_u32() + c.args[1].as_u32())};
       }},
      {"env", "log", {{wasm::value_type::i32, wasm::value_type::i32}, {}},
       [](wasm::host_call&) -> result<std::vector<wasm::value>> { return std::vector<wasm::value>{}; }},
      {"env", "nop", {{}, {}},
       [&nops](wasm::host_call&) -> result<std::vector<wasm::value>> {
         ++nops;
         return std::vector<wasm::value>{};
       }},
  };
  wasm::load_options opts{.name = "guest.wasm", .meter = meter};
  auto check = [](auto&& r) -> decltype(auto) {
    if (!r) die(r.err().to_string());
    return std::move(*r);
  };

  row out;
  out.engine = meter ? "wabt interpreter, metered (shipped)" : "wabt interpreter, unmetered";
  out.load_inst = bench::measure(runs, [&] {
    auto m = check(eng->load(bytes, opts));
    auto i = check(eng->instantiate(*m, host, {}));
  });
  auto m = check(eng->load(bytes, opts));
  out.inst = bench::measure(runs, [&] { auto i = check(eng->instantiate(*m, host, {})); });

  auto inst = check(eng->instantiate(*m, host, {}));
  constexpr std::uint32_t pings = 100000;
  std::vector<double> per;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clk::now();
    check(inst->call("ping", std::vector<wasm::value>{wasm::value::i32(pings)}));
    per.push_back(ms_since(t0) * 1e6 / pings);
  }
  std::sort(per.begin(), per.end());
  out.host_call_ns = per[per.size() / 2];
  if (nops != 5ull * pings) die("the interpreter's host calls did not all arrive");

  const std::uint32_t buf = check(inst->call("buffer", {}))[0].as_u32();
  auto span = check(inst->memory().span(buf, mib));
  fill(span.data(), mib);
  std::vector<double> fnv;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clk::now();
    auto h = check(inst->call("fnv1a", std::vector<wasm::value>{wasm::value::i32(buf), wasm::value::i32(mib)}));
    fnv.push_back(ms_since(t0));
    if (h[0].as_u32() != expect) die("the interpreter's fnv1a differs from the native one");
  }
  std::sort(fnv.begin(), fnv.end());
  out.fnv_ms = fnv[fnv.size() / 2];
  if (meter)
    out.note = "fuel for 1 MiB: " + std::to_string(inst->fuel_used()) + " (" +
               std::to_string(inst->fuel_used() / mib) + " per byte)";
  (void)native_ms;
  return out;
}

// ---- wasm2c compiled in at build time

struct w2c_variant {
  const char* name;
  int (*make)();
  void (*free)();
  std::uint8_t* (*memory)();
  std::uint32_t (*buffer)();
  std::uint32_t (*fnv)(std::uint32_t, std::uint32_t);
  int (*ping)(std::uint32_t);
};

row measure_w2c(const w2c_variant& v, int runs, std::uint32_t expect) {
  row out;
  out.engine = v.name;
  out.load_inst = bench::measure(runs, [&] {
    if (v.make() != 0) die("wasm2c instantiate trapped");
    v.free();
  });
  if (v.make() != 0) die("wasm2c instantiate trapped");
  constexpr std::uint32_t pings = 1000000;
  std::vector<double> per;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clk::now();
    if (v.ping(pings) != 0) die("wasm2c ping trapped");
    per.push_back(ms_since(t0) * 1e6 / pings);
  }
  std::sort(per.begin(), per.end());
  out.host_call_ns = per[per.size() / 2];
  const std::uint32_t buf = v.buffer();
  fill(v.memory() + buf, mib);
  std::vector<double> fnv;
  for (int r = 0; r < 20; ++r) {
    auto t0 = clk::now();
    std::uint32_t h = v.fnv(buf, mib);
    fnv.push_back(ms_since(t0));
    if (h != expect) die("wasm2c's fnv1a differs from the native one");
  }
  std::sort(fnv.begin(), fnv.end());
  out.fnv_ms = fnv[fnv.size() / 2];
  v.free();
  out.note = "module fixed at build time";
  return out;
}

// ---- wasm2c as a per-plugin executable, built now

/// A child process spoken to by lines over two pipes.
class runner_process {
 public:
  runner_process(const std::string& exe) {
    int in[2], outp[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(outp, O_CLOEXEC) != 0) die("pipe failed");
    unique_fd in_r(in[0]), in_w(in[1]), out_r(outp[0]), out_w(outp[1]);
    _pid = ::fork();
    if (_pid < 0) die("fork failed");
    if (_pid == 0) {
      ::dup2(in_r.get(), 0);
      ::dup2(out_w.get(), 1);
      ::execl(exe.c_str(), exe.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    _to = std::move(in_w);
    _from = std::move(out_r);
  }
  ~runner_process() {
    say("quit");
    _to.reset();
    int status = 0;
    ::waitpid(_pid, &status, 0);
  }
  void say(std::string_view line) {
    std::string s(line);
    s += '\n';
    if (::write(_to.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size())) die("write to the runner failed");
  }
  std::string hear() {
    for (;;) {
      auto nl = _buf.find('\n');
      if (nl != std::string::npos) {
        std::string line = _buf.substr(0, nl);
        _buf.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      ssize_t n = ::read(_from.get(), chunk, sizeof chunk);
      if (n <= 0) die("the runner ended early");
      _buf.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t _pid = -1;
  unique_fd _to, _from;
  std::string _buf;
};

double run_step(const std::string& what, const std::string& exe, std::vector<std::string> argv) {
  command_spec spec;
  spec.exec = exe;
  spec.argv = std::move(argv);
  spec.env = {"PATH=/usr/bin:/bin"};
  std::string output;
  auto t0 = clk::now();
  auto r = run_command(spec, {.timeout = std::chrono::minutes(5)}, -1, [&](std::string_view s) {
    output += s;
    return true;
  });
  double ms = ms_since(t0);
  if (!r) die("Failed to " + what + ": " + r.err().message);
  if (!r->succeeded()) die("Failed to " + what + ": " + r->describe() + "\n" + output);
  return ms;
}

struct exe_figures {
  double translate_ms = 0, cc_ms = 0;
  std::uintmax_t c_bytes = 0, exe_bytes = 0;
  row r;
  double call_us = 0;
};

std::optional<exe_figures> measure_exe(const std::vector<std::uint8_t>& bytes, int runs, std::uint32_t expect) {
  const char* path = std::getenv("PATH");
  auto wasm2c = find_executable("wasm2c", path ? path : "/usr/bin:/bin");
  auto cc = find_executable("cc", path ? path : "/usr/bin:/bin");
  const std::string runtime = "/usr/share/wabt/wasm2c";
  if (!wasm2c || !cc || !std::filesystem::exists(runtime + "/wasm-rt-impl.c")) {
    std::fprintf(stderr, "skipping the per-plugin executable: wasm2c, cc or %s/wasm-rt-impl.c missing\n",
                 runtime.c_str());
    return std::nullopt;
  }
  char tmpl[] = "/tmp/weft-bench-wasm2c-XXXXXX";
  if (!::mkdtemp(tmpl)) die("mkdtemp failed");
  const std::string dir = tmpl;
  auto metered = wasm::meter(bytes, {.name = "guest.wasm"});
  if (!metered) die(metered.err().to_string());
  {
    std::ofstream f(dir + "/plugin.wasm", std::ios::binary);
    f.write(reinterpret_cast<const char*>(metered->data()), static_cast<std::streamsize>(metered->size()));
  }
  exe_figures out;
  std::fprintf(stderr, "wasm2c: translating and compiling a per-plugin executable in %s\n", dir.c_str());
  out.translate_ms = run_step("translate with wasm2c", *wasm2c,
                              {"wasm2c", "-n", "plugin", dir + "/plugin.wasm", "-o", dir + "/plugin.c"});
  out.c_bytes = std::filesystem::file_size(dir + "/plugin.c");
  out.cc_ms = run_step("compile with cc", *cc,
                       {"cc", "-O2", "-I" + runtime, "-I" + dir, "-o", dir + "/runner", dir + "/plugin.c",
                        std::string(WEFT_SOURCE_ROOT) + "/tools/bench/wasm_engines/runner.c",
                        runtime + "/wasm-rt-impl.c", "-lm"});
  out.exe_bytes = std::filesystem::file_size(dir + "/runner");
  const std::string exe = dir + "/runner";

  out.r.engine = "wasm2c, per-plugin executable (metered)";
  const int starts = std::max(5, runs / 10);
  out.r.load_inst = bench::measure(starts, [&] {
    runner_process p(exe);
    if (p.hear() != "ready") die("the runner did not start");
  });
  runner_process p(exe);
  if (p.hear() != "ready") die("the runner did not start");
  p.say("inst " + std::to_string(runs));
  {
    unsigned long long p50 = 0, p99 = 0;
    std::sscanf(p.hear().c_str(), "%llu %llu", &p50, &p99);
    out.r.inst = bench::figures{p50 / 1e6, p99 / 1e6};
  }
  auto call = bench::measure(2000, [&] {
    p.say("add 1 2");
    if (p.hear() != "3") die("the runner's add is wrong");
  });
  out.call_us = call.p50 * 1000;
  constexpr int pings = 20000;
  auto t0 = clk::now();
  p.say("ping " + std::to_string(pings));
  int seen = 0;
  for (std::string line = p.hear(); line != "done"; line = p.hear()) {
    if (line != "h") die("unexpected runner line '" + line + "'");
    ++seen;
    p.say("ok");
  }
  if (seen != pings) die("host calls lost");
  out.r.host_call_ns = ms_since(t0) * 1e6 / pings;
  std::vector<double> fnv;
  for (int r = 0; r < 20; ++r) {
    p.say("fnv " + std::to_string(mib));
    unsigned h = 0;
    unsigned long long ns = 0;
    std::sscanf(p.hear().c_str(), "%u %llu", &h, &ns);
    if (h != expect) die("the runner's fnv1a differs from the native one");
    fnv.push_back(ns / 1e6);
  }
  std::sort(fnv.begin(), fnv.end());
  out.r.fnv_ms = fnv[fnv.size() / 2];
  out.r.note = "load = process start to ready";
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  bool exe = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help") {
      std::fwrite(help.data(), 1, help.size(), stdout);
      return 0;
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
      if (runs < 10) usage("--runs must be at least 10");
    } else if (a == "--no-exe") {
      exe = false;
    } else {
      usage("unknown option '" + std::string(a) + "'");
    }
  }

  const auto bytes = read_file(WEFT_GUEST_WASM);
  std::vector<std::uint8_t> data(mib);
  fill(data.data(), mib);
  std::vector<double> nat;
  std::uint32_t expect = 0;
  for (int r = 0; r < 20; ++r) {
    auto t0 = clk::now();
    expect = native_fnv1a(data.data(), mib);
    nat.push_back(ms_since(t0));
  }
  std::sort(nat.begin(), nat.end());
  const double native_ms = nat[nat.size() / 2];

  std::vector<row> rows;
  std::fprintf(stderr, "interpreter (metered, unmetered)\n");
  rows.push_back(measure_interp(bytes, true, runs, native_ms, expect));
  rows.push_back(measure_interp(bytes, false, runs, native_ms, expect));
  std::fprintf(stderr, "wasm2c in process (metered, unmetered)\n");
  w2c_init();
  rows.push_back(measure_w2c({"wasm2c in process, metered", w2c_metered_new, w2c_metered_free, w2c_metered_memory,
                              w2c_metered_buffer, w2c_metered_fnv, w2c_metered_ping},
                             runs, expect));
  rows.push_back(measure_w2c({"wasm2c in process, unmetered", w2c_plain_new, w2c_plain_free, w2c_plain_memory,
                              w2c_plain_buffer, w2c_plain_fnv, w2c_plain_ping},
                             runs, expect));
  std::optional<exe_figures> ex;
  if (exe) ex = measure_exe(bytes, runs, expect);
  if (ex) rows.push_back(ex->r);

  std::printf("WASM engines on guest.wasm (%zu bytes; tests/wasm/guest.c, clang -O2 --target=wasm32)\n", bytes.size());
  std::printf("native FNV-1a over 1 MiB: %.3f ms\n\n", native_ms);
  std::printf("| engine | load+instantiate p50 / p99 | instantiate alone p50 / p99 | host call round trip | FNV-1a 1 MiB | vs native | note |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const row& r : rows) {
    std::string inst = r.inst ? fmt::format("{:.3f} / {:.3f} ms", r.inst->p50, r.inst->p99) : "—";
    std::printf("| %s | %.3f / %.3f ms | %s | %.0f ns | %.2f ms | %.1f× | %s |\n", r.engine.c_str(), r.load_inst.p50,
                r.load_inst.p99, inst.c_str(), r.host_call_ns, r.fnv_ms, r.fnv_ms / native_ms, r.note.c_str());
  }
  if (ex) {
    std::printf("\nper-plugin executable: wasm2c %.0f ms (%ju bytes of C), cc -O2 %.0f ms (%ju-byte executable), "
                "a host -> plugin call over the pipe %.1f µs p50\n",
                ex->translate_ms, ex->c_bytes, ex->cc_ms, ex->exe_bytes, ex->call_us);
  }
  return 0;
}
