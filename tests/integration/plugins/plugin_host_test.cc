// The WASM plugin host under weftd. An agent turn with the scripted fake model calls the C
// and Rust example plugins' tools and their results reach the model; then the hostile
// plugins of tests/plugins/hostile sit beside good ones in an agent's workspace: those meant
// to be refused at load are not on the bus (and plugins_status says why), those that misbehave
// at run time answer a typed error, the host process stays the same and a good plugin still
// answers after each; file_read is refused outside the workspace (absolute, "..", a symlink
// out); repeated traps disable a plugin; a manifest naming `voice` loads and is reported.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <weft/sandbox/sandbox.hh>

#include "proto/tool_v1.hh"
#include "tests/integration/fake_peer.hh"
#include "tests/integration/harness.hh"
#include "tests/integration/turn_client.hh"
#include "tests/http_target.hh"
#include "tests/tcp_listener.hh"

using namespace weft;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace tool = weft::proto::tool_v1;

namespace {

json call_step(const std::string& name, json args) {
  return {{"tool_calls", json::array({{{"name", name}, {"arguments", args}}})}};
}

void copy_plugin(const fs::path& from_dir, const std::string& toml, const std::string& wasm, const fs::path& to_dir,
                 const std::string& wasm_as) {
  fs::create_directories(to_dir);
  fs::copy_file(from_dir / toml, to_dir / "plugin.toml", fs::copy_options::overwrite_existing);
  fs::copy_file(from_dir / wasm, to_dir / wasm_as, fs::copy_options::overwrite_existing);
}

/// The plugins folder weftd gives agent `agent` when the config's [weft] home is `<ws>-home`
/// (outside the workspace, as in production).
fs::path plugins_of(const fs::path& ws, const std::string& agent) { return ws.string() + "-home/plugins/" + agent; }

void examples_into(const fs::path& plugins) {
  copy_plugin(WEFT_TEST_C_WORDCOUNT_DIR, "plugin.toml", "c_wordcount.wasm", plugins / "c-wordcount", "c_wordcount.wasm");
  copy_plugin(WEFT_TEST_RUST_HASH_DIR, "plugin.toml", "rust_hash.wasm", plugins / "rust-hash", "rust_hash.wasm");
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

ipc::call_options once(std::chrono::milliseconds t = 30s) {
  ipc::call_options o;
  o.timeout = t;
  o.attempt_timeout = t;
  o.retry = false;
  return o;
}

result<tool::result> call(ipc::bus_client& b, const std::string& name, const json& args) {
  auto r = b.call("tool/plugins/a/" + name, tool::call{name, args.dump(), "call-1", 0}, once());
  if (!r) return r.take_error();
  return r->as<tool::result>();
}

/// A call that ran: its result (a bus error fails the test).
tool::result ran(ipc::bus_client& b, const std::string& name, const json& args) {
  auto r = call(b, name, args);
  REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
  return *r;
}

std::string error_of(const tool::result& r) {
  if (r.structured.empty()) return "";
  return json::parse(r.structured).value("error", "");
}

}  // namespace

namespace {


/// The witness chain's records as weftctl shows them (JSON lines), waiting up to 30 s for
/// `until` to appear.
std::string audit_until(test::stack& s, const std::string& home, const std::string& until) {
  std::string audit;
  for (auto end = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < end;) {
    auto shown = s.weftctl({"--json", "audit", "show", "--last", "500", "--dir", home + "/audit"});
    audit = shown.out + shown.err;
    if (audit.find(until) != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  return audit;
}

}  // namespace

TEST_CASE("the C and Rust example plugins in an agent turn: tools listed, called, results reach the model") {
  test::fake_peer llm("fake_llm.py");
  char tmpl[] = "/tmp/weft-plugins-ws-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  fs::path ws = tmpl;
  examples_into(plugins_of(ws, "main"));
  fs::create_directories(ws / "data");
  std::ofstream(ws / "data" / "hello.txt") << "hello plugins\n";
  auto config = fmt::format(
      "[weft]\nhome = \"{ws}-home\"\n\n"
      "[providers.fake]\nstyle = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"fake-model\"\n\n"
      "[llm]\ndefault_provider = \"fake\"\nretries = 0\n\n[memory]\nenabled = false\n\n"
      "[agents.main]\nworkspace = \"{ws}\"\nmax_iterations = 8\ntool_timeout_ms = 20000\n"
      "[agents.main.tools]\nfamilies = [\"plugins\"]\n",
      fmt::arg("url", llm.url()), fmt::arg("ws", ws.string()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  json steps = json::array({call_step("c-wordcount__word_count", {{"text", "one two  three\nfour"}}),
                            call_step("rust-hash__sha256_hex", {{"text", "abc"}}),
                            call_step("c-wordcount__kv_counter", {{"name", "visits"}, {"by", 41}}),
                            call_step("c-wordcount__kv_counter", {{"name", "visits"}}),
                            call_step("rust-hash__file_sha256", {{"path", "data/hello.txt"}}),
                            {{"text", "Done with plugins."}}});
  REQUIRE(llm.post("/_script", steps.dump()).status == 200);
  auto b = s->bus_client();
  std::vector<std::string> deltas;
  auto r = test::streamed_turn(*b, "main", test::web_turn("p1", "p1", "count and hash"), deltas);
  CHECK(r.tool_calls == 5);
  CHECK(r.reply.parts.at(0).text.value_or("") == "Done with plugins.");
  auto requests = json::parse(llm.get("/_requests").body);
  REQUIRE(!requests.empty());
  // The model was offered the plugins' tools with their schemas.
  auto first = requests[0]["body"].dump();
  CHECK(first.find("c-wordcount__word_count") != std::string::npos);
  CHECK(first.find("rust-hash__file_sha256") != std::string::npos);
  // And got their results: what the tools returned, as tool messages.
  std::vector<std::string> tool_results;
  for (auto& m : requests.back()["body"]["messages"])
    if (m.value("role", "") == "tool") tool_results.push_back(m["content"].is_string() ? m["content"].get<std::string>() : m["content"].dump());
  REQUIRE(tool_results.size() == 5);
  CHECK(tool_results[0] == "4");
  CHECK(tool_results[1] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(tool_results[2] == "41");
  CHECK(tool_results[3] == "42");  // the store kept the counter between calls
  // sha256("hello plugins\n")
  CHECK(tool_results[4] == "8133dfa55c69472edc752f54845be5a792ae92708ee89362b2179f64ae2cebb6");
  // The store is the plugin's own, under the workspace.
  CHECK(fs::exists(ws / ".plugin-data" / "c-wordcount" / "kv"));
  fs::remove_all(ws);
  fs::remove_all(ws.string() + "-home");
}

TEST_CASE("hostile plugins: refused at load or contained at run time with a typed error; the host and good plugins go on") {
  char tmpl[] = "/tmp/weft-plugins-hostile-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  fs::path ws = tmpl;
  auto plugins = plugins_of(ws, "a");
  examples_into(plugins);
  const std::vector<std::string> cases = {"oob_load", "oob_store", "infinite_loop", "memory_grow_4g", "deep_recursion",
                                          "huge_result", "ungranted_import", "foreign_import", "wrong_signature",
                                          "lying_export", "lying_entry", "invalid_types", "not_wasm"};
  auto folder = [](std::string c) {
    std::replace(c.begin(), c.end(), '_', '-');
    return "hostile-" + c;
  };
  for (auto& c : cases) {
    auto dir = plugins / folder(c);
    fs::create_directories(dir);
    fs::copy_file(fs::path(WEFT_TEST_HOSTILE_SRC) / (c + ".toml"), dir / "plugin.toml");
    if (c != "lying_entry")
      fs::copy_file(fs::path(WEFT_TEST_HOSTILE_BUILD) / ("hostile_" + c + ".wasm"), dir / "plugin.wasm");
  }
  // A plugin naming the reserved capability 'voice': it loads, and is reported.
  {
    auto dir = plugins / "voice-words";
    copy_plugin(WEFT_TEST_C_WORDCOUNT_DIR, "plugin.toml", "c_wordcount.wasm", dir, "c_wordcount.wasm");
    auto text = read_text(dir / "plugin.toml");
    text.replace(text.find("name = \"c-wordcount\""), 20, "name = \"voice-words\"");
    text.replace(text.find("capabilities = [\"tools\"]"), 24, "capabilities = [\"tools\", \"voice\"]");
    std::ofstream(dir / "plugin.toml", std::ios::trunc) << text;
  }
  // Files for file_read: one inside data/, a secret outside the workspace, and symlinks
  // leading out of it.
  fs::create_directories(ws / "data");
  std::ofstream(ws / "data" / "in.txt") << "inside";
  fs::path outside = ws.string() + "-outside";
  fs::create_directories(outside);
  std::ofstream(outside / "secret.txt") << "secret";
  fs::create_symlink("/etc/passwd", ws / "data" / "passwd");
  fs::create_symlink(outside / "secret.txt", ws / "data" / "secret");
  fs::create_symlink(outside, ws / "data" / "out");

  auto config = fmt::format(
      "[weft]\nhome = \"{ws}-home\"\n\n"
      "[agents.a]\nworkspace = \"{ws}\"\n[agents.a.tools]\nfamilies = [\"plugins\"]\n\n"
      "[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n",
      fmt::arg("ws", ws.string()));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  auto host_pid = s->service_pid("tool-plugins-a");
  REQUIRE(host_pid > 0);

  // What is on the bus.
  auto listed = b->call("tool/plugins/a", tool::list_tools{}, once());
  REQUIRE_MESSAGE(listed, (listed ? "" : listed.err().message));
  auto tools = listed->as<tool::tools>();
  REQUIRE(tools);
  std::set<std::string> names;
  for (auto& t : tools->tools) names.insert(t.name);
  CHECK(tools->family == "plugins");
  for (auto n : {"c-wordcount__word_count", "c-wordcount__kv_counter", "rust-hash__sha256_hex", "rust-hash__file_sha256",
                 "voice-words__word_count", "hostile-oob-load__run", "hostile-oob-store__run", "hostile-infinite-loop__run",
                 "hostile-memory-grow-4g__run", "hostile-deep-recursion__run", "hostile-huge-result__run"})
    CHECK_MESSAGE(names.count(n), n << " is not listed");
  for (auto c : {"ungranted_import", "foreign_import", "wrong_signature", "lying_export", "lying_entry", "invalid_types",
                 "not_wasm"})
    CHECK_MESSAGE(!names.count(folder(c) + "__run"), c << " was not refused at load");
  CHECK(!names.count("plugins_status"));  // hidden

  // Why each refused one was refused.
  auto st = ran(*b, "plugins_status", json::object());
  CAPTURE(st.content);
  std::map<std::string, json> status;
  auto parsed = json::parse(st.structured);  // kept: a range-for over a member of a temporary dangles
  for (auto& p : parsed["plugins"]) status[p["name"].get<std::string>()] = p;
  auto refused_for = [&](const std::string& c, const std::string& why) {
    REQUIRE_MESSAGE(status.count(folder(c)), c);
    auto& p = status[folder(c)];
    CHECK_MESSAGE(p.value("loaded", true) == false, c);
    CHECK_MESSAGE(p.value("error", "").find(why) != std::string::npos, c << ": " << p.value("error", ""));
  };
  refused_for("ungranted_import", "http_fetch");
  refused_for("foreign_import", "wasi_snapshot_preview1");
  refused_for("wrong_signature", "log");
  refused_for("lying_export", "tool_absent");
  refused_for("lying_entry", "bin/missing.wasm");
  refused_for("invalid_types", "InvalidModule");
  refused_for("not_wasm", "InvalidModule");
  CHECK(status["voice-words"]["loaded"] == true);
  CHECK(status["voice-words"]["unsupported"] == json::array({"voice"}));

  auto good_still_answers = [&](const std::string& after) {
    auto r = ran(*b, "c-wordcount__word_count", {{"text", "still here"}});
    CHECK_MESSAGE(!r.is_error, after);
    CHECK_MESSAGE(r.content == "2", after);
  };
  // Run-time attacks: each a typed error, the same host process, a good plugin answering.
  const std::vector<std::pair<std::string, std::string>> runtime = {
      {"hostile-oob-load__run", "TrapOutOfBounds"},        {"hostile-oob-store__run", "TrapOutOfBounds"},
      {"hostile-infinite-loop__run", "TrapBudgetExhausted"}, {"hostile-memory-grow-4g__run", "TrapMemoryLimit"},
      {"hostile-deep-recursion__run", "TrapStackExhausted"}, {"hostile-huge-result__run", "WEFT_E_TOO_LARGE"}};
  for (auto& [name, code] : runtime) {
    auto r = ran(*b, name, json::object());
    CHECK_MESSAGE(r.is_error, name);
    CHECK_MESSAGE(error_of(r) == code, name << ": " << r.content);
    good_still_answers(name);
  }
  CHECK(s->service_pid("tool-plugins-a") == host_pid);

  // file_read beneath the workspace only, through the Rust example's file tool.
  auto inside = ran(*b, "rust-hash__file_sha256", {{"path", "data/in.txt"}});
  CHECK_MESSAGE(!inside.is_error, inside.content);
  const std::string secret = (outside / "secret.txt").string();
  for (const std::string& path : {std::string("/etc/passwd"), std::string("../../../../etc/passwd"),
                                  std::string("data/../../etc/passwd"), std::string("data/passwd"),
                                  std::string("data/secret"), std::string("data/out/secret.txt"), secret}) {
    auto r = ran(*b, "rust-hash__file_sha256", {{"path", path}});
    CHECK_MESSAGE(r.is_error, path);
    CHECK_MESSAGE(error_of(r) == "WEFT_E_DENIED", path << ": " << r.content);
  }

  // Traps in a row disable a plugin (three), with the reason in its tools' results.
  auto first = ran(*b, "hostile-oob-load__run", json::object());  // its second in a row
  CHECK(error_of(first) == "TrapOutOfBounds");
  auto third = ran(*b, "hostile-oob-load__run", json::object());
  CHECK(error_of(third) == "TrapOutOfBounds");
  CHECK(third.content.find("disabled after 3 traps in a row") != std::string::npos);
  auto after = ran(*b, "hostile-oob-load__run", json::object());
  CHECK(after.is_error);
  CHECK(error_of(after) == "Disabled");
  CHECK(after.content.find("disabled after 3 traps in a row") != std::string::npos);
  good_still_answers("the disabled plugin");
  CHECK(s->service_pid("tool-plugins-a") == host_pid);
  CHECK(s->log().find("Failed to load plugin 'hostile-not-wasm'") != std::string::npos);

  // Each refusal, trap, denial and the disabling is in the witness chain, recorded from the
  // plugin host's own address.
  auto audit = audit_until(*s, ws.string() + "-home", "plugin_disabled");
  CAPTURE(audit);
  for (auto what : {"plugin_refused", "plugin/a/hostile-not-wasm", "plugin_trap", "TrapOutOfBounds", "TrapBudgetExhausted",
                    "TrapMemoryLimit", "TrapStackExhausted", "plugin_denied", "file_read refused", "plugin_disabled",
                    "plugin/a/hostile-oob-load", "tool/plugins/a"})
    CHECK_MESSAGE(audit.find(what) != std::string::npos, what);

  // weftctl plugin list|info|explain, from the same folders.
  auto list = s->weftctl({"plugin", "list", "--agent", "a"});
  CHECK_MESSAGE(list.exit_code == 0, list.err);
  CHECK(list.out.find("c-wordcount__word_count") != std::string::npos);
  CHECK(list.out.find("hostile-lying-entry") != std::string::npos);
  CHECK(list.out.find("invalid: ") != std::string::npos);
  auto info = s->weftctl({"plugin", "info", "voice-words"});
  CHECK_MESSAGE(info.exit_code == 0, info.err);
  CHECK_MESSAGE(info.out.find("voice (not supported by this build)") != std::string::npos, info.out);
  auto info_json = s->weftctl({"plugin", "info", "voice-words", "--json"});
  REQUIRE_MESSAGE(info_json.exit_code == 0, info_json.err);
  CHECK(json::parse(info_json.out)["unsupported"] == json::array({"voice"}));
  auto explain = s->weftctl({"plugin", "explain", "rust-hash", "--agent", "a"});
  CHECK_MESSAGE(explain.exit_code == 0, explain.err);
  CHECK_MESSAGE(explain.out.find("file_read") != std::string::npos, explain.out);
  auto missing = s->weftctl({"plugin", "info", "no-such"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("Failed to show plugin 'no-such'") != std::string::npos);
  fs::remove_all(ws);
  fs::remove_all(outside);
  fs::remove_all(ws.string() + "-home");
}

TEST_CASE("http_fetch goes through the egress: only the manifest's hosts; refusals are DENIED and audited") {
  char tmpl[] = "/tmp/weft-plugins-fetch-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  fs::path ws = tmpl;
  std::string home = ws.string() + "-home";
  test::http_target allowed("hello from the listed host"), other("you should not see this");
  auto dir = plugins_of(ws, "a") / "fetcher";
  fs::create_directories(dir);
  fs::copy_file(fs::path(WEFT_TEST_HOSTILE_BUILD) / "fetcher.wasm", dir / "fetcher.wasm");
  std::ofstream(dir / "plugin.toml") << fmt::format(
      "manifest_version = 1\nname = \"fetcher\"\nversion = \"1.0.0\"\npublisher = \"weft tests\"\n"
      "description = \"fetches a URL\"\nentry = \"fetcher.wasm\"\ncapabilities = [\"tools\"]\n"
      "[[tools]]\nname = \"fetch\"\ndescription = \"GET a URL\"\nexport = \"tool_fetch\"\n"
      "[[tools]]\nname = \"write\"\ndescription = \"write a file\"\nexport = \"tool_write\"\n"
      "[permissions]\nhost_functions = [\"result\", \"http_fetch\", \"file_write\"]\n"
      "[permissions.files]\nwrite = [\"data\"]\n"
      "[permissions.network]\nhosts = [\"127.0.0.1:{}\"]\n"
      "[permissions.limits]\ntime_ms = 20000\n",
      allowed.l.port);
  auto config = fmt::format(
      "[weft]\nhome = \"{home}\"\n\n"
      "[agents.a]\nworkspace = \"{ws}\"\n[agents.a.tools]\nfamilies = [\"plugins\"]\nnetwork = \"public\"\n\n"
      "[services.agent-a]\nexec = \"/bin/true\"\naddress = \"agent/a\"\nenabled = false\n\n"
      "[services.llm]\nexec = \"/bin/true\"\nenabled = false\n\n"
      "[services.router]\nexec = \"/bin/true\"\nenabled = false\n",
      fmt::arg("ws", ws.string()), fmt::arg("home", home));
  auto s = test::stack::start(config);
  REQUIRE(s);
  auto b = s->bus_client();
  // The egress opened the plugin's own socket (it reads the lists at start).
  auto sock = s->runtime() + "/egress/a/plugin-fetcher.sock";
  for (auto end = std::chrono::steady_clock::now() + 20s; !fs::exists(sock) && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(50ms);
  REQUIRE_MESSAGE(fs::exists(sock), s->log());

  // On the list: the answer reaches the plugin, and its result the caller — from a thread
  // that keeps only the plugin's granted paths and its relay's port.
  auto ok = ran(*b, "fetcher__fetch", {{"url", fmt::format("http://127.0.0.1:{}/x", allowed.l.port)}});
  CHECK_MESSAGE(!ok.is_error, ok.content);
  CHECK(ok.content == "status 200, 26 bytes: hello from the listed host");
  CHECK(s->log().find("plugin threads: 2 writable and 3 readable paths") != std::string::npos);  // data, the store; TLS
  if (sandbox::landlock_abi() >= 4) CHECK(s->log().find("TCP to 1 relay port(s) only") != std::string::npos);
  CHECK(allowed.hits == 1);

  // Not on the list: another port of the same address, a name, a name that resolves to the
  // listed address. DENIED, nothing arrives.
  for (auto url : {fmt::format("http://127.0.0.1:{}/", other.l.port), std::string("http://evil.example/steal"),
                   fmt::format("http://localhost:{}/", allowed.l.port), std::string("https://127.0.0.1/")}) {
    auto r = ran(*b, "fetcher__fetch", {{"url", url}});
    CHECK_MESSAGE(r.is_error, url);
    CHECK_MESSAGE(r.content == "status -2", url << ": " << r.content);
  }
  CHECK(other.hits == 0);
  CHECK(allowed.hits == 1);

  // The egress checks on its own (the host's check is not the only one): a request straight
  // to the plugin's socket for a port not on its list is refused there, and nothing arrives.
  {
    unique_fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
    REQUIRE(::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    auto req = fmt::format("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", other.l.port);
    REQUIRE(::send(c.get(), req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[1024];
    timeval tv{10, 0};
    ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = ::recv(c.get(), buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    CHECK_MESSAGE(got.starts_with("HTTP/1.1 403 Forbidden"), got);
    CHECK(got.find("is not on the network list") != std::string::npos);
    CHECK(other.hits == 0);
  }

  // file_write: beneath the granted folder only — not outside it in the workspace, not out
  // of it by '..', an absolute path, a symlink, nor into another agent's workspace.
  fs::create_directories(ws / "data");
  fs::path other_ws = ws.string() + "-b";
  fs::create_directories(other_ws);
  fs::create_symlink(other_ws, ws / "data" / "to-b");
  fs::create_symlink("/etc/passwd", ws / "data" / "passwd");
  auto wrote = ran(*b, "fetcher__write", {{"path", "data/out.txt"}, {"text", "mine"}});
  CHECK_MESSAGE(!wrote.is_error, wrote.content);
  CHECK(read_text(ws / "data" / "out.txt") == "mine");
  for (const std::string& path : {std::string("notes.txt"), std::string("data/../notes.txt"), std::string("../x.txt"),
                                  (other_ws / "x.txt").string(), std::string("/tmp/x.txt"), std::string("data/to-b/x.txt")}) {
    auto r = ran(*b, "fetcher__write", {{"path", path}, {"text", "escape"}});
    CHECK_MESSAGE(r.is_error, path);
    CHECK_MESSAGE(r.content == "status -2", path << ": " << r.content);
  }
  CHECK(!fs::exists(ws / "notes.txt"));
  CHECK(!fs::exists(other_ws / "x.txt"));
  CHECK(fs::is_empty(other_ws));
  // A symlink where the file goes is replaced, never followed.
  auto over_link = ran(*b, "fetcher__write", {{"path", "data/passwd"}, {"text", "escape"}});
  CHECK_MESSAGE(!over_link.is_error, over_link.content);
  CHECK(!fs::is_symlink(ws / "data" / "passwd"));
  CHECK(read_text(ws / "data" / "passwd") == "escape");
  CHECK(read_text("/etc/passwd").find("escape") == std::string::npos);

  // Each denial is in the witness chain, by the plugin host, naming the plugin and the URL.
  auto audit = audit_until(*s, home, "evil.example");
  CAPTURE(audit);
  CHECK(audit.find("plugin_denied") != std::string::npos);
  CHECK(audit.find("plugin/a/fetcher") != std::string::npos);
  CHECK(audit.find("'evil.example' is not on the network list") != std::string::npos);
  CHECK(audit.find(fmt::format("port {} of '127.0.0.1' is not on the network list", other.l.port)) != std::string::npos);
  CHECK(audit.find("file_write refused") != std::string::npos);
  fs::remove_all(ws);
  fs::remove_all(home);
  fs::remove_all(other_ws);
}
