#pragma once
/// A bus message as a service sees it: the decoded envelope plus the raw payload bytes,
/// decoded on demand into the generated type the handler expects.

#include <string>

#include <zmq.hpp>

#include <weft/wire/codec.hh>

#include "proto/bus_v1.hh"

namespace weft::ipc {

namespace bus = weft::proto::bus_v1;

struct message {
  bus::envelope env;
  std::string payload;  ///< msgpack map of env.type; empty is an empty map

  bool is(std::string_view type) const { return env.type == type; }
  bool is_error() const { return env.kind == bus::kind::error; }

  /// Decodes the payload as T; a wrong or corrupt payload is a typed BadRequest error.
  template <class T>
  result<T> as() const {
    if (payload.empty()) return wire::decode<T>(std::string_view("\x80", 1));
    auto r = wire::decode<T>(payload);
    if (!r) return bus::make(bus::error_code::bad_request, "payload of '{}' does not decode: {}", env.type,
                             r.err().message);
    return r;
  }

  /// For error envelopes: the carried error (domain, code, message).
  error to_error() const;
};

/// Given the header frame of a message just received on `s` (after any routing or topic
/// frames the caller read), reads its payload frame, drains frames beyond the protocol's
/// two, and decodes the envelope within `lim`.
result<message> read_rest(zmq::socket_t& s, zmq::message_t& header, const wire::limits& lim = {});

/// Builds the header frame of an outgoing message.
std::string encode_header(bus::kind k, std::string_view type, std::uint64_t id, std::string_view to,
                          std::string_view from = {});

}  // namespace weft::ipc
