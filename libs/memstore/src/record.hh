#pragma once
// The msgpack payloads of segment and snapshot records: one map per record, "t" names the
// type; unknown keys are ignored so later versions can add fields.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/memstore/types.hh>

#include "file.hh"

namespace weft::memstore::detail {

enum class record_type : std::uint8_t { entry = 1, vector = 2, tombstone = 3, wipe = 4 };

std::string encode_entry(const entry& e);
std::string encode_vector(std::string_view id, std::span<const float> v, std::string_view model);
std::string encode_tombstone(std::string_view id);
std::string encode_wipe();

struct record {
  record_type type{};
  entry e;                 ///< type entry
  std::string id, model;   ///< vector, tombstone (id)
  std::vector<float> v;    ///< vector (when decoded with vectors)
};

/// Decodes a payload; `with_vector` false leaves record::v empty (replay before a checkpoint).
result<record> decode_record(std::string_view payload, bool with_vector = true);

/// Frames a payload: [u32 length][u32 crc32c(length bytes + payload)].
std::string frame(std::string_view payload);

/// Checks the framed record at `off` against [off, limit): its payload when whole and
/// intact, else Corrupt saying why (torn frame, length out of range, checksum mismatch).
result<std::string_view> check_frame(window& win, std::uint64_t off, std::uint64_t limit,
                                     std::uint32_t max_record);

}  // namespace weft::memstore::detail
