// [memory]: the memory service and what agents do with it (issue 4).
#include "config_check.hh"

namespace weft::service::detail {

namespace {

void read_shares(checker& ck, const toml::node& n, config& c) {
  auto* shares = n.as_array();
  if (!shares) {
    ck.error(n.source(), fmt::format("[memory] shares must be an array of tables ([[memory.shares]]), not {}",
                                     a_type(n)));
    return;
  }
  for (std::size_t i = 0; i < shares->size(); ++i) {
    auto label = fmt::format("memory.shares[{}]", i);
    auto* st = shares->get(i)->as_table();
    if (!st) {
      ck.error(shares->get(i)->source(), fmt::format("{} must be a table, not {}", label, a_type(*shares->get(i))));
      continue;
    }
    ck.check_keys(*st, label, {"owner", "readers"});
    memory_share s;
    s.where = ck.where(st->source());
    auto agents = keys_of(c.agents);
    if (auto owner = ck.read_required(*st, label, "owner")) {
      s.owner = *owner;
      check_reference(ck, *st, label, "owner", *owner, agents, "an agent in [agents]");
    }
    if (!st->contains("readers"))
      ck.error(st->source(), fmt::format("{} needs 'readers', the agents that may search {}'s memory", label,
                                         s.owner.empty() ? "the owner" : clean(s.owner)));
    if (auto readers = ck.read_strings(*st, label, "readers")) {
      for (auto& r : *readers) {
        if (!c.agents.count(r))
          ck.error(st->get("readers")->source(), fmt::format("{} readers names agent '{}', which is not in [agents]{}",
                                                             label, clean(r), suggestion(r, agents)));
        else if (r == s.owner)
          ck.warning(st->get("readers")->source(),
                     fmt::format("{} readers names the owner '{}' itself; an agent always reads its own memory",
                                 label, clean(r)));
      }
      s.readers = std::move(*readers);
    }
    c.memory.shares.push_back(std::move(s));
  }
}

}  // namespace

void read_memory(checker& ck, const toml::table& t, config& c) {
  const std::string label = "[memory]";
  auto& m = c.memory;
  ck.check_keys(t, label,
                {"enabled", "keyword_weight", "vector_weight", "recency_weight", "recency_half_life_days", "mmr_lambda",
                 "max_text_bytes", "segment_mb", "checkpoint_s", "summarise_after_messages", "summary_keep_messages",
                 "hot_days", "warm_days", "hot_min_hits", "ef_search", "shares"});
  m.enabled = ck.read_bool(t, label, "enabled").value_or(m.enabled);
  for (auto [key, field] : {std::pair{"keyword_weight", &m.keyword_weight}, {"vector_weight", &m.vector_weight},
                            {"recency_weight", &m.recency_weight}})
    *field = ck.read_non_negative(t, label, key).value_or(*field);
  if (t.contains("keyword_weight") || t.contains("vector_weight"))
    if (m.keyword_weight == 0 && m.vector_weight == 0)
      ck.error(t.source(), fmt::format("{} keyword_weight and vector_weight are both 0: search could rank nothing",
                                       label));
  if (auto h = ck.read_non_negative(t, label, "recency_half_life_days")) {
    if (*h == 0) ck.error(t.get("recency_half_life_days")->source(),
                          fmt::format("{} recency_half_life_days must be more than 0", label));
    else m.recency_half_life_days = *h;
  }
  if (auto l = ck.read_non_negative(t, label, "mmr_lambda")) {
    if (*l > 1) ck.error(t.get("mmr_lambda")->source(),
                         fmt::format("{} mmr_lambda must be between 0 and 1, not {}", label, *l));
    else m.mmr_lambda = *l;
  }
  m.max_text_bytes = ck.read_uint<std::uint32_t>(t, label, "max_text_bytes", 256, 4u << 20).value_or(m.max_text_bytes);
  m.segment_mb = ck.read_uint<std::uint32_t>(t, label, "segment_mb", 1, 4096).value_or(m.segment_mb);
  m.checkpoint_s = ck.read_uint<std::uint32_t>(t, label, "checkpoint_s", 5, 86400).value_or(m.checkpoint_s);
  m.summarise_after_messages =
      ck.read_uint<std::uint32_t>(t, label, "summarise_after_messages", 0, 100000).value_or(m.summarise_after_messages);
  m.summary_keep_messages =
      ck.read_uint<std::uint32_t>(t, label, "summary_keep_messages", 1, 100000).value_or(m.summary_keep_messages);
  if (m.summarise_after_messages != 0 && m.summary_keep_messages >= m.summarise_after_messages)
    ck.error((t.contains("summary_keep_messages") ? t.get("summary_keep_messages") : &t)->source(),
             fmt::format("{} summary_keep_messages ({}) must be less than summarise_after_messages ({}), or nothing "
                         "would ever be summarised",
                         label, m.summary_keep_messages, m.summarise_after_messages));
  m.hot_days = ck.read_uint<std::uint32_t>(t, label, "hot_days", 0, 36500).value_or(m.hot_days);
  m.warm_days = ck.read_uint<std::uint32_t>(t, label, "warm_days", 0, 36500).value_or(m.warm_days);
  if (m.warm_days < m.hot_days)
    ck.error((t.contains("warm_days") ? t.get("warm_days") : &t)->source(),
             fmt::format("{} warm_days ({}) must be at least hot_days ({})", label, m.warm_days, m.hot_days));
  m.hot_min_hits = ck.read_uint<std::uint32_t>(t, label, "hot_min_hits", 0, 1000000).value_or(m.hot_min_hits);
  m.ef_search = ck.read_uint<std::uint32_t>(t, label, "ef_search", 10, 4096).value_or(m.ef_search);
  if (auto* n = t.get("shares")) read_shares(ck, *n, c);
}

}  // namespace weft::service::detail
