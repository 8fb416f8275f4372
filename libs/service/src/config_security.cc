// [security]: install_severity, the scan severity at which `weftctl skill install` refuses
// (issue 20). The rest of [security] belongs to features not built yet: accepted with a warning.
#include "config_check.hh"

namespace weft::service::detail {

void read_security(checker& ck, const toml::table& t, config& c) {
  for (auto& [k, v] : t) {
    if (k.str() == "install_severity") {
      // The scanner's levels (libs/scan, a tier above this one, names the same five).
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> levels = {
          {{"info", "info"}, {"low", "low"}, {"medium", "medium"}, {"high", "high"}, {"critical", "critical"}}};
      if (auto l = ck.read_enum(t, "[security]", "install_severity", levels)) c.security.install_severity = *l;
    } else {
      ck.warning(v.source(), fmt::format("'[security] {}' is not supported by this build yet, ignoring.", clean(k.str())));
    }
  }
}

}  // namespace weft::service::detail
