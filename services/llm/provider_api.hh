#pragma once
/// The two provider wire styles (OpenAI chat completions, Anthropic Messages) as pure
/// functions: a Complete becomes an HTTP request, a response body becomes a Completion,
/// an error body becomes one sentence. No I/O here, so every shape is unit-tested.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/http/client.hh>
#include <weft/service/config.hh>

#include "proto/llm_v1.hh"

namespace weft::llm {

namespace lv = weft::proto::llm_v1;

/// Responses larger than this are refused as Malformed (a runaway or hostile upstream).
inline constexpr std::size_t max_response_bytes = 16u << 20;
/// Anthropic requires max_tokens; this is used when the request leaves it at 0.
inline constexpr std::uint32_t anthropic_default_max_tokens = 4096;
/// Texts per Embed request.
inline constexpr std::size_t max_embed_inputs = 256;

/// One HTTP request to a provider, ready for libs/http's client: always a POST, its body
/// JSON; `stream` when the answer is an SSE stream.
using http_request = http::client_request;

/// Builds the chat request for `p`'s style; BadRequest when the Complete is invalid
/// (no messages, a tool schema or tool-call arguments that are not JSON objects).
result<http_request> build_complete_request(const service::provider_settings& p, const std::string& model,
                                            const lv::complete& c, bool stream);

/// Builds an OpenAI-compatible embeddings request.
result<http_request> build_embed_request(const service::provider_settings& p, const std::string& model,
                                         const std::vector<std::string>& inputs);

/// Parses a non-streamed 2xx chat response; Malformed when it is not the API's shape.
/// Fills text, tool_calls, stop_reason, model and token counts (not provider or cost).
result<lv::completion> parse_complete_response(service::api_style style, std::string_view body);

/// Parses an embeddings response: one vector per input, matched by `index`, each as
/// little-endian float32; Malformed when a vector is missing or dimensions differ.
result<lv::embeddings> parse_embed_response(std::string_view body, std::size_t inputs);

/// The provider's own words from an error body ({"error":{"message":…}} in both styles),
/// or a short excerpt of the body when it has no such field.
std::string error_message(std::string_view body);

/// The error's type from a body ("rate_limit_error", "overloaded_error", …), or "".
std::string error_type(std::string_view body);

/// Normalised stop reasons: stop, tool_calls, length, content_filter, refusal.
std::string normalise_stop_reason(service::api_style style, std::string_view reason);

/// Little-endian float32 bytes of a vector.
wire::bytes to_f32le(const std::vector<float>& v);

}  // namespace weft::llm
