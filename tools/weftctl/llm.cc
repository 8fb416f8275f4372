// weftctl llm — not built yet (issue 4 is building it); says so instead of pretending.
#include "commands.hh"

namespace weft::ctl {

int cmd_llm(const options&, const std::vector<std::string>&) {
  return failure("weftctl llm: not built yet in this version of weft");
}

}  // namespace weft::ctl
