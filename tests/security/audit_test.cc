// The hardening audit on crafted homes: each filesystem rule with a home that has the
// problem and one that does not (named by id), --fix's plan applied and a second audit
// clean, the configuration checks on a whole file with file:line, --fix moving inline
// secrets to weft.env, and --fix commenting out [services.tool-*] tables (CFG-015).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <algorithm>
#include <map>

#include <weft/scan/audit.hh>
#include <weft/scan/sandbox_fix.hh>
#include <weft/scan/secret_move.hh>
#include <weft/service/config.hh>

#include "../temp_dir.hh"

namespace fs = std::filesystem;
using namespace weft::scan;

namespace {

void write(const fs::path& p, std::string_view text, mode_t mode) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  REQUIRE(::chmod(p.c_str(), mode) == 0);
}

/// A home as weft leaves it: 0700, keys and token stores 0600, a session, a shared skill.
struct home {
  weft::test::temp_dir t{"scan-home"};
  fs::path h = t.path / "home", config = t.path / "home" / "clawft.toml";
  home() {
    fs::create_directories(h);
    ::chmod(h.c_str(), 0700);
    write(h / "keys/witness.key", std::string(64, 'k'), 0600);
    write(h / "oauth2/store.key", std::string(32, 's'), 0600);
    write(h / "oauth2/tokens.sealed", "sealed", 0600);
    write(h / "mcp/http.token", "0123456789abcdef0123456789abcdef", 0600);
    write(h / "agents/main/sessions/cli.jsonl", "{}\n", 0600);
    ::chmod((h / "agents").c_str(), 0700);
    ::chmod((h / "agents/main").c_str(), 0700);
    ::chmod((h / "agents/main/sessions").c_str(), 0700);
    fs::create_directories(h / "audit");
    ::chmod((h / "audit").c_str(), 0700);
    write(h / "skills/notes/SKILL.md", "---\nname: notes\ndescription: Notes.\n---\n# Notes\n", 0644);
    ::chmod((h / "skills").c_str(), 0755);
    ::chmod((h / "skills/notes").c_str(), 0755);
    write(config, "[agents.main]\nbudget_usd = 5.0\n", 0600);
  }
  std::vector<finding> audit() {
    std::vector<fix> fixes;
    return audit_home(h.string(), config.string(), fixes);
  }
};

bool has(const std::vector<finding>& f, std::string_view id) {
  for (auto& x : f)
    if (x.r->id == id) return true;
  return false;
}

}  // namespace

TEST_CASE("a home as weft makes it has no filesystem findings") {
  home h;
  auto f = h.audit();
  for (auto& x : f) CAPTURE(x.message);
  CHECK(f.empty());
}

TEST_CASE("FS-001 … FS-009 on crafted homes, --fix, and a second audit") {
  struct crafted {
    std::string_view id;
    std::function<void(home&)> make;
  };
  std::vector<crafted> cases = {
      {"FS-001", [](home& h) { ::chmod(h.h.c_str(), 0755); }},
      {"FS-002", [](home& h) { ::chmod((h.h / "keys/witness.key").c_str(), 0644); }},
      {"FS-003", [](home& h) { ::chmod((h.h / "mcp/http.token").c_str(), 0640); }},
      {"FS-004", [](home& h) { ::chmod(h.config.c_str(), 0666); }},
      {"FS-005", [](home& h) { ::chmod(h.config.c_str(), 0644); }},
      {"FS-006", [](home& h) { ::chmod((h.h / "agents/main/sessions/cli.jsonl").c_str(), 0644); }},
      {"FS-007", [](home& h) { ::chmod((h.h / "skills/notes").c_str(), 0777); }},
      {"FS-008", [](home& h) { REQUIRE(::chown((h.h / "oauth2/store.key").c_str(), 12345, 12345) == 0); }},
      {"FS-009", [](home& h) { ::chmod((h.h / "audit").c_str(), 0777); }},
  };
  for (auto& c : cases) {
    CAPTURE(c.id);
    if (c.id == "FS-008" && ::geteuid() != 0) continue;  // chown to another user needs root
    home h;
    CHECK_FALSE(has(h.audit(), c.id));  // negative: the home as weft makes it
    c.make(h);
    std::vector<fix> fixes;
    auto f = audit_home(h.h.string(), h.config.string(), fixes);
    CHECK(has(f, c.id));  // positive
    if (c.id == "FS-008") continue;  // no automatic fix: chown is the admin's call
    REQUIRE_FALSE(fixes.empty());
    for (auto& x : fixes) {
      apply(x);
      CHECK(x.applied);
      CHECK(x.error.empty());
    }
    std::vector<fix> again;
    auto second = audit_home(h.h.string(), h.config.string(), again);
    for (auto& x : second) CAPTURE(x.message);
    CHECK(second.empty());
    CHECK(again.empty());
  }
}

