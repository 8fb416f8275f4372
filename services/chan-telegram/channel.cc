#include "channel.hh"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include <weft/ipc/builtin.hh>

namespace weft::chan::telegram {

namespace chat = weft::proto::chat_v1;
namespace bus = weft::proto::bus_v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr std::size_t max_remembered_message_ids = 10000;
constexpr int max_transient_attempts = 6;
constexpr auto inbound_timeout = 30s;

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
}  // namespace

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
  std::vector<ipc::message> requests;
};

channel::channel(ipc::bus_client& bus, service::notifier& notify, channel_options opts)
    : _bus(bus), _notify(notify), _o(std::move(opts)), _log(log::get("chan-telegram")),
      _api(_o.settings.api_base, _o.settings.token) {}

channel::~channel() {
  _stop = true;
  _stop_cv.notify_all();
  if (_poller.joinable()) _poller.join();
  if (_pool) _pool->stop();
}

void channel::after(std::chrono::milliseconds d, std::function<void()> fn) {
  _timers.emplace(clock::now() + d, std::move(fn));
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
  for (std::size_t i = 0; i < b->updates.size(); ++i) {
    if (!b->updates[i].message) continue;
    if (b->updates[i].media.empty())
      send_inbound(b, i);
    else
      fetch_media(b, i);
  }
  after(inbound_timeout, [this, b] {
    if (b->finished) return;
    _log.warning("Failed to hand updates to '{}': no answer within {} s; will retry", _o.router,
                 inbound_timeout.count());
    for (auto it = _inbound.begin(); it != _inbound.end();)
      it = it->second.first == b ? _inbound.erase(it) : std::next(it);
    b->finished = true;
    b->done(false);
  });
}

void channel::fetch_media(std::shared_ptr<batch> b, std::size_t index) {
  auto refs = b->updates[index].media;
  auto limit = _o.max_blob_bytes;
  _pool->submit([this, b, index, refs, limit]() -> std::function<void()> {
    struct got {
      bool transient = false;
      std::string data, note;
    };
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
    return [this, b, index, refs, out = std::move(out)]() mutable {
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
    };
  });
}

void channel::send_inbound(std::shared_ptr<batch> b, std::size_t index) {
  auto& u = b->updates[index];
  if (u.telegram_message_id) {
    if (_tg_message_ids.emplace(u.message->id, u.telegram_message_id).second) _tg_message_order.push_back(u.message->id);
    while (_tg_message_order.size() > max_remembered_message_ids) {
      _tg_message_ids.erase(_tg_message_order.front());
      _tg_message_order.pop_front();
    }
  }
  auto id = _bus.send_request(_o.router, chat::inbound{*u.message});
  if (!id) {
    _log.warning("Failed to send '{}' to '{}': {}", u.message->id, _o.router, id.err().message);
    finish_item(b, false);
    return;
  }
  _log.debug("Inbound '{}' to '{}'", u.message->id, _o.router);
  _inbound[*id] = {b, index};
}

void channel::finish_item(const std::shared_ptr<batch>& b, bool ok) {
  if (b->finished) return;
  if (!ok) {
    b->ok = false;
  }
  if (--b->open == 0 || !ok) {
    b->finished = true;
    for (auto it = _inbound.begin(); it != _inbound.end();)
      it = it->second.first == b ? _inbound.erase(it) : std::next(it);
    b->done(b->ok);
  }
}

void channel::on_reply(const ipc::message& m) {
  auto it = _inbound.find(m.env.id);
  if (it == _inbound.end()) return;
  auto [b, index] = it->second;
  _inbound.erase(it);
  auto& id = b->updates[index].message->id;
  if (m.is_error()) {
    _log.warning("Failed to hand '{}' to '{}': {}", id, _o.router, m.to_error().to_string());
    finish_item(b, false);
    return;
  }
  auto a = m.as<chat::accepted>();
  if (!a) {
    _log.warning("Failed to read the answer to '{}': {}", id, a.err().message);
    finish_item(b, false);
    return;
  }
  _log.debug("'{}' accepted{} for agent '{}'", id, a->duplicate ? " (duplicate)" : "", a->agent);
  finish_item(b, true);
}

