#pragma once
/// Golden test values: each generated message's schema test value, its encoding, and a
/// check that decoding those bytes gives the value back. Tests compare the encoding with
/// the committed file proto/golden/<type>.hex, so an encoding change fails the suite.

#include <functional>
#include <string>
#include <string_view>

#include <weft/base/result.hh>

namespace weft::wire {

struct golden_case {
  std::string type;                                  ///< "io.weft.Bus.v1.Hello"
  std::string encoded;                               ///< encoding of the test value
  std::function<status(std::string_view)> decodes;   ///< decodes bytes, compares to the test value
};

}  // namespace weft::wire