TEST_CASE("configuration checks on a file: file:line, several findings at once") {
  weft::test::temp_dir t("scan-config");
  auto p = t.path / "clawft.toml";
  write(p,
        "[providers.openai]\n"
        "api_key = \"sk-proj-abcdefghijklmnopqrstuvwx\"\n"
        "\n"
        "[agents.main]\n"
        "budget_usd = 2.0\n"
        "[agents.main.tools]\n"
        "deny = [\"write_file\"]\n"
        "\n"
        "[tools.mcp_servers.files]\n"
        "command = \"npx\"\n"
        "args = [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/srv\"]\n"
        "env = { OPENAI_API_KEY = \"${OPENAI_API_KEY}\" }\n",
        0600);
  auto a = audit_config_file(p.string());
  CHECK(a.errors.empty());
  std::map<std::string_view, std::uint32_t> line;
  for (auto& f : a.findings) line[f.r->id] = f.line;
  CHECK(line["CFG-002"] == 2);
  CHECK(line.count("CFG-010"));
  CHECK(line.count("CFG-012"));
  CHECK(line["CFG-013"] == 12);
  auto missing = audit_config_file((t.path / "nope.toml").string());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].rfind("Failed to read config '", 0) == 0);
}

TEST_CASE("--fix moves inline secrets to weft.env: dry run, apply, env file, load, rescan") {
  weft::test::temp_dir t("scan-secrets");
  auto p = t.path / "clawft.toml";
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwx", token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
  const std::string text =
      "# ours\n"
      "[providers.openai]\n"
      "api_key = \"" + key + "\"   # a comment kept\n"
      "\n"
      "[agents.main]\n"
      "budget_usd = 2.0\n"
      "\n"
      "[tools.mcp_servers.gh]\n"
      "command = \"github-mcp\"\n"
      "env = { GITHUB_TOKEN = '" + token + "', ROOT = \"/srv\" }\n";
  write(p, text, 0640);
  auto env = t.path / "weft.env";
  write(env, "OTHER='kept'\nWEFT_SECRET_PROVIDERS_OPENAI_API_KEY='a different value'\n", 0600);
  auto read = [](const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };

  auto plan = plan_secret_moves(p.string());
  CHECK(plan.errors.empty());
  REQUIRE(plan.moves.size() == 2);
  CHECK(plan.env_file == env.string());
  // An existing variable with another value is never overwritten: the next name is taken.
  CHECK(plan.moves[0].var == "WEFT_SECRET_PROVIDERS_OPENAI_API_KEY_2");
  CHECK(plan.moves[1].var == "WEFT_SECRET_TOOLS_MCP_SERVERS_GH_ENV_GITHUB_TOKEN");
  for (auto& m : plan.moves) {
    CAPTURE(m.diff);
    CHECK(m.diff.find(key.substr(3, 8)) == std::string::npos);  // masked
    CHECK(m.diff.find(token.substr(3, 8)) == std::string::npos);
    CHECK(m.diff.find("+++ " + p.string()) != std::string::npos);
    CHECK(m.diff.find("+" + m.var + "='") != std::string::npos);
  }
  CHECK(plan.moves[0].diff.find("-api_key = \"sk-…\"   # a comment kept\n") != std::string::npos);
  // The dry run (planning) changed nothing.
  CHECK(read(p) == text);
  CHECK(read(env) == "OTHER='kept'\nWEFT_SECRET_PROVIDERS_OPENAI_API_KEY='a different value'\n");

  CHECK(apply(plan).empty());
  auto after = read(p);
  auto want = text;
  want.replace(want.find("\"" + key + "\""), key.size() + 2, "\"${WEFT_SECRET_PROVIDERS_OPENAI_API_KEY_2}\"");
  want.replace(want.find("'" + token + "'"), token.size() + 2, "\"${WEFT_SECRET_TOOLS_MCP_SERVERS_GH_ENV_GITHUB_TOKEN}\"");
  CHECK(after == want);  // everything else byte for byte
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);  // the config keeps its mode
  REQUIRE(::stat(env.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read(env) == "OTHER='kept'\nWEFT_SECRET_PROVIDERS_OPENAI_API_KEY='a different value'\n"
                     "WEFT_SECRET_PROVIDERS_OPENAI_API_KEY_2='" + key + "'\n"
                     "WEFT_SECRET_TOOLS_MCP_SERVERS_GH_ENV_GITHUB_TOKEN='" + token + "'\n");

  // The config loads (strictly) with the env file's variables set, and holds the secrets.
  ::setenv("WEFT_SECRET_PROVIDERS_OPENAI_API_KEY_2", key.c_str(), 1);
  ::setenv("WEFT_SECRET_TOOLS_MCP_SERVERS_GH_ENV_GITHUB_TOKEN", token.c_str(), 1);
  auto cfg = weft::service::load_config(p.string());
  ::unsetenv("WEFT_SECRET_PROVIDERS_OPENAI_API_KEY_2");
  ::unsetenv("WEFT_SECRET_TOOLS_MCP_SERVERS_GH_ENV_GITHUB_TOKEN");
  REQUIRE(cfg);
  CHECK(cfg->providers.at("openai").api_key == key);
  CHECK(cfg->tools.mcp_servers.at("gh").env.at("GITHUB_TOKEN") == token);

  // A second scan has no secret findings (and CFG-013 does not take the server's own moved
  // secret for one of weft's), and a second --fix plans nothing.
  auto again = audit_config_file(p.string());
  for (auto& f : again.findings) CAPTURE(f.message);
  CHECK_FALSE(has(again.findings, "CFG-002"));
  CHECK_FALSE(has(again.findings, "CFG-003"));
  CHECK_FALSE(has(again.findings, "CFG-013"));
  CHECK(plan_secret_moves(p.string()).moves.empty());
}

