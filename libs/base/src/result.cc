#include <weft/base/result.hh>

namespace weft {

std::string error::to_string() const {
  if (domain.empty()) return fmt::format("{}: {}", code, message);
  return fmt::format("{}.{}: {}", domain, code, message);
}

}  // namespace weft
