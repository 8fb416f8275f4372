#include "channel.hh"

#include <fstream>

#include <weft/base/io.hh>

namespace weft::chan::telegram {

namespace chat = weft::proto::chat_v1;
namespace bus = weft::proto::bus_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr int max_transient_attempts = 6;
constexpr auto inbound_timeout = 30s;
constexpr unsigned worker_threads = 5;  // the long poll holds one; Bot API sends share the rest

std::chrono::milliseconds backoff(int attempt) {
  auto ms = 500 * (1 << std::min(attempt, 6));
  return std::chrono::milliseconds(std::min(ms, 30000));
}

/// JSON chat_id: a number when it is one (what Telegram gave us), else the string (@name).
json chat_id_json(const std::string& id) {
  if (!id.empty() && id.find_first_not_of("-0123456789") == std::string::npos && id.size() < 19)
    return std::stoll(id);
  return id;
}

/// The Telegram message a reply answers, from the inbound message's meta the router sends
/// with the Deliver; 0 when there is none (then the reply is not threaded).
std::int64_t reply_target(const chat::deliver& d) {
  if (!d.message.reply_to) return 0;
  auto it = d.inbound_meta.find("message_id");
  if (it == d.inbound_meta.end() || it->second.empty() || it->second.size() > 18 ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoll(it->second);
}
}  // namespace

status check_settings(const service::telegram_settings& s) {
  if (s.token.empty())
    return fail(errc::config,
                "Failed to start the Telegram channel: [channels.telegram] token is empty (set token = \"${{TELEGRAM_TOKEN}}\")");
  if (s.mode != "polling" && s.mode != "webhook")
    return fail(errc::config, "Failed to start the Telegram channel: mode '{}' is neither polling nor webhook", s.mode);
  if (s.mode == "webhook" && s.webhook_url.empty())
    return fail(errc::config, "Failed to start the Telegram channel: mode = \"webhook\" needs webhook_url");
  return {};
}

/// Updates handed to the router together; done(true) once every one was Accepted.
struct channel::batch {
  std::vector<update> updates;
  std::function<void(bool)> done;
  std::size_t open = 0;
  bool ok = true;
  bool finished = false;
};

/// One reply to send: its upstream calls in order, and the router's requests to answer.
struct channel::job {
  struct step {
    enum class kind : std::uint8_t { text, photo, document } k = kind::text;
    std::string text;
    const chat::part* blob = nullptr;
  };
  chat::deliver d;
  std::vector<step> steps;
  std::size_t next = 0;
  std::int64_t reply_to = 0;
  std::string upstream_id;
  int attempts = 0;
  std::vector<service::responder> requests;
};

/// The progress message of a turn that streams: what came so far, and its Telegram message.
struct channel::progress {
  std::string chat_id;
  std::string text;               // the steps so far (the newest ~3 KB)
  bool cut = false;               // older steps were dropped from `text`
  std::int64_t message_id = 0;    // 0: not sent yet
  mono_clock::time_point first{}, next_send{};
  event_loop::id timer = 0;
  bool sending = false, dirty = false, done = false;
};

namespace {
constexpr std::size_t progress_keep_bytes = 3000;   // well within 4096 UTF-16 units
constexpr auto progress_edit_every = 1s;            // Telegram: about one message a second per chat
constexpr std::size_t max_progress_turns = 256;
}  // namespace

channel::channel(service::runtime& rt, channel_options opts)
    : _rt(rt), _o(std::move(opts)), _log(log::get("chan-telegram")), _api(_o.settings.api_base, _o.settings.token) {}

channel::~channel() {
  _stop = true;  // a long poll in progress gives up
  if (_pool) _pool->stop();
}

result<std::unique_ptr<channel>> channel::start(service::runtime& rt, channel_options opts) {
  std::unique_ptr<channel> ch(new channel(rt, std::move(opts)));
  if (auto s = ch->open(); !s) return s.take_error();
  return ch;
}

template <class Work, class Done>
void channel::background(Work work, Done done) {
  if (_pool->submit(work, done)) return;
  // Only when max_queued jobs wait already: try again in a moment.
  _rt.loop().after(100ms, [this, work = std::move(work), done = std::move(done)]() mutable {
    background(std::move(work), std::move(done));
  });
}

status channel::open() {
  auto dl = delivered_log::open(_o.state_dir + "/delivered");
  if (!dl) return dl.take_error();
  _delivered = std::move(*dl);
  {
    std::ifstream in(_o.state_dir + "/offset");
    in >> _offset;
    if (!in) _offset = 0;
  }
  _pool = std::make_unique<worker_pool>(_rt.loop(), worker_threads);
  _rt.on<chat::deliver>([this](chat::deliver d, service::responder r) { on_deliver(std::move(d), std::move(r)); });
  _rt.on_event<chat::delta>([this](const chat::delta& d, const ipc::message& m) { on_delta(d, m.env.from); });
  _rt.on_stop([this] {
    _log.info("Stopping: finishing {} replies in progress", _jobs.size());
    _stop = true;
  });
  _rt.drain_until([this] { return _open_batches == 0; });
  if (_o.settings.mode == "webhook") {
    auto where = http::parse_listen(_o.settings.webhook_listen);
    if (!where)
      return fail(errc::invalid_argument, "Failed to read [channels.telegram] webhook_listen: {}", where.err().message);
    auto srv = http::server::listen(_rt.loop(), *where, {}, "chan-telegram");
    if (!srv) {
      auto e = srv.take_error();
      if (e.code == errc::address_in_use)
        e.message += " (another weft or program holds it; set [channels.telegram] webhook_listen to another port)";
      return e;
    }
    _http = std::move(*srv);
    _http->on_request = [this](http::server::conn_id c, const http::request& r) { on_webhook(c, r); };
    _log.info("Webhook receiver on {}:{}", where->host, _http->port());
    start_webhook();
  } else {
    _log.info("Polling Telegram from offset {}", _offset);
    // A webhook left behind makes getUpdates answer 409.
    background([this] { return _api.call("deleteWebhook", json::object(), 30s, &_stop); },
               [this](api_outcome) { poll(); });
  }
  return {};
}

// ---- inbound ----

void channel::submit_batch(std::vector<update> updates, std::function<void(bool)> done) {
  auto b = std::make_shared<batch>();
  b->updates = std::move(updates);
  b->done = std::move(done);
  for (auto& u : b->updates)
    if (u.message) ++b->open;
  if (b->open == 0) {
    b->finished = true;
    b->done(true);
    return;
  }
  ++_open_batches;
  for (std::size_t i = 0; i < b->updates.size(); ++i) {
    if (!b->updates[i].message) continue;
    if (b->updates[i].media.empty())
      send_inbound(b, i);
    else
      fetch_media(b, i);
    if (b->finished) break;
  }
}

void channel::fetch_media(std::shared_ptr<batch> b, std::size_t index) {
  struct got {
    bool transient = false;
    std::string data, note;
  };
  auto refs = b->updates[index].media;
  auto limit = _o.max_blob_bytes;
  background(
      [this, refs, limit] {
        std::vector<got> out(refs.size());
        for (std::size_t k = 0; k < refs.size(); ++k) {
          auto& r = refs[k];
          if (r.file_size > limit) {
            out[k].note = fmt::format("[{} '{}' of {} bytes was not passed on: larger than {} bytes]", r.media_type,
                                      r.name, r.file_size, limit);
            continue;
          }
          auto f = _api.call("getFile", json{{"file_id", r.file_id}}, 30s);
          if (f.kind == outcome_kind::ok && f.result.is_object() && f.result.contains("file_path") &&
              f.result["file_path"].is_string()) {
            auto d = _api.download(f.result["file_path"].get<std::string>(), limit, 60s);
            if (d.outcome.kind == outcome_kind::ok) {
              out[k].data = std::move(d.data);
              continue;
            }
            f = d.outcome;
          } else if (f.kind == outcome_kind::ok) {
            f.kind = outcome_kind::permanent;
            f.description = "getFile gave no file_path";
          }
          if (f.kind == outcome_kind::permanent)
            out[k].note = fmt::format("[{} '{}' could not be downloaded: {}]", r.media_type, r.name, f.description);
          else
            out[k].transient = true;
        }
        return out;
      },
      [this, b, index, refs](std::vector<got> out) {
        if (b->finished) return;
        auto& msg = *b->updates[index].message;
        for (std::size_t k = 0; k < refs.size(); ++k) {
          if (out[k].transient) {
            _log.warning("Failed to download an attachment of '{}', will retry", msg.id);
            finish_item(b, false);
            return;
          }
          auto& p = msg.parts[refs[k].part_index];
          if (!out[k].note.empty()) {
            p = chat::part{};
            p.kind = chat::part_kind::text;
            p.text = out[k].note;
          } else {
            p.data = wire::bytes(out[k].data.begin(), out[k].data.end());
          }
        }
        b->updates[index].media.clear();
        send_inbound(b, index);
      });
}

void channel::send_inbound(std::shared_ptr<batch> b, std::size_t index) {
  auto& msg = *b->updates[index].message;
  _log.debug("Inbound '{}' to '{}'", msg.id, _o.router);
  auto id = msg.id;
  // Streamed steps come back as Chat.v1 Delta when progress messages are on.
  bool stream = _o.settings.progress_after_ms != 0;
  _rt.call(_o.router, chat::inbound{msg, stream}, {.timeout = inbound_timeout}, [this, b, id](result<ipc::message> m) {
    if (b->finished) return;
    if (!m) {
      _log.warning("Failed to hand '{}' to '{}': {}; will retry", id, _o.router, m.err().to_string());
      return finish_item(b, false);
    }
    auto a = m->as<chat::accepted>();
    if (!a) {
      _log.warning("Failed to read the answer to '{}': {}", id, a.err().message);
      return finish_item(b, false);
    }
    _log.debug("'{}' accepted{} for agent '{}'", id, a->duplicate ? " (duplicate)" : "", a->agent);
    finish_item(b, true);
  });
}

void channel::finish_item(const std::shared_ptr<batch>& b, bool ok) {
  if (b->finished) return;
  if (!ok) b->ok = false;
  if (--b->open == 0 || !ok) {
    // A failure ends the batch at once: it is handed over again whole (the router
    // deduplicates by message id); answers still to come for it are ignored.
    b->finished = true;
    --_open_batches;
    b->done(b->ok);
  }
}

status channel::save_offset(std::int64_t next) {
  return write_file_atomic(_o.state_dir + "/offset", std::to_string(next) + "\n", 0600);
}

void channel::poll() {
  if (_stop) return;
  json params{{"timeout", _o.settings.poll_timeout_s}, {"limit", 100},
              {"allowed_updates", {"message", "edited_message", "channel_post"}}};
  if (_offset) params["offset"] = _offset;
  auto timeout = std::chrono::seconds(_o.settings.poll_timeout_s + 15);
  background([this, params, timeout] { return _api.call("getUpdates", params, timeout, &_stop); },
             [this](api_outcome r) { on_polled(std::move(r)); });
}

void channel::on_polled(api_outcome r) {
  if (_stop) return;
  if (r.kind == outcome_kind::retry_after) {
    _rt.loop().after(std::chrono::seconds(r.retry_after), [this] { poll(); });
    return;
  }
  if (r.kind != outcome_kind::ok) {
    if (r.error_code == 409 && !_warned_conflict) {
      _log.error("Failed to poll Telegram: {} (a webhook is set; mode = \"webhook\" or deleteWebhook)", r.description);
      _warned_conflict = true;
    } else if (r.kind == outcome_kind::permanent) {
      _log.error("Failed to poll Telegram: {} (error {})", r.description, r.error_code);
    } else {
      _log.warning("Failed to poll Telegram: {}; retrying", r.description);
    }
    _rt.loop().after(backoff(_poll_attempt++), [this] { poll(); });
    return;
  }
  _poll_attempt = 0;
  _warned_conflict = false;
  if (!r.result.is_array() || r.result.empty()) return poll();
  std::vector<update> ups;
  std::int64_t last = _offset - 1;
  for (auto& j : r.result) {
    auto u = parse_update(j);
    if (!u) {
      _log.warning("Failed to read an update: {}, ignoring", u.err().message);
      continue;
    }
    last = std::max(last, u->update_id);
    ups.push_back(std::move(*u));
  }
  if (ups.empty()) return poll();
  hand_over(std::move(ups), last, 0);
}

void channel::hand_over(std::vector<update> ups, std::int64_t last, int tries) {
  // Only when all of the batch was accepted does the offset move (and Telegram forget it).
  auto copy = ups;
  submit_batch(std::move(copy), [this, ups = std::move(ups), last, tries](bool ok) mutable {
    if (ok) {
      if (auto s = save_offset(last + 1); !s) _log.error("{}", s.err().message);
      _offset = last + 1;
      return poll();
    }
    if (_stop) return;
    _rt.loop().after(backoff(tries), [this, ups = std::move(ups), last, tries]() mutable {
      hand_over(std::move(ups), last, tries + 1);
    });
  });
}

// ---- webhook ----

void channel::start_webhook() {
  json params{{"url", _o.settings.webhook_url}, {"allowed_updates", {"message", "edited_message", "channel_post"}}};
  if (!_o.settings.webhook_secret.empty()) params["secret_token"] = _o.settings.webhook_secret;
  background([this, params] { return _api.call("setWebhook", params, 30s); },
             [this](api_outcome r) {
               if (r.kind == outcome_kind::ok) {
                 _log.info("Webhook set to '{}'", _o.settings.webhook_url);
                 return;
               }
               _log.error("Failed to set the webhook to '{}': {}; retrying", _o.settings.webhook_url, r.description);
               _rt.loop().after(r.kind == outcome_kind::retry_after ? std::chrono::seconds(r.retry_after) : 5s,
                                [this] { start_webhook(); });
             });
}

void channel::on_webhook(http::server::conn_id c, const http::request& r) {
  if (r.method != "POST") {
    _http->respond(c, 405, "text/plain", "POST only\n", {{"Allow", "POST"}});
    return;
  }
  if (!_o.settings.webhook_secret.empty() &&
      !http::equal_secret(r.header("x-telegram-bot-api-secret-token"), _o.settings.webhook_secret)) {
    _log.warning("Refusing a webhook call without the right secret token");
    _http->respond(c, 401, "text/plain", "wrong secret token\n");
    return;
  }
  auto j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  auto u = parse_update(j);
  if (!u) {
    _http->respond(c, 400, "text/plain", u.err().message + "\n");
    return;
  }
  std::vector<update> ups;
  ups.push_back(std::move(*u));
  submit_batch(std::move(ups), [this, c](bool ok) {
    // Non-200 makes Telegram send the update again later.
    if (ok)
      _http->respond(c, 200, "application/json", "{}");
    else
      _http->respond(c, 503, "text/plain", "not stored, retry\n");
  });
}

// ---- outbound ----

void channel::on_deliver(chat::deliver d, service::responder r) {
  if (d.message.reply_to) end_progress(*d.message.reply_to);  // the answer is here: its progress message stays as it is
  if (auto up = _delivered->delivered(d.outbox_id)) {
    _log.debug("'{}' was delivered before; answering without sending", d.outbox_id);
    return r.reply(chat::delivered{d.outbox_id, *up});
  }
  if (auto it = _jobs.find(d.outbox_id); it != _jobs.end()) {
    it->second->requests.push_back(std::move(r));  // a resend while we are still sending: answer both
    return;
  }
  if (d.message.chat_id.empty())
    return r.fail(chat::make(chat::error_code::unsupported, "Failed to deliver '{}': no chat_id", d.outbox_id));
  auto j = std::make_unique<job>();
  j->d = std::move(d);
  j->requests.push_back(std::move(r));
  for (auto& p : j->d.message.parts) {
    using k = job::step::kind;
    if (p.kind == chat::part_kind::text && p.text) {
      for (auto& piece : split_text(*p.text)) j->steps.push_back({k::text, std::move(piece), nullptr});
    } else if (p.kind == chat::part_kind::blob && p.data) {
      auto mt = p.media_type.value_or("application/octet-stream");
      bool photo = (mt == "image/jpeg" || mt == "image/png" || mt == "image/webp") && p.data->size() <= (10u << 20);
      j->steps.push_back({photo ? k::photo : k::document, {}, &p});
    } else if (p.kind == chat::part_kind::data && p.value) {
      std::string text = "null";
      if (auto doc = wire::parse(p.value->encoded); doc && !p.value->encoded.empty()) text = wire::to_json(doc->root());
      for (auto& piece : split_text(text)) j->steps.push_back({k::text, std::move(piece), nullptr});
    }
  }
  j->next = std::min(_delivered->progress(j->d.outbox_id), j->steps.size());
  j->reply_to = reply_target(j->d);
  auto outbox = j->d.outbox_id;
  auto chat_id = j->d.message.chat_id;
  _jobs[outbox] = std::move(j);
  auto& q = _chat_queues[chat_id];
  q.push_back(outbox);
  if (q.size() == 1) run_step(outbox);
}

void channel::run_step(const std::string& outbox_id) {
  auto it = _jobs.find(outbox_id);
  if (it == _jobs.end()) return;
  auto& j = *it->second;
  if (j.next >= j.steps.size()) {
    finish_job(outbox_id, nullptr);
    return;
  }
  auto& s = j.steps[j.next];
  auto chat = chat_id_json(j.d.message.chat_id);
  bool first = j.next == 0 && j.reply_to != 0;
  std::int64_t reply_to = j.reply_to;
  auto done = [this, outbox_id](api_outcome o) { on_step_done(outbox_id, std::move(o)); };
  using k = job::step::kind;
  if (s.k == k::text) {
    json params{{"chat_id", chat}, {"text", s.text}};
    if (first) params["reply_parameters"] = {{"message_id", reply_to}, {"allow_sending_without_reply", true}};
    background([this, params] { return _api.call("sendMessage", params, 60s); }, done);
    return;
  }
  std::vector<form_field> fields;
  fields.push_back({"chat_id", j.d.message.chat_id, {}, {}});
  if (first)
    fields.push_back(
        {"reply_parameters", json{{"message_id", reply_to}, {"allow_sending_without_reply", true}}.dump(), {}, {}});
  auto& p = *s.blob;
  std::string field = s.k == k::photo ? "photo" : "document";
  std::string name = p.name.value_or(s.k == k::photo ? "image" : "file");
  fields.push_back({field, std::string(p.data->begin(), p.data->end()), name,
                    p.media_type.value_or("application/octet-stream")});
  std::string method = s.k == k::photo ? "sendPhoto" : "sendDocument";
  background([this, method, fields = std::move(fields)] { return _api.call_multipart(method, fields, 120s); }, done);
}

void channel::on_step_done(const std::string& outbox_id, api_outcome o) {
  auto it = _jobs.find(outbox_id);
  if (it == _jobs.end()) return;
  auto& j = *it->second;
  switch (o.kind) {
    case outcome_kind::ok: {
      if (o.result.is_object() && o.result.contains("message_id"))
        j.upstream_id = o.result["message_id"].is_number() ? std::to_string(o.result["message_id"].get<std::int64_t>())
                                                            : o.result["message_id"].dump();
      ++j.next;
      j.attempts = 0;
      if (j.next < j.steps.size()) {
        if (auto s = _delivered->mark_progress(outbox_id, j.next); !s) _log.error("{}", s.err().message);
        run_step(outbox_id);
      } else {
        finish_job(outbox_id, nullptr);
      }
      return;
    }
    case outcome_kind::retry_after:
      // Exactly what Telegram asked for, on a timer: other chats go on meanwhile.
      _log.info("Telegram asked to wait {} s before sending '{}' again", o.retry_after, outbox_id);
      _rt.loop().after(std::chrono::seconds(o.retry_after), [this, outbox_id] { run_step(outbox_id); });
      return;
    case outcome_kind::transient:
      if (++j.attempts < max_transient_attempts) {
        _log.warning("Failed to send '{}' to Telegram: {}; retrying", outbox_id, o.description);
        _rt.loop().after(backoff(j.attempts - 1), [this, outbox_id] { run_step(outbox_id); });
        return;
      } else {
        auto e = bus::make(bus::error_code::internal, "Failed to deliver '{}' to Telegram after {} attempts: {}",
                           outbox_id, j.attempts, o.description);
        _log.error("{}", e.message);
        finish_job(outbox_id, &e);
        return;
      }
    case outcome_kind::permanent: {
      auto e = chat::make(chat::error_code::unsupported, "Failed to deliver '{}' to Telegram chat '{}': {} (error {})",
                          outbox_id, j.d.message.chat_id, o.description, o.error_code);
      _log.error("{}", e.message);
      finish_job(outbox_id, &e);
      return;
    }
  }
}

void channel::finish_job(const std::string& outbox_id, const error* failure) {
  auto it = _jobs.find(outbox_id);
  if (it == _jobs.end()) return;
  auto j = std::move(it->second);
  _jobs.erase(it);
  if (!failure) {
    // Written before answering: a repeated Deliver after a crash finds it.
    if (auto s = _delivered->mark_delivered(outbox_id, j->upstream_id); !s) _log.error("{}", s.err().message);
    _log.debug("'{}' delivered as Telegram message {}", outbox_id, j->upstream_id);
    for (auto& r : j->requests) r.reply(chat::delivered{outbox_id, j->upstream_id});
  } else {
    for (auto& r : j->requests) r.fail(*failure);
  }
  auto& q = _chat_queues[j->d.message.chat_id];
  if (!q.empty() && q.front() == outbox_id) q.pop_front();
  start_next(j->d.message.chat_id);
}

void channel::start_next(const std::string& chat_id) {
  auto it = _chat_queues.find(chat_id);
  if (it == _chat_queues.end()) return;
  if (it->second.empty()) {
    _chat_queues.erase(it);
    return;
  }
  run_step(it->second.front());
}

// ---- progress ----

void channel::on_delta(const chat::delta& d, const std::string& from) {
  // Only an agent speaks for a turn (the bus stamps the sender): nobody else may make the
  // bot post to a chat.
  if (from.rfind("agent/", 0) != 0 || from.find('/', 6) != std::string::npos) return;
  if (_o.settings.progress_after_ms == 0 || d.turn_id.empty() || d.chat_id.empty() || d.text.empty()) return;
  auto it = _progress.find(d.turn_id);
  if (it == _progress.end()) {
    if (_progress.size() >= max_progress_turns) {  // turns whose answer never came: the oldest goes
      auto oldest = std::min_element(_progress.begin(), _progress.end(),
                                     [](auto& a, auto& b) { return a.second.first < b.second.first; });
      if (oldest->second.timer) _rt.loop().cancel(oldest->second.timer);
      _progress.erase(oldest);
    }
    it = _progress.emplace(d.turn_id, progress{}).first;
    it->second.chat_id = d.chat_id;
    it->second.first = mono_clock::now();
    it->second.next_send = it->second.first + std::chrono::milliseconds(_o.settings.progress_after_ms);
  }
  auto& p = it->second;
  if (p.done || p.chat_id != d.chat_id) return;
  p.text += d.text;
  if (p.text.size() > progress_keep_bytes) {
    auto from_at = p.text.size() - progress_keep_bytes;
    auto nl = p.text.find('\n', from_at);
    from_at = nl == std::string::npos ? from_at : nl + 1;
    while (from_at < p.text.size() && (static_cast<unsigned char>(p.text[from_at]) & 0xc0) == 0x80) ++from_at;
    p.text.erase(0, from_at);
    p.cut = true;
  }
  p.dirty = true;
  schedule_progress(d.turn_id);
}

void channel::schedule_progress(const std::string& turn_id) {
  auto it = _progress.find(turn_id);
  if (it == _progress.end()) return;
  auto& p = it->second;
  if (p.timer || p.sending || !p.dirty || p.done) return;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(p.next_send - mono_clock::now());
  p.timer = _rt.loop().after(std::max(wait, 0ms), [this, turn_id] {
    if (auto it = _progress.find(turn_id); it != _progress.end()) it->second.timer = 0;
    flush_progress(turn_id);
  });
}

void channel::flush_progress(const std::string& turn_id) {
  auto it = _progress.find(turn_id);
  if (it == _progress.end()) return;
  auto& p = it->second;
  if (p.done || !p.dirty) return;
  p.dirty = false;
  p.sending = true;
  auto text = fmt::format("⏳ working…\n{}{}", p.cut ? "…\n" : "", p.text);
  json params{{"chat_id", chat_id_json(p.chat_id)}, {"text", text}};
  std::string method = "sendMessage";
  if (p.message_id) {
    method = "editMessageText";
    params["message_id"] = p.message_id;
  }
  background([this, method, params] { return _api.call(method, params, 30s); },
             [this, turn_id](api_outcome o) {
               auto it = _progress.find(turn_id);
               if (it == _progress.end()) return;
               auto& p = it->second;
               p.sending = false;
               p.next_send = mono_clock::now() + progress_edit_every;
               if (o.kind == outcome_kind::ok) {
                 if (!p.message_id && o.result.is_object() && o.result.contains("message_id") &&
                     o.result["message_id"].is_number())
                   p.message_id = o.result["message_id"].get<std::int64_t>();
               } else if (o.kind == outcome_kind::retry_after) {
                 p.next_send = mono_clock::now() + std::chrono::seconds(o.retry_after);
                 p.dirty = true;
               } else {
                 // A progress message is a courtesy: not retried (the next step tries again),
                 // and the answer comes anyway. "message is not modified" lands here too.
                 _log.debug("Failed to show the progress of '{}': {}", turn_id, o.description);
               }
               if (p.done) {
                 _progress.erase(it);
                 return;
               }
               schedule_progress(turn_id);
             });
}

void channel::end_progress(const std::string& turn_id) {
  auto it = _progress.find(turn_id);
  if (it == _progress.end()) return;
  if (it->second.timer) _rt.loop().cancel(it->second.timer);
  if (it->second.sending) {
    it->second.timer = 0;
    it->second.done = true;  // erased when the call in flight comes back
    return;
  }
  _progress.erase(it);
}

}  // namespace weft::chan::telegram
