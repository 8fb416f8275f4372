#include <doctest/doctest.h>

#include <weft/base/log.hh>
#include <weft/ipc/builtin.hh>

using namespace weft;
namespace bus = weft::proto::bus_v1;

namespace {
ipc::message set_level(std::string from, std::string spec) {
  ipc::message m;
  m.env.kind = bus::kind::request;
  m.env.type = bus::set_log_level::type_name;
  m.env.from = std::move(from);
  m.payload = wire::encode(bus::set_log_level{std::move(spec)});
  return m;
}
}  // namespace

TEST_CASE("SetLogLevel: admins change levels at run time; others are denied; bad specs refused") {
  auto& lg = log::get("sltest");
  REQUIRE(log::configure("info"));
  auto ok = ipc::set_log_level(set_level("ctl/42", "warning,sltest=trace"));
  REQUIRE(ok);
  CHECK(ok->spec == "warning,sltest=trace");
  CHECK(lg.threshold() == log::level::trace);

  auto denied = ipc::set_log_level(set_level("agent/main", "error"));
  REQUIRE_FALSE(denied);
  CHECK(bus::is(denied.err(), bus::error_code::denied));
  CHECK(lg.threshold() == log::level::trace);

  auto bad = ipc::set_log_level(set_level("weftd", "loud"));
  REQUIRE_FALSE(bad);
  CHECK(bus::is(bad.err(), bus::error_code::bad_request));
  REQUIRE(log::configure("info"));
}
