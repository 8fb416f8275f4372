#pragma once
/// Typed errors and a result type, so libraries return failures instead of throwing
/// and every failure a person sees names its interface and code.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/core.h>

namespace weft {

/// A typed error: `domain` is the interface that defines it (`io.weft.Bus.v1`),
/// `code` its name there (`TooLarge`), `message` a sentence a person can act on.
struct error {
  std::string domain;
  std::string code;
  std::string message;

  /// "io.weft.Bus.v1.TooLarge: message of 2000000 bytes exceeds the limit of 1048576"
  std::string to_string() const;
  bool is(std::string_view d, std::string_view c) const { return domain == d && code == c; }
  bool operator==(const error&) const = default;
};

/// Errors raised by weft's own libraries (not by a protocol interface).
namespace errc {
inline constexpr std::string_view domain = "weft";
inline constexpr std::string_view invalid_argument = "InvalidArgument";
inline constexpr std::string_view io = "Io";
inline constexpr std::string_view timeout = "Timeout";
inline constexpr std::string_view malformed = "Malformed";
inline constexpr std::string_view not_found = "NotFound";
inline constexpr std::string_view config = "Config";
inline constexpr std::string_view unavailable = "Unavailable";
/// The work was stopped on request (a turn cancelled, a service stopping).
inline constexpr std::string_view cancelled = "Cancelled";
/// The address a server must listen on is taken by another process (EADDRINUSE).
inline constexpr std::string_view address_in_use = "AddressInUse";
}  // namespace errc

template <class... Args>
error make_error(std::string_view domain, std::string_view code, fmt::format_string<Args...> f,
                 Args&&... args) {
  return error{std::string(domain), std::string(code), fmt::format(f, std::forward<Args>(args)...)};
}

/// Shorthand for errors in weft's own domain.
template <class... Args>
error fail(std::string_view code, fmt::format_string<Args...> f, Args&&... args) {
  return make_error(errc::domain, code, f, std::forward<Args>(args)...);
}

/// std::expected-like holder of a value or an error (C++20 has no std::expected).
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : _v(std::in_place_index<0>, std::move(value)) {}
  result(error e) : _v(std::in_place_index<1>, std::move(e)) {}

  bool has_value() const { return _v.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(_v); }
  const T& value() const& { assert(has_value()); return std::get<0>(_v); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const { assert(!has_value()); return std::get<1>(_v); }
  error&& take_error() { assert(!has_value()); return std::get<1>(std::move(_v)); }

 private:
  std::variant<T, error> _v;
};

/// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : _e(std::move(e)), _failed(true) {}
  bool has_value() const { return !_failed; }
  explicit operator bool() const { return !_failed; }
  const error& err() const { assert(_failed); return _e; }
  error&& take_error() { assert(_failed); return std::move(_e); }

 private:
  error _e;
  bool _failed = false;
};

using status = result<void>;

}  // namespace weft

template <>
struct fmt::formatter<weft::error> : fmt::formatter<std::string_view> {
  auto format(const weft::error& e, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(e.to_string(), ctx);
  }
};
