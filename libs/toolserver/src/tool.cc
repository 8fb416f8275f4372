#include <weft/toolserver/tool.hh>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::tools {

result<std::unique_ptr<cancel_signal>> cancel_signal::create() {
  unique_fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return fail(errc::io, "Failed to create the tools' cancel descriptor: {}", std::strerror(errno));
  return std::unique_ptr<cancel_signal>(new cancel_signal(std::move(fd)));
}

void cancel_signal::fire() {
  if (_flag.exchange(true)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(_fd.get(), &one, sizeof one);
}

result<std::string> string_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null())
    return tool::make(tool::error_code::bad_arguments, "missing required argument '{}'", name);
  if (!it->is_string()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a string", name);
  return it->get<std::string>();
}

result<std::optional<std::string>> optional_string_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a string", name);
  return std::optional<std::string>{it->get<std::string>()};
}

result<std::optional<std::uint64_t>> optional_uint_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<std::uint64_t>{};
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a non-negative integer", name);
  return std::optional<std::uint64_t>{it->get<std::uint64_t>()};
}

result<std::optional<bool>> optional_bool_arg(const json& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<bool>{};
  if (!it->is_boolean()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be true or false", name);
  return std::optional<bool>{it->get<bool>()};
}

result<std::vector<std::string>> string_list_arg(const json& args, std::string_view name) {
  std::vector<std::string> out;
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (!it->is_array())
    return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a list of strings", name);
  for (auto& v : *it) {
    if (!v.is_string()) return tool::make(tool::error_code::bad_arguments, "argument '{}' must be a list of strings", name);
    out.push_back(v.get<std::string>());
  }
  return out;
}

tool::result answer(std::string text, const json& structured) {
  tool::result r;
  r.content = std::move(text);
  r.structured = structured.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

result<tool::result> ran_and_failed(const error& e) {
  if (e.domain == tool::interface_name) return e;
  return tool::result{e.message, true, false};
}

std::string calling_agent(std::string_view caller) {
  if (caller.rfind("agent/", 0) != 0) return "";
  auto id = caller.substr(6);
  return std::string(id.substr(0, id.find('/')));
}

}  // namespace weft::tools
