#include <weft/service/paths.hh>

#include <cstdlib>
#include <unistd.h>

#include <fmt/core.h>

namespace weft::service {

namespace {
const char* env(const char* n) {
  const char* v = std::getenv(n);
  return v && *v ? v : nullptr;
}
}  // namespace

std::string runtime_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (auto v = env("WEFT_RUNTIME_DIR")) return v;
  if (auto v = env("RUNTIME_DIRECTORY")) return v;
  if (auto v = env("XDG_RUNTIME_DIR")) return std::string(v) + "/weft";
  return fmt::format("/tmp/weft-{}", ::getuid());
}

std::string home_dir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (auto v = env("WEFT_HOME")) return v;
  if (auto v = env("STATE_DIRECTORY")) return v;
  if (auto v = env("HOME")) return std::string(v) + "/.clawft";
  return "/var/lib/weft";
}

std::string bus_endpoint(const std::string& r) { return "ipc://" + r + "/bus"; }
std::string events_endpoint(const std::string& r) { return "ipc://" + r + "/events"; }
std::string control_endpoint(const std::string& r) { return "ipc://" + r + "/control"; }

}  // namespace weft::service