status channel::save_offset(std::int64_t next) {
  auto path = _o.state_dir + "/offset";
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errc::io, "Failed to write '{}': {}", tmp, std::strerror(errno));
  auto text = std::to_string(next) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(errc::io, "Failed to write '{}': {}", path, std::strerror(errno));
  return {};
}

void channel::poll_thread() {
  auto wait = [this](std::chrono::milliseconds d) {
    std::unique_lock l(_stop_mu);
    _stop_cv.wait_for(l, d, [this] { return _stop.load(); });
  };
  // A webhook left behind makes getUpdates answer 409.
  (void)_api.call("deleteWebhook", json::object(), 30s, &_stop);
  int attempt = 0;
  std::int64_t offset = _offset;
  bool warned_conflict = false;
  while (!_stop) {
    json params{{"timeout", _o.settings.poll_timeout_s}, {"limit", 100},
                {"allowed_updates", {"message", "edited_message", "channel_post"}}};
    if (offset) params["offset"] = offset;
    auto r = _api.call("getUpdates", params, std::chrono::seconds(_o.settings.poll_timeout_s + 15), &_stop);
    if (_stop) break;
    if (r.kind == outcome_kind::retry_after) {
      wait(std::chrono::seconds(r.retry_after));
      continue;
    }
    if (r.kind != outcome_kind::ok) {
      if (r.error_code == 409 && !warned_conflict) {
        _log.error("Failed to poll Telegram: {} (a webhook is set; mode = \"webhook\" or deleteWebhook)", r.description);
        warned_conflict = true;
      } else if (r.kind == outcome_kind::permanent) {
        _log.error("Failed to poll Telegram: {} (error {})", r.description, r.error_code);
      } else {
        _log.warning("Failed to poll Telegram: {}; retrying", r.description);
      }
      wait(backoff(attempt++));
      continue;
    }
    attempt = 0;
    warned_conflict = false;
    if (!r.result.is_array() || r.result.empty()) continue;
    std::vector<update> ups;
    std::int64_t last = offset - 1;
    for (auto& j : r.result) {
      auto u = parse_update(j);
      if (!u) {
        _log.warning("Failed to read an update: {}, ignoring", u.err().message);
        continue;
      }
      last = std::max(last, u->update_id);
      ups.push_back(std::move(*u));
    }
    if (ups.empty()) continue;
    // Hand the batch to the bus loop; only when all of it was accepted move the offset.
    int tries = 0;
    while (!_stop) {
      auto done = std::make_shared<std::promise<bool>>();
      auto fut = done->get_future();
      _pool->post([this, ups, last, done] {
        submit_batch(ups, [this, last, done](bool ok) {
          if (ok) {
            if (auto s = save_offset(last + 1); !s) _log.error("{}", s.err().message);
          }
          done->set_value(ok);
        });
      });
      bool ok = false;
      while (!_stop) {
        if (fut.wait_for(200ms) == std::future_status::ready) {
          ok = fut.get();
          break;
        }
      }
      if (ok) break;
      wait(backoff(tries++));
    }
    offset = last + 1;
  }
}

// ---- webhook ----

void channel::start_webhook() {
  json params{{"url", _o.settings.webhook_url}, {"allowed_updates", {"message", "edited_message", "channel_post"}}};
  if (!_o.settings.webhook_secret.empty()) params["secret_token"] = _o.settings.webhook_secret;
  _pool->submit([this, params]() -> std::function<void()> {
    auto r = _api.call("setWebhook", params, 30s);
    return [this, r] {
      if (r.kind == outcome_kind::ok) {
        _log.info("Webhook set to '{}'", _o.settings.webhook_url);
        return;
      }
      _log.error("Failed to set the webhook to '{}': {}; retrying", _o.settings.webhook_url, r.description);
      after(r.kind == outcome_kind::retry_after ? std::chrono::seconds(r.retry_after) : 5s, [this] { start_webhook(); });
    };
  });
}

