// libFuzzer target: a plugin's key-value file as weft-plugin-host reads it back
// (services/plugin-host kv_store.cc, compiled here on its own) — a file under the agent's
// workspace, which the agent's own tools can write. Any bytes: an error or a store within
// its bounds, never a crash.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "services/plugin-host/kv_store.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/weft-fuzz-kv-" + std::to_string(::getpid()) + "/kv";
  static bool made = [] {
    std::string dir = path.substr(0, path.rfind('/'));
    return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
  }();
  if (!made) return 0;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto s = weft::plugin_host::kv_store::open(path);
  if (s && s->bytes() > (1u << 20)) std::abort();
  return 0;
}