TEST_CASE("a search provider's key written in [tools.web_search] is CFG-002") {
  weft::test::temp_dir t("scan-web-search");
  auto p = t.path / "clawft.toml";
  write(p, "[tools.web_search]\nprovider = \"brave\"\napi_key = \"BSAabcdefghijklmnopqrstuvwxyz012\"\n", 0600);
  auto a = audit_config_file(p.string());
  CHECK(a.errors.empty());
  std::map<std::string_view, std::uint32_t> line;
  for (auto& f : a.findings) line[f.r->id] = f.line;
  CHECK(line["CFG-002"] == 3);
  write(p, "[tools.web_search]\nprovider = \"brave\"\napi_key = \"${BRAVE_API_KEY}\"\n", 0600);
  CHECK_FALSE(has(audit_config_file(p.string()).findings, "CFG-002"));
}

TEST_CASE("--fix refuses a secret an env file cannot hold, and a same value is reused") {
  weft::test::temp_dir t("scan-secrets-2");
  auto p = t.path / "clawft.toml";
  write(p, "[providers.openai]\napi_key = \"it's-a-secret-with-a-quote\"\n[channels.web]\nauth_token = \"0123456789abcdef0123456789abcdef\"\n[agents.main]\n", 0600);
  write(t.path / "weft.env", "WEFT_SECRET_CHANNELS_WEB_AUTH_TOKEN=0123456789abcdef0123456789abcdef\n", 0600);
  auto plan = plan_secret_moves(p.string());
  REQUIRE(plan.errors.size() == 1);
  CHECK(plan.errors[0].find("providers.openai.api_key") != std::string::npos);
  CHECK(plan.errors[0].find("it's") == std::string::npos);
  REQUIRE(plan.moves.size() == 1);
  CHECK(plan.moves[0].reused);
  CHECK(plan.moves[0].var == "WEFT_SECRET_CHANNELS_WEB_AUTH_TOKEN");
}

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

bool flags_15(const std::string& text) {
  for (auto& f : audit_config_text(text, "clawft.toml"))
    if (f.r->id == std::string_view("CFG-015")) return true;
  return false;
}

}  // namespace