void channel::on_webhook(http_server::conn_id c, const http_request& r) {
  if (r.method != "POST") {
    _http->respond(c, 405, "text/plain", "POST only\n", {{"Allow", "POST"}});
    return;
  }
  if (!_o.settings.webhook_secret.empty() &&
      !equal_secret(r.header("x-telegram-bot-api-secret-token"), _o.settings.webhook_secret)) {
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

void channel::on_deliver(const ipc::message& m) {
  auto d = m.as<chat::deliver>();
  if (!d) {
    (void)_bus.reply_error(m, d.err());
    return;
  }
  if (auto up = _delivered->delivered(d->outbox_id)) {
    _log.debug("'{}' was delivered before; answering without sending", d->outbox_id);
    (void)_bus.reply(m, chat::delivered{d->outbox_id, *up});
    return;
  }
  if (auto it = _jobs.find(d->outbox_id); it != _jobs.end()) {
    it->second->requests.push_back(m);  // a resend while we are still sending: answer both
    return;
  }
  if (_stopping) {
    (void)_bus.reply_error(m, bus::make(bus::error_code::shutting_down, "'{}' is stopping", _bus.address()));
    return;
  }
  if (d->message.chat_id.empty()) {
    (void)_bus.reply_error(m, chat::make(chat::error_code::unsupported, "Failed to deliver '{}': no chat_id",
                                         d->outbox_id));
    return;
  }
  auto j = std::make_unique<job>();
  j->d = std::move(*d);
  j->requests.push_back(m);
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
  if (j->d.message.reply_to)
    if (auto it = _tg_message_ids.find(*j->d.message.reply_to); it != _tg_message_ids.end()) j->reply_to = it->second;
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
  using k = job::step::kind;
  if (s.k == k::text) {
    json params{{"chat_id", chat}, {"text", s.text}};
    if (first) params["reply_parameters"] = {{"message_id", reply_to}, {"allow_sending_without_reply", true}};
    _pool->submit([this, outbox_id, params]() -> std::function<void()> {
      auto o = _api.call("sendMessage", params, 60s);
      return [this, outbox_id, o = std::move(o)]() mutable { on_step_done(outbox_id, std::move(o)); };
    });
    return;
  }
  std::vector<form_field> fields;
  fields.push_back({"chat_id", j.d.message.chat_id, {}, {}});
  if (first) fields.push_back({"reply_parameters", json{{"message_id", reply_to}, {"allow_sending_without_reply", true}}.dump(), {}, {}});
  auto& p = *s.blob;
  std::string field = s.k == k::photo ? "photo" : "document";
  std::string name = p.name.value_or(s.k == k::photo ? "image" : "file");
  fields.push_back({field, std::string(p.data->begin(), p.data->end()), name,
                    p.media_type.value_or("application/octet-stream")});
  std::string method = s.k == k::photo ? "sendPhoto" : "sendDocument";
  _pool->submit([this, outbox_id, method, fields = std::move(fields)]() -> std::function<void()> {
    auto o = _api.call_multipart(method, fields, 120s);
    return [this, outbox_id, o = std::move(o)]() mutable { on_step_done(outbox_id, std::move(o)); };
  });
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
      after(std::chrono::seconds(o.retry_after), [this, outbox_id] { run_step(outbox_id); });
      return;
    case outcome_kind::transient:
      if (++j.attempts < max_transient_attempts) {
        _log.warning("Failed to send '{}' to Telegram: {}; retrying", outbox_id, o.description);
        after(backoff(j.attempts - 1), [this, outbox_id] { run_step(outbox_id); });
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
    for (auto& r : j->requests) (void)_bus.reply(r, chat::delivered{outbox_id, j->upstream_id});
  } else {
    for (auto& r : j->requests) (void)_bus.reply_error(r, *failure);
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

// ---- loop ----

void channel::dispatch(const ipc::message& m) {
  if (m.env.kind == bus::kind::reply || m.env.kind == bus::kind::error) {
    on_reply(m);
    return;
  }
  if (m.env.kind != bus::kind::request) return;  // Delta events and others: not for a non-streaming channel
  if (ipc::answer_builtin(_bus, m)) return;
  if (m.is(chat::deliver::type_name)) {
    on_deliver(m);
    return;
  }
  (void)_bus.reply_error(m, bus::make(bus::error_code::unknown_type, "'{}' does not handle '{}'", _bus.address(),
                                      m.env.type));
}

int channel::run(int signal_fd) {
  auto dl = delivered_log::open(_o.state_dir + "/delivered");
  if (!dl) {
    _log.error("{}", dl.err().message);
    return 1;
  }
  _delivered = std::move(*dl);
  {
    std::ifstream in(_o.state_dir + "/offset");
    in >> _offset;
    if (!in) _offset = 0;
  }
  _pool = std::make_unique<worker_pool>(4);
  if (_o.settings.mode == "webhook") {
    auto where = parse_listen(_o.settings.webhook_listen);
    if (!where) {
      _log.error("Failed to read [channels.telegram] webhook_listen: {}", where.err().message);
      return 2;
    }
    auto srv = http_server::listen(*where, {}, "chan-telegram");
    if (!srv) {
      _log.error("{}", srv.err().message);
      return 1;
    }
    _http = std::move(*srv);
    _http->on_request = [this](http_server::conn_id c, const http_request& r) { on_webhook(c, r); };
    _log.info("Webhook receiver on {}:{}", where->host, _http->port());
    start_webhook();
  } else {
    _log.info("Polling Telegram from offset {}", _offset);
    _poller = std::thread([this] { poll_thread(); });
  }
  (void)_notify.ready();
  auto drain_deadline = clock::time_point::max();
  for (;;) {
    if (_stopping && (_jobs.empty() || clock::now() >= drain_deadline)) break;
    auto wait = _notify.beat_if_due();
    if (!_timers.empty())
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(_timers.begin()->first - clock::now(), clock::duration::zero())));
    if (_http) wait = std::min(wait, _http->expire());
    std::vector<zmq::pollitem_t> items = {{_bus.socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {_bus.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, signal_fd, ZMQ_POLLIN, 0},
                                          {nullptr, _pool->fd(), ZMQ_POLLIN, 0}};
    std::vector<pollfd> hfds;
    if (_http) {
      hfds = _http->poll_fds();
      for (auto& p : hfds) items.push_back({nullptr, p.fd, zmq_events(p.events), 0});
    }
    zmq::poll(items.data(), items.size(), wait);
    if (items[2].revents & ZMQ_POLLIN) {
      signalfd_siginfo si;
      while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (!_stopping) {
          _log.info("Stopping: finishing {} replies in progress", _jobs.size());
          _stopping = true;
          _stop = true;
          _stop_cv.notify_all();
          drain_deadline = clock::now() + 10s;
        }
      }
    }
    if (items[3].revents & ZMQ_POLLIN) _pool->run_completions();
    _bus.process_input();
    while (auto m = _bus.next(0ms)) dispatch(*m);
    if (_http) {
      for (std::size_t i = 0; i < hfds.size(); ++i) hfds[i].revents = posix_events(items[4 + i].revents);
      _http->handle(hfds);
    }
    auto now = clock::now();
    while (!_timers.empty() && _timers.begin()->first <= now) {
      auto fn = std::move(_timers.begin()->second);
      _timers.erase(_timers.begin());
      fn();
    }
  }
  (void)_notify.stopping();
  _stop = true;
  _stop_cv.notify_all();
  if (_poller.joinable()) _poller.join();
  _pool->stop();
  _bus.close(500ms);
  return 0;
}

}  // namespace weft::chan::telegram
