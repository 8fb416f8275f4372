#pragma once
/// A callable that may own move-only state, such as a service::responder captured by a
/// timer's callback: std::function must be copyable and so cannot hold one. C++20 has no
/// std::move_only_function (C++23); this is the part of it weft needs.

#include <memory>
#include <type_traits>
#include <utility>

namespace weft {

template <class Sig>
class unique_function;

template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() = default;
  unique_function(std::nullptr_t) {}
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function> &&
                                              std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
  unique_function(F&& f) : _f(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(f))) {}
  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;

  explicit operator bool() const { return _f != nullptr; }
  R operator()(Args... args) { return _f->call(std::forward<Args>(args)...); }

 private:
  struct base {
    virtual ~base() = default;
    virtual R call(Args... args) = 0;
  };
  template <class F>
  struct holder final : base {
    explicit holder(F f) : fn(std::move(f)) {}
    R call(Args... args) override { return fn(std::forward<Args>(args)...); }
    F fn;
  };
  std::unique_ptr<base> _f;
};

}  // namespace weft
