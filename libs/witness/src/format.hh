#pragma once
/// The witness segment file format, shared by the writer and the verifier (docs/audit.md).
/// All integers big-endian.
///   header  (80 bytes) "WEFTWSEG" u16 version u16 0 u32 checkpoint_records u64 segment
///           u64 first_seq [32] continues_from [8] key_id i64 created_ns
///   frames  u32 length (of what follows) u8 type body
///     record      type 1: [32] prev [32] hash msgpack[seq, time, actor, kind, subject, detail]
///                 hash = SHA-256(prev ‖ msgpack bytes)
///     checkpoint  type 2: u64 count u64 last_seq [32] last_hash i64 time_ns [64] signature
///     seal        type 3: as checkpoint; the segment's last frame
///   signature = Ed25519 over "weft-witness-v1" ‖ type ‖ SHA-256(header) ‖ count ‖ last_seq
///               ‖ last_hash ‖ time_ns

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/witness/record.hh>

namespace weft::witness::detail {

inline constexpr std::string_view magic = "WEFTWSEG";
inline constexpr std::uint16_t version = 1;
inline constexpr std::size_t header_bytes = 80;
inline constexpr std::uint32_t max_frame_bytes = 1u << 20;
inline constexpr std::uint8_t frame_record = 1;
inline constexpr std::uint8_t frame_checkpoint = 2;
inline constexpr std::uint8_t frame_seal = 3;
inline constexpr std::size_t signature_bytes = 64;
inline constexpr std::size_t mark_body_bytes = 8 + 8 + 32 + 8 + signature_bytes;

using key_id = std::array<std::uint8_t, 8>;
using public_key = std::array<std::uint8_t, 32>;
using signature = std::array<std::uint8_t, signature_bytes>;

struct segment_header {
  std::uint32_t checkpoint_records = 0;
  std::uint64_t segment = 0;
  std::uint64_t first_seq = 1;
  digest continues_from{};
  detail::key_id key{};
  std::int64_t created_ns = 0;
};

std::string encode_header(const segment_header& h);
/// Errors with a reason (no file name): "bad magic", "version 7 is not supported", …
result<segment_header> decode_header(std::string_view bytes);

/// A checkpoint or seal.
struct mark {
  bool seal = false;
  std::uint64_t count = 0;     ///< records in the segment before it
  std::uint64_t last_seq = 0;  ///< 0 when the segment has none
  digest last_hash{};
  std::int64_t time_ns = 0;
  signature sig{};
};

/// The canonical msgpack bytes of a record.
std::string encode_record(const record& r);
/// Decodes and checks the bytes are canonical (re-encoding gives them back).
result<record> decode_record(std::string_view bytes);

digest sha256(std::string_view a, std::string_view b = {});
digest chain_hash(const digest& prev, std::string_view encoded);
std::string_view as_view(const digest& d);

/// A whole frame: length, type, body.
std::string record_frame(const digest& prev, const digest& hash, std::string_view encoded);
std::string mark_frame(const mark& m);
/// The bytes a mark's signature covers.
std::string mark_message(const mark& m, const digest& header_hash);

/// One frame found in a segment file.
struct frame {
  std::uint64_t offset = 0;  ///< of its length field
  std::uint64_t size = 0;    ///< whole frame
  std::uint8_t type = 0;
  std::string_view body;
};

/// Frames of a segment file's bytes after the header. Stops at the first bytes that are
/// no whole frame: `bad_offset` says where, `bad_reason` why, `tail_torn` whether the
/// rest looks like an interrupted write (frame runs past the end, or zeros).
struct frame_scan {
  std::vector<frame> frames;
  std::optional<std::uint64_t> bad_offset;
  std::string bad_reason;
  bool tail_torn = false;
};
frame_scan scan_frames(std::string_view file_bytes);

struct record_frame_view {
  digest prev{};
  digest hash{};
  std::string_view encoded;
};
result<record_frame_view> parse_record_frame(std::string_view body);
result<mark> parse_mark_frame(std::uint8_t type, std::string_view body);

/// Whether `region` (bytes after the last whole frame) holds a checkpoint or seal whose
/// signature verifies: then it is damage, not a torn write, since a crash tears only the
/// frame being written and nothing signed comes after it.
bool holds_signed_mark(std::string_view region, const digest& header_hash, const public_key& pk);

key_id id_of(const public_key& pk);
std::string to_hex(std::span<const std::uint8_t> b);

/// Reads `<dir>/witness.pub`-style text: "weft-witness-ed25519 <64 hex>\n".
result<public_key> read_public_key(const std::filesystem::path& file);
std::string public_key_text(const public_key& pk);

/// Reads a whole file (bounded).
result<std::string> read_file(const std::filesystem::path& file, std::uint64_t max_bytes);

/// Segment files in `dir`, sorted by number.
result<std::vector<std::pair<std::uint64_t, std::filesystem::path>>> list_segments(
    const std::filesystem::path& dir);

/// Big-endian helpers.
void put_u16(std::string& s, std::uint16_t v);
void put_u32(std::string& s, std::uint32_t v);
void put_u64(std::string& s, std::uint64_t v);
std::uint32_t get_u32(const char* p);
std::uint64_t get_u64(const char* p);

}  // namespace weft::witness::detail
