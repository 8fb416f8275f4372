// wasm_index.hh — micro_hnsw.wasm driven from the host, mirroring the native C calls.
//
// Places the index arena and an I/O area in the module's linear memory (via its own
// mh_reserve export), copies vectors in and results out. Shared by the test and the bench.
#pragma once

#include "wasm_host.hh"

#include <cstring>
#include <string>
#include <vector>

namespace weft::microhnsw {

class wasm_index {
  public:
    /// `error` is set (and the other calls must not be used) when any step fails.
    wasm_index(wasm_instance& wasm, unsigned dims, unsigned capacity, unsigned m, unsigned ef, unsigned seed,
               unsigned flags, unsigned max_k)
        : _wasm(wasm), _dims(dims), _max_k(max_k) {
        uint32_t bytes = call("mh_arena_size", {dims, capacity, m, ef});
        if (!error.empty()) return;
        if (bytes == 0) {
            error = "Failed to size the wasm index: parameters out of range";
            return;
        }
        _arena = call("mh_reserve", {bytes});
        _io = call("mh_reserve", {dims * 4 + max_k * 8});
        if (error.empty() && (_arena == 0 || _io == 0)) error = "Failed to reserve wasm memory";
        if (!error.empty()) return;
        _arena_bytes = bytes;
        _index = call("mh_init", {_arena, bytes, dims, capacity, m, ef, seed, flags});
        if (error.empty() && _index == 0) error = "Failed to initialise the wasm index";
    }

    /// Label of the inserted vector, or -1.
    int insert(const float* v) {
        std::memcpy(_wasm.memory() + _io, v, _dims * 4);
        return int(call("mh_insert", {_index, _io}));
    }

    unsigned set_ef(unsigned ef) { return call("mh_set_ef", {_index, ef}); }

    /// Fills `labels`/`scores` (resized to the count found).
    void search(const float* q, unsigned k, std::vector<unsigned>& labels, std::vector<float>& scores) {
        if (k > _max_k) k = _max_k;
        std::memcpy(_wasm.memory() + _io, q, _dims * 4);
        const uint32_t out_labels = _io + _dims * 4, out_scores = out_labels + k * 4;
        int n = int(call("mh_search", {_index, _io, k, out_labels, out_scores}));
        if (n < 0) n = 0;
        labels.resize(unsigned(n));
        scores.resize(unsigned(n));
        std::memcpy(labels.data(), _wasm.memory() + out_labels, size_t(n) * 4);
        std::memcpy(scores.data(), _wasm.memory() + out_scores, size_t(n) * 4);
    }

    /// The arena bytes as they sit in linear memory (for comparing with a native arena).
    const uint8_t* arena() { return _wasm.memory() + _arena; }
    uint32_t arena_bytes() const { return _arena_bytes; }

    std::string error;

  private:
    uint32_t call(const std::string& name, std::initializer_list<uint32_t> args) {
        wasm_call r = _wasm.call(name, args);
        if (!r.error.empty() && error.empty()) error = r.error;
        return r.value;
    }

    wasm_instance& _wasm;
    unsigned _dims, _max_k;
    uint32_t _arena = 0, _io = 0, _arena_bytes = 0, _index = 0;
};

}  // namespace weft::microhnsw