TEST_CASE("--fix comments out [services.tool-*] tables: dry run, apply, every other byte kept, rescan clean") {
  weft::test::temp_dir t{"scan-sandbox-fix"};
  auto config = t.path / "clawft.toml";
  // Two agents; tool-shell-main declared by hand with a sub-table and a comment after it,
  // tool-plugins-b with a quoted header and CRLF-free trailing text; an ordinary service
  // between them and at the end stays as it is.
  const std::string head = "# weft\n[agents.main]\n[agents.main.tools]\nfamilies = [\"shell\"]\n\n"
                           "[agents.b.tools]\nfamilies = [\"plugins\"]\n\n";
  const std::string shell = "[services.tool-shell-main]\nexec = \"/usr/bin/weft-tool-shell\"\n"
                            "[services.tool-shell-main.env]\nWEFT_AGENT = \"main\"\n";
  const std::string between = "\n# notes: synced hourly\n[services.notes-sync]\nexec = \"/usr/local/bin/notes-sync\"\n\n";
  const std::string plugins = "[ services.\"tool-plugins-b\" ]  # by hand\nexec = \"/usr/bin/weft-plugin-host\"\n";
  const std::string tail = "\n[services.backup]\nexec = \"/usr/local/bin/backup\"";  // no newline at the end
  const std::string text = head + shell + between + plugins + tail;
  write(config, text, 0640);
  REQUIRE(flags_15(text));

  auto plan = plan_sandbox_fixes(config.string());
  CHECK(plan.errors.empty());
  REQUIRE(plan.removals.size() == 2);
  CHECK(plan.removals[0].service == "tool-shell-main");
  CHECK(plan.removals[0].first == 9);
  CHECK(plan.removals[0].last == 12);
  CHECK(plan.removals[0].diff.find("@@ -9,4 +9,5 @@\n-[services.tool-shell-main]\n") != std::string::npos);
  CHECK(plan.removals[0].diff.find("+# [services.tool-shell-main.env]\n") != std::string::npos);
  CHECK(plan.removals[1].service == "tool-plugins-b");
  CHECK(read_all(config) == text);  // planned, not written

  auto note = [](std::string_view svc) {
    return "# weftctl security scan --fix (CFG-015): weftd derives " + std::string(svc) +
           " and sandboxes it; this table ran it without its sandbox\n";
  };
  auto commented = [](const std::string& block) {
    std::string out;
    for (std::size_t p = 0; p < block.size();) {
      auto e = block.find('\n', p);
      out += "# " + block.substr(p, e - p + 1);
      p = e + 1;
    }
    return out;
  };
  const std::string expected =
      head + note("tool-shell-main") + commented(shell) + between + note("tool-plugins-b") + commented(plugins) + tail;
  CHECK(plan.new_config == expected);
  CHECK(apply(plan).empty());
  CHECK(read_all(config) == expected);
  struct stat st {};
  REQUIRE(::stat(config.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // the mode kept
  CHECK(!flags_15(read_all(config)));
  // The file still loads, and the services it keeps are still there.
  auto cfg = weft::service::load_config(config.string(), true);
  REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.err().message));
  CHECK(std::any_of(cfg->services.begin(), cfg->services.end(), [](auto& s) { return s.name == "notes-sync"; }));
  CHECK(std::any_of(cfg->services.begin(), cfg->services.end(), [](auto& s) { return s.name == "backup"; }));
  // A second plan has nothing to do.
  auto again = plan_sandbox_fixes(config.string());
  CHECK(again.removals.empty());
  CHECK(again.errors.empty());
}

TEST_CASE("--fix leaves a tool service it cannot find as a table to the admin") {
  weft::test::temp_dir t{"scan-sandbox-fix-inline"};
  auto config = t.path / "clawft.toml";
  // Written as a key of [services], not as its own table: said so, nothing changed.
  const std::string text = "[agents.main.tools]\nfamilies = [\"fs\"]\n\n[services]\n"
                           "tool-fs-main = { exec = \"/usr/bin/weft-tool-fs\" }\n";
  write(config, text, 0600);
  REQUIRE(flags_15(text));
  auto plan = plan_sandbox_fixes(config.string());
  CHECK(plan.removals.empty());
  REQUIRE(plan.errors.size() == 1);
  CHECK(plan.errors[0].find("Failed to comment out [services.tool-fs-main]") != std::string::npos);
  CHECK(plan.errors[0].find("remove it by hand") != std::string::npos);
  CHECK(apply(plan).empty());
  CHECK(read_all(config) == text);
}
