#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <unistd.h>

#include <weft/service/config.hh>
#include <weft/base/command.hh>
#include <nlohmann/json.hpp>
#include <weft/service/policy.hh>

using namespace weft;
using namespace weft::service;
namespace fs = std::filesystem;

namespace {

/// The config `text` must be valid; fails the test with the errors otherwise.
config valid(std::string_view text) {
  auto r = parse_config(text, "clawft.toml");
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.err().message));
  return *r;
}

/// The error message of an invalid `text`, after checking its domain and code.
std::string errors(std::string_view text) {
  auto r = parse_config(text, "clawft.toml");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.err().domain == "weft");
  CHECK(r.err().code == "Config");
  return r.err().message;
}

/// Sets (or, with nullopt, unsets) an environment variable for one scope.
class scoped_env {
 public:
  scoped_env(const char* name, std::optional<std::string> value) : _name(name) {
    if (const char* old = std::getenv(name)) _old = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~scoped_env() {
    if (_old) ::setenv(_name.c_str(), _old->c_str(), 1);
    else ::unsetenv(_name.c_str());
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string _name;
  std::optional<std::string> _old;
};

std::vector<std::string> keys_of_providers(const config& c) {
  std::vector<std::string> out;
  for (auto& [k, v] : c.providers) out.push_back(k);
  return out;
}

/// The standard library's own words for a bad pattern, which differ between libraries.
std::string regex_error_text(const std::string& pattern) {
  try {
    std::regex re(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return e.what();
  }
  return "(valid)";
}

/// Unsets every built-in provider's key variable for one scope, so tests do not depend on
/// the keys of whoever runs them.
class no_provider_keys {
 public:
  no_provider_keys() {
    for (auto& p : provider_table())
      if (!p.api_key_env.empty()) _envs.push_back(std::make_unique<scoped_env>(p.api_key_env.c_str(), std::nullopt));
  }

 private:
  std::vector<std::unique_ptr<scoped_env>> _envs;
};

/// A fresh directory under /tmp, removed with its contents at the end of the scope.
class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/weft-config-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    _path = tmpl;
  }
  ~temp_dir() { fs::remove_all(_path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return _path; }
  std::string write(const std::string& rel, std::string_view text) const {
    auto p = _path + "/" + rel;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string _path;
};

}  // namespace

TEST_CASE("the built-in default") {
  no_provider_keys keys;
  auto d = default_config();
  CHECK(d.source == "(built-in default)");
  CHECK(d.home == "");
  CHECK(d.runtime_dir == "");
  CHECK(d.log == "info");
  CHECK(d.bus.max_message_bytes == 1048576);
  CHECK(d.bus.queue_depth == 1000);
  CHECK(d.bus.default_policy == acl_action::allow);
  CHECK(d.bus.acl.empty());
  CHECK(d.supervisor.ready_timeout_ms == 10000);
  CHECK(d.supervisor.heartbeat_interval_ms == 1000);
  CHECK(d.supervisor.heartbeat_timeout_ms == 10000);
  CHECK(d.supervisor.stop_timeout_ms == 10000);
  CHECK(d.supervisor.restart_backoff_initial_ms == 100);
  CHECK(d.supervisor.restart_backoff_max_ms == 30000);
  CHECK(d.supervisor.restart_intensity == 5);
  CHECK(d.supervisor.restart_window_s == 60);
  CHECK(d.services.empty());
  CHECK(d.warnings.empty());

  // An empty file means the same, apart from where it came from and the agent turn, which
  // only the built-in default switches on.
  auto empty = valid("# nothing here\n");
  CHECK(empty.source == "clawft.toml");
  empty.source = d.source;
  CHECK(empty.agents.empty());
  CHECK(empty.bus.agent_tools.empty());
  CHECK_FALSE(empty.channels.web.has_value());
  CHECK(empty.routing.default_agent == "");
  empty.agents = d.agents;
  empty.bus.agent_tools = d.bus.agent_tools;
  empty.channels = d.channels;
  empty.routing = d.routing;
  CHECK_FALSE(empty.mcp.has_value());
  empty.mcp = d.mcp;
  empty.secret_vars = d.secret_vars;
  CHECK(empty == d);
}

TEST_CASE("a file setting every key reads back exactly") {
  scoped_env token("WEFT_TEST_TOKEN", "s3cret");
  auto c = valid(R"([weft]
home = "/var/lib/weft"
runtime_dir = "/run/weft"
log = "debug,bus=trace"

[bus]
max_message_bytes = 65536
queue_depth = 50
default_policy = "deny"

[[bus.acl]]
from = "agent/*"
to = "tool/shell/*"
types = ["io.weft.Tool.v1.*", "io.weft.Bus.v1.Ping"]
action = "deny"

[[bus.acl]]
action = "allow"

[supervisor]
ready_timeout_ms = 1
heartbeat_interval_ms = 2
heartbeat_timeout_ms = 3
stop_timeout_ms = 4
restart_backoff_initial_ms = 5
restart_backoff_max_ms = 6
restart_intensity = 7
restart_window_s = 4294967295

[services.zeta]
exec = "/usr/libexec/weft/weft-echo"
args = ["--x", "y z"]
address = "echo/zeta_1.v-2"
after = ["bus", "alpha"]
env = { TOKEN = "${WEFT_TEST_TOKEN}", PLAIN = "p" }
restart = "on-failure"
enabled = false

[services.alpha]
exec = "/bin/alpha"
restart = "never"

[services]
mid = { exec = "/bin/mid", restart = "always", enabled = true }
)");
  CHECK(c.source == "clawft.toml");
  CHECK(c.home == "/var/lib/weft");
  CHECK(c.runtime_dir == "/run/weft");
  CHECK(c.log == "debug,bus=trace");
  CHECK(c.bus.max_message_bytes == 65536);
  CHECK(c.bus.queue_depth == 50);
  CHECK(c.bus.default_policy == acl_action::deny);
  REQUIRE(c.bus.acl.size() == 2);
  CHECK(c.bus.acl[0] == acl_rule{"agent/*", "tool/shell/*", {"io.weft.Tool.v1.*", "io.weft.Bus.v1.Ping"},
                                 acl_action::deny, "clawft.toml:11:1"});
  CHECK(c.bus.acl[1] == acl_rule{"*", "*", {"*"}, acl_action::allow, "clawft.toml:17:1"});
  CHECK(c.supervisor == supervisor_settings{1, 2, 3, 4, 5, 6, 7, 4294967295u});

  // File order, not the alphabetical order toml++ keeps.
  REQUIRE(c.services.size() == 3);
  auto& z = c.services[0];
  CHECK(z.name == "zeta");
  CHECK(z.exec == "/usr/libexec/weft/weft-echo");
  CHECK(z.args == std::vector<std::string>{"--x", "y z"});
  CHECK(z.address == "echo/zeta_1.v-2");
  CHECK(z.after == std::vector<std::string>{"bus", "alpha"});
  CHECK(z.env == std::map<std::string, std::string>{{"TOKEN", "s3cret"}, {"PLAIN", "p"}});
  CHECK(z.restart == restart_policy::on_failure);
  CHECK(z.enabled == false);
  CHECK(z.where == "clawft.toml:30:1");

  auto& a = c.services[1];
  CHECK(a.name == "alpha");
  CHECK(a.exec == "/bin/alpha");
  CHECK(a.args.empty());
  CHECK(a.address == "alpha");  // defaults to the name
  CHECK(a.after == std::vector<std::string>{"bus"});
  CHECK(a.env.empty());
  CHECK(a.restart == restart_policy::never);
  CHECK(a.enabled == true);
  CHECK(a.where == "clawft.toml:39:1");

  auto& m = c.services[2];
  CHECK(m.name == "mid");
  CHECK(m.address == "mid");
  CHECK(m.restart == restart_policy::always);
  CHECK(m.where == "clawft.toml:44:7");
  CHECK(c.warnings.empty());
}

TEST_CASE("service_spec equality ignores where the table is") {
  service_spec a{.name = "x", .exec = "/bin/x", .address = "x", .where = "a.toml:1:1"};
  auto b = a;
  b.where = "a.toml:9:1";
  CHECK(a == b);
  b.exec = "/bin/y";
  CHECK_FALSE(a == b);
}

/// Config errors of the same shape: the text of a file and the one message it gets,
/// "clawft.toml:line:col: error: …". Each is one row; the test below walks them all.
struct error_case {
  std::string_view toml;
  std::string_view message;
};

constexpr error_case error_cases[] = {
    {"[bus]\nmax_message_bytes = = 3\n",
     "clawft.toml:2:21: error: Error while parsing value: could not determine value type"},
    {"[bus]\nmax_msg_bytes = 1024\n",
     "clawft.toml:2:1: error: unknown key 'max_msg_bytes' in [bus]; expected one of: max_message_bytes, "
        "queue_depth, default_policy, acl"},
    {"[bus]\n  queue_dept = 3\n",
     "clawft.toml:2:3: error: unknown key 'queue_dept' in [bus]; expected one of: max_message_bytes, "
        "queue_depth, default_policy, acl; did you mean 'queue_depth'?"},
    {"[[bus.acl]]\nform = \"a\"\naction = \"deny\"\n",
     "clawft.toml:2:1: error: unknown key 'form' in bus.acl[0]; expected one of: from, to, types, action; "
        "did you mean 'from'?"},
    {"[services.echo-1]\nexec = \"/bin/echo\"\nrestrat = \"never\"\n",
     "clawft.toml:3:1: error: unknown key 'restrat' in [services.echo-1]; expected one of: exec, args, "
        "address, after, env, restart, enabled; did you mean 'restart'?"},
    {"[weft]\n\"a\\nb\" = 1\n",
     "clawft.toml:2:1: error: unknown key 'a\\x0ab' in [weft]; expected one of: home, runtime_dir, log"},
    {"[weft]\nx = 1\n",
     "clawft.toml:2:1: error: unknown key 'x' in [weft]; expected one of: home, runtime_dir, log"},
    {"[buss]\n",
     "clawft.toml:1:2: error: unknown key 'buss' at the top level; expected one of: weft, bus, supervisor, "
        "services, providers, llm, agents, channels, agent_routes, routing, delegation, memory, mcp, tools, "
        "oauth2, security, hub; did you mean 'bus'?"},
    {"[bus]\nmax_message_bytes = \"big\"\n",
     "clawft.toml:2:21: error: [bus] max_message_bytes must be an integer, not a string"},
    {"[bus]\nqueue_depth = 10.5\n",
     "clawft.toml:2:15: error: [bus] queue_depth must be an integer, not a floating-point number"},
    {"[weft]\nlog = true\n",
     "clawft.toml:2:7: error: [weft] log must be a string, not a boolean"},
    {"bus = 3\n",
     "clawft.toml:1:7: error: [bus] must be a table, not an integer"},
    {"[bus]\nacl = 1\n",
     "clawft.toml:2:7: error: [bus] acl must be an array of tables ([[bus.acl]]), not an integer"},
    {"[bus]\nacl = [1]\n",
     "clawft.toml:2:8: error: bus.acl[0] must be a table, not an integer"},
    {"[services.a]\nexec = \"/bin/a\"\nargs = \"-v\"\n",
     "clawft.toml:3:8: error: [services.a] args must be an array of strings, not a string"},
    {"[services.a]\nexec = \"/bin/a\"\nargs = [\"-v\", 2]\n",
     "clawft.toml:3:15: error: [services.a] args must contain only strings, not an integer"},
    {"[services.a]\nexec = \"/bin/a\"\nenv = { N = 1 }\n",
     "clawft.toml:3:13: error: [services.a] env.N must be a string, not an integer"},
    {"[services.a]\nexec = \"/bin/a\"\nenv = [\"N=1\"]\n",
     "clawft.toml:3:7: error: [services.a] env must be a table of strings, not an array"},
    {"[services.a]\nexec = \"/bin/a\"\nenabled = \"yes\"\n",
     "clawft.toml:3:11: error: [services.a] enabled must be true or false, not a string"},
    {"[services]\na = 5\n",
     "clawft.toml:2:5: error: [services.a] must be a table, not an integer"},
    {"[supervisor]\nstop_timeout_ms = 1979-05-27\n",
     "clawft.toml:2:19: error: [supervisor] stop_timeout_ms must be an integer, not a date"},
    {"[bus]\nmax_message_bytes = 1023\n",
     "clawft.toml:2:21: error: [bus] max_message_bytes must be between 1024 and 67108864, not 1023"},
    {"[bus]\nmax_message_bytes = 67108865\n",
     "clawft.toml:2:21: error: [bus] max_message_bytes must be between 1024 and 67108864, not 67108865"},
    {"[bus]\nqueue_depth = 0\n",
     "clawft.toml:2:15: error: [bus] queue_depth must be between 1 and 1000000, not 0"},
    {"[bus]\nqueue_depth = -5\n",
     "clawft.toml:2:15: error: [bus] queue_depth must be between 1 and 1000000, not -5"},
    {"[bus]\ndefault_policy = \"maybe\"\n",
     "clawft.toml:2:18: error: [bus] default_policy must be one of 'allow', 'deny', not 'maybe'"},
    {"[supervisor]\nready_timeout_ms = 0\n",
     "clawft.toml:2:20: error: [supervisor] ready_timeout_ms must be between 1 and 4294967295, not 0"},
    {"[supervisor]\nrestart_window_s = 4294967296\n",
     "clawft.toml:2:20: error: [supervisor] restart_window_s must be between 1 and 4294967295, not 4294967296"},
    {"[supervisor]\nrestart_intensity = -1\n",
     "clawft.toml:2:21: error: [supervisor] restart_intensity must be between 1 and 4294967295, not -1"},
    {"[supervisor]\nrestart_backoff_initial_ms = 500\nrestart_backoff_max_ms = 400\n",
     "clawft.toml:3:26: error: [supervisor] restart_backoff_max_ms (400) must not be less than "
        "restart_backoff_initial_ms (500)"},
    {"[supervisor]\nrestart_backoff_initial_ms = 40000\n",
     "clawft.toml:2:30: error: [supervisor] restart_backoff_max_ms (30000) must not be less than "
        "restart_backoff_initial_ms (40000)"},
    {"[supervisor]\nheartbeat_interval_ms = 10000\n",
     "clawft.toml:2:25: error: [supervisor] heartbeat_timeout_ms (10000) must be greater than "
        "heartbeat_interval_ms (10000)"},
    {"[services.a]\nexec = \"/bin/a\"\nrestart = \"sometimes\"\n",
     "clawft.toml:3:11: error: [services.a] restart must be one of 'always', 'on-failure', 'never', not "
        "'sometimes'"},
    {"[[bus.acl]]\naction = \"block\"\n",
     "clawft.toml:2:10: error: bus.acl[0] action must be one of 'allow', 'deny', not 'block'"},
    {"[services.echo-1]\naddress = \"echo/1\"\n",
     "clawft.toml:1:1: error: [services.echo-1] is missing required key 'exec'"},
    {"[bus]\n\n[[bus.acl]]\nfrom = \"a\"\n",
     "clawft.toml:3:1: error: bus.acl[0] is missing required key 'action'"},
    {"[services]\nx = { args = [] }\n",
     "clawft.toml:2:5: error: [services.x] is missing required key 'exec'"},
    {"[services.a]\nexec = \"\"\n",
     "clawft.toml:2:8: error: [services.a] exec must not be empty"},
    {"[services.Echo]\nexec = \"/bin/e\"\naddress = \"echo\"\n",
     "clawft.toml:1:11: error: service name 'Echo' is invalid: use 1 to 64 of a-z, 0-9 and '-', starting with "
        "a letter or digit"},
    {"[services.bus]\nexec = \"/bin/e\"\naddress = \"b\"\n",
     "clawft.toml:1:11: error: service name 'bus' is reserved for weft itself"},
    {"[services.a]\nexec = \"/bin/a\"\naddress = \"echo//1\"\n",
     "clawft.toml:3:11: error: [services.a] address 'echo//1' is invalid: use segments of a-z, 0-9, '_', '.', "
        "'-' starting with a letter or digit, separated by '/', at most 128 characters"},
    {"[services.a]\nexec = \"/bin/a\"\naddress = \"ctl/x\"\n",
     "clawft.toml:3:11: error: [services.a] address 'ctl/x' is reserved for weft itself"},
    {"[services.a]\nexec = \"/bin/a\"\naddress = \"b\"\n[services.b]\nexec = \"/bin/b\"\n",
     "clawft.toml:4:1: error: [services.b] address 'b' is already used by [services.a]"},
    {"[services.a]\nexec = \"/bin/a\"\nenv = { \"FOO-BAR\" = \"1\" }\n",
     "clawft.toml:3:9: error: [services.a] env key 'FOO-BAR' is not a valid environment variable name: use "
        "letters, digits and '_', not starting with a digit"},
    {"[[bus.acl]]\nfrom = \"Agent/*\"\naction = \"deny\"\n",
     "clawft.toml:2:8: error: bus.acl[0] from 'Agent/*' can never match an address: use a-z, 0-9, '_', '.', "
        "'-', '/' and the wildcard '*'"},
    {"[[bus.acl]]\ntypes = []\naction = \"deny\"\n",
     "clawft.toml:2:9: error: bus.acl[0] types must not be empty; use [\"*\"] for every type"},
    {"[[bus.acl]]\ntypes = [\"io.weft.*\", \"io weft\"]\naction = \"deny\"\n",
     "clawft.toml:2:23: error: bus.acl[0] types 'io weft' can never match a message type: use letters, digits, "
        "'_', '.', '-' and the wildcard '*'"},
    {"[weft]\nhome = \"~/.clawft\"\n",
     "clawft.toml:2:8: error: [weft] home must be an absolute path, not '~/.clawft'"},
    {"[weft]\nruntime_dir = \"run\"\n",
     "clawft.toml:2:15: error: [weft] runtime_dir must be an absolute path, not 'run'"},
    {"[weft]\nlog = \"verbose\"\n",
     "clawft.toml:2:7: error: [weft] log 'verbose' is not a level spec: use a level (trace, debug, info, "
        "warning, error, off), optionally with per-logger levels, e.g. 'debug,bus=trace'"},
    {"[services.x]\nexec = \"/bin/x\"\nenv = { TOKEN = \"${WEFT_TEST_UNSET}\" }\n",
     "clawft.toml:3:17: error: environment variable 'WEFT_TEST_UNSET' is not set (used in [services.x] "
        "env.TOKEN)"},
    {"[services.x]\nexec = \"/bin/${WEFT_TEST_UNSET\"\n",
     "clawft.toml:2:8: error: unterminated '${' in [services.x] exec; write '$${' for a literal '${'"},
    {"[services.x]\nexec = \"/bin/x\"\nargs = [\"${1X}\"]\n",
     "clawft.toml:3:9: error: '${1X}' in [services.x] args is not a valid environment variable name"},
    {"[services.a]\nexec = \"/bin/a\"\nafter = [\"bus\", \"ehco\"]\n[services.echo]\nexec = \"/bin/e\"\n",
     "clawft.toml:3:17: error: [services.a] after names 'ehco', which is neither 'bus' nor a configured "
        "service; did you mean 'echo'?"},
    {"[services.a]\nexec = \"/bin/a\"\nafter = [\"bar\"]\n",
     "clawft.toml:3:10: error: [services.a] after names 'bar', which is neither 'bus' nor a configured service"},
    {"[services.a]\nexec = \"/bin/a\"\nafter = [\"weftd\"]\n",
     "clawft.toml:3:10: error: [services.a] after names 'weftd', which is neither 'bus' nor a configured "
        "service"},
    {"[services.a]\nexec = \"/bin/a\"\nafter = [\"a\"]\n",
     "clawft.toml:3:10: error: [services.a] after forms a cycle: a -> a (each waits for the next)"},
    {"[providers.corp]\nmodel = \"m\"\n",
     "clawft.toml:1:1: error: [providers.corp] is missing required key 'base_url' (it is not a built-in "
        "provider: openai, anthropic, openrouter, gemini, groq, deepseek, mistral, xai, together, azure, ollama, "
        "vllm, llamacpp, lmstudio)"},
    {"[providers.azure]\napi_key = \"k\"\n",
     "clawft.toml:1:1: error: [providers.azure] is missing required key 'base_url': "
        "https://<resource>.openai.azure.com/openai/deployments/<deployment>"},
    {"[providers.ollama]\nbase_url = \"127.0.0.1:11434\"\n",
     "clawft.toml:2:12: error: [providers.ollama] base_url '127.0.0.1:11434' is not an http:// or https:// URL"},
    {"[providers.ollama]\nstyle = \"gemini\"\n",
     "clawft.toml:2:9: error: [providers.ollama] style must be one of 'openai', 'anthropic', not 'gemini'"},
    {"[providers.ollama]\nmodle = \"x\"\n",
     "clawft.toml:2:1: error: unknown key 'modle' in [providers.ollama]; expected one of: style, base_url, "
        "api_key, api_key_env, model, embedding_model, api_version, headers, enabled; did you mean 'model'?"},
    {"[providers.ollama]\napi_key_env = \"MY-KEY\"\n",
     "clawft.toml:2:15: error: [providers.ollama] api_key_env 'MY-KEY' is not a valid environment variable name"},
    {"[providers.ollama]\napi_key = 5\n",
     "clawft.toml:2:11: error: [providers.ollama] api_key must be a string, not an integer"},
    {"[providers.ollama]\nheaders = { \"a b\" = \"x\", c = 1 }\n",
     "clawft.toml:2:13: error: [providers.ollama] headers key 'a b' is not an HTTP header name: use letters, "
        "digits, '-' and '_'\n"
        "clawft.toml:2:30: error: [providers.ollama] headers.c must be a string, not an integer"},
    {"[providers.ollama]\nheaders = { X = \"a\\r\\nInjected: 1\" }\n",
     "clawft.toml:2:17: error: [providers.ollama] headers.X must not contain line breaks"},
    {"[providers.ollama]\nheaders = []\n",
     "clawft.toml:2:11: error: [providers.ollama] headers must be a table of strings, not an array"},
    {"[providers.Big]\nbase_url = \"http://x\"\n",
     "clawft.toml:1:12: error: provider name 'Big' is invalid: use 1 to 64 of a-z, 0-9, '-' and '_', starting "
        "with a letter or digit"},
    {"[providers]\nopenai = 1\n",
     "clawft.toml:2:10: error: [providers.openai] must be a table, not an integer"},
    {"providers = 1\n",
     "clawft.toml:1:13: error: [providers] must be a table, not an integer"},
    {"[providers]\n[llm]\nembedding_provider = \"openai\"\n",
     "clawft.toml:3:22: error: [llm] embedding_provider 'openai' is not a configured provider (there are none)"},
    {"[agents.Work]\n",
     "clawft.toml:1:9: error: agent id 'Work' is invalid: use 1 to 48 of a-z, 0-9 and '-', starting with a letter "
        "or digit (it becomes the service agent-<id>)"},
    {"[agents.a]\ntier = \"fast\"\n",
     "clawft.toml:2:8: error: [agents.a] tier 'fast' is not a tier in [[llm.tiers]] (there are none)"},
    {"[agents.a]\nworkspace = \"work\"\nmax_iterations = 0\nbudget_usd = -2\nmodle = \"x\"\n",
     "clawft.toml:2:13: error: [agents.a] workspace must be an absolute path, not 'work'\n"
        "clawft.toml:3:18: error: [agents.a] max_iterations must be between 1 and 1000, not 0\n"
        "clawft.toml:4:14: error: [agents.a] budget_usd must be a finite number of at least 0, not -2\n"
        "clawft.toml:5:1: error: unknown key 'modle' in [agents.a]; expected one of: name, tier, model, workspace, "
        "max_iterations, tool_timeout_ms, max_tokens, budget_usd, tools; did you mean 'model'?"},
    {"[agents.a.tools]\nfamilies = [\"fs\", \"shel\", \"fs\"]\nallow = [\"read file\"]\ndeny = 1\n",
     "clawft.toml:2:19: error: [agents.a.tools] families 'shel' is not a tool family; use fs, shell, web, mcp, delegate, git, cargo, forge, code, calendar, email, plugins; did you "
        "mean 'shell'?\n"
        "clawft.toml:2:27: error: [agents.a.tools] families lists 'fs' twice\n"
        "clawft.toml:3:10: error: [agents.a.tools] allow 'read file' can never match a tool name: use letters, "
        "digits, '_', '.', '-' and the wildcard '*'\n"
        "clawft.toml:4:8: error: [agents.a.tools] deny must be an array of strings, not an integer"},
    {"[agents.a.tools]\nnetwork = \"host\"\n[agents.b.tools]\nnetwork = true\n",
     "clawft.toml:2:11: error: [agents.a.tools] network must be one of 'none', 'public', not 'host'\n"
        "clawft.toml:4:11: error: [agents.b.tools] network must be a string, not a boolean"},
    {"[agents.a]\ntools = [\"fs\"]\n",
     "clawft.toml:2:9: error: [agents.a] tools must be a table ([agents.a.tools]), not an array"},
    {"[agents]\na = 1\n",
     "clawft.toml:2:5: error: [agents.a] must be a table, not an integer"},
    {"[agents.a]\nworkspace = \"/w\"\n[agents.b]\nworkspace = \"/w/\"\n",
     "clawft.toml:4:13: error: [agents.b] workspace '/w' is already the workspace of [agents.a]"},
    {"[channels.telegram]\nmode = \"push\"\n",
     "clawft.toml:1:1: error: [channels.telegram] is missing required key 'token'\n"
        "clawft.toml:2:8: error: [channels.telegram] mode must be one of 'polling', 'webhook', not 'push'"},
    {"[channels.telegram]\ntoken = \"\"\n",
     "clawft.toml:2:9: error: [channels.telegram] token must not be empty"},
    {"[channels.telegram]\ntoken = \"1:a/b\"\n",
     "clawft.toml:2:9: error: [channels.telegram] token must not contain spaces, control characters, '/', '?', "
        "'#' or '%'"},
    {"[channels.telegram]\ntoken = \"1:a\"\nmode = \"webhook\"\n",
     "clawft.toml:3:8: error: [channels.telegram] mode 'webhook' needs webhook_url, the public URL Telegram posts "
        "updates to"},
    {"[channels.telegram]\ntoken = \"1:a\"\nwebhook_listen = \"127.0.0.1:65536\"\npoll_timeout_s = 601\n",
     "clawft.toml:3:18: error: [channels.telegram] webhook_listen '127.0.0.1:65536' is not host:port with a port "
        "from 0 to 65535\n"
        "clawft.toml:4:18: error: [channels.telegram] poll_timeout_s must be between 0 and 600, not 601"},
    {"[channels.telegram]\ntoken = \"1:a\"\nwebhook_secret = \"a b\"\nwebhook_url = \"bot.example\"\n",
     "clawft.toml:3:18: error: [channels.telegram] webhook_secret must be at most 256 of A-Z, a-z, 0-9, '_' and "
        "'-'\n"
        "clawft.toml:4:15: error: [channels.telegram] webhook_url 'bot.example' is not an http:// or https:// URL"},
    {"[channels.web]\nlisten = \"0.0.0.0:8780\"\n",
     "clawft.toml:2:10: error: [channels.web] needs a non-empty auth_token: listen '0.0.0.0:8780' is not a "
        "loopback address, so anyone who reaches it could chat with your agents"},
    {"[channels.telgram]\n",
     "clawft.toml:1:11: error: unknown key 'telgram' in [channels]; expected one of: telegram, web, slack, "
        "discord, whatsapp; did you mean 'telegram'?"},
    {"[channels]\nweb = true\n",
     "clawft.toml:2:7: error: [channels.web] must be a table, not a boolean"},
    {"[agents.work]\n[[agent_routes]]\nchannel = \"telegarm\"\nmatch = { chat_id = 1.5 }\nagent = \"wrok\"\n",
     "clawft.toml:3:11: error: agent_routes[0] channel 'telegarm' is not a channel; use one of: *, telegram, web, "
        "slack, discord, whatsapp; did you mean 'telegram'?\n"
        "clawft.toml:4:21: error: agent_routes[0] match.chat_id must be a string or an integer, not a floating-point "
        "number\n"
        "clawft.toml:5:9: error: agent_routes[0] agent 'wrok' is not an agent in [agents] (work); did you mean "
        "'work'?"},
    {"[[agent_routes]]\nchannel = \"web\"\nmatch = \"x\"\n",
     "clawft.toml:1:1: error: agent_routes[0] is missing required key 'agent'\n"
        "clawft.toml:3:9: error: agent_routes[0] match must be a table of strings, e.g. { chat_id = \"123\" }, not a "
        "string"},
    {"[[agent_routes]]\nagent = \"x\"\n",
     "clawft.toml:1:1: error: agent_routes[0] is missing required key 'channel'\n"
        "clawft.toml:2:9: error: agent_routes[0] agent 'x' is not an agent in [agents] (there are none)"},
    {"[agent_routes]\nchannel = \"web\"\n",
     "clawft.toml:1:1: error: agent_routes must be an array of tables ([[agent_routes]]), not a table"},
    {"[agents.a]\n[routing]\ndefault_agent = \"main\"\ndefault = 1\n",
     "clawft.toml:3:17: error: [routing] default_agent 'main' is not an agent in [agents] (a)\n"
        "clawft.toml:4:1: error: unknown key 'default' in [routing]; expected one of: default_agent"},
    {"[delegation]\nrouting_rules = [\"a\"]\nclaude = true\n",
     "clawft.toml:2:17: error: [delegation] routing_rules must be a table of \"regex\" = \"target\" "
        "([delegation.routing_rules]), not an array\n"
        "clawft.toml:3:1: error: unknown key 'claude' in [delegation]; expected one of: claude_enabled, "
        "claude_flow_enabled, claude_path, auth, config_dir, timeout_ms, max_turns, excluded_tools, ask, ask_timeout_ms, "
        "routing_rules"},
    {"[delegation]\nclaude_path = \"claude\"\nauth = \"key\"\ntimeout_ms = 10\nmax_turns = 0\n",
     "clawft.toml:2:15: error: [delegation] claude_path must be an absolute path, not 'claude'\n"
        "clawft.toml:3:8: error: [delegation] auth must be one of 'weft', 'login', not 'key'\n"
        "clawft.toml:4:14: error: [delegation] timeout_ms must be between 1000 and 86400000, not 10\n"
        "clawft.toml:5:13: error: [delegation] max_turns must be between 1 and 1000, not 0"},
    {"[services.x]\nexec = \"/bin/x\"\naddress = \"agent/main\"\n[agents.main]\n",
     "clawft.toml:3:11: error: [services.x] address 'agent/main' is already used by the derived service "
        "'agent-main'; name the service 'agent-main' to replace it"},
    {"[services.x]\nexec = \"/bin/x\"\nafter = [\"llm\"]\n",
     "clawft.toml:3:10: error: [services.x] after names 'llm', which is neither 'bus' nor a configured service"},
    {"[services.llm]\nexec = \"/bin/llm\"\nafter = [\"chan-web\"]\n[agents.main]\n[channels.web]\n",
     "clawft.toml:3:9: error: [services.llm] after forms a cycle: llm -> chan-web -> router -> agent-main -> llm "
        "(each waits for the next)"},
    {"[agents.a]\n[mcp]\nagent = \"b\"\nlisten = \"nope\"\nallow = [\"a b\"]\nmax_sessions = 0\n"
               "allowed_origins = [\"http://x/y\"]\nwho = 1\n",
     "clawft.toml:3:9: error: [mcp] agent 'b' is not an agent in [agents] (a)\n"
        "clawft.toml:4:10: error: [mcp] listen 'nope' is not host:port with a port from 0 to 65535 (or \"\" for "
        "stdio only)\n"
        "clawft.toml:5:10: error: [mcp] allow 'a b' is not a tool-name glob: use letters, digits, '_', '.', '-' and "
        "'*'\n"
        "clawft.toml:6:16: error: [mcp] max_sessions must be between 1 and 1024, not 0\n"
        "clawft.toml:7:20: error: [mcp] allowed_origins 'http://x/y' is not an origin like https://example.com or "
        "http://127.0.0.1:5173 (scheme, host, optional port, no path)\n"
        "clawft.toml:8:1: error: unknown key 'who' in [mcp]; expected one of: enabled, agent, listen, "
        "allowed_origins, require_token, allow, deny, max_sessions"},
    {"[agents.a]\n[mcp]\nlisten = \"0.0.0.0:8781\"\nrequire_token = false\n",
     "clawft.toml:4:17: error: [mcp] require_token = false with listen '0.0.0.0:8781', which is not a loopback "
        "address: anyone who reaches it could run the tools of agent 'a'"},
    {"[tools.mcp_servers.Bad_Name]\ncommand = \"x\"\n",
     "clawft.toml:1:20: error: MCP server name 'Bad_Name' is invalid: use 1 to 32 of a-z, 0-9 and '-', starting "
        "with a letter or digit (its tools are named <name>__<tool>)"},
    {"[tools.mcp_servers.a]\nargs = [\"x\"]\n",
     "clawft.toml:1:1: error: [tools.mcp_servers.a] needs exactly one of 'command' (a program speaking MCP on "
        "stdio) and 'url' (a Streamable HTTP endpoint)"},
    {"[tools.mcp_servers.a]\ncommand = \"x\"\nurl = \"http://127.0.0.1:1/mcp\"\nheaders = {A = \"b\"}\n",
     "clawft.toml:1:1: error: [tools.mcp_servers.a] needs exactly one of 'command' (a program speaking MCP on "
        "stdio) and 'url' (a Streamable HTTP endpoint), not both\n"
        "clawft.toml:4:11: error: [tools.mcp_servers.a] headers applies to a 'url' server, not to a 'command'"},
    {"[tools.mcp_servers.a]\nurl = \"ftp://x\"\ncwd = \"rel\"\nenv = { 1X = \"y\" }\ncall_timeout_ms = 5\n",
     "clawft.toml:2:7: error: [tools.mcp_servers.a] url 'ftp://x' is not an http:// or https:// URL, e.g. "
        "http://127.0.0.1:3001/mcp\n"
        "clawft.toml:3:7: error: [tools.mcp_servers.a] cwd 'rel' must be an absolute path\n"
        "clawft.toml:3:7: error: [tools.mcp_servers.a] cwd applies to a 'command' server, not to one at a 'url'\n"
        "clawft.toml:4:7: error: [tools.mcp_servers.a] env applies to a 'command' server, not to one at a 'url'\n"
        "clawft.toml:4:9: error: [tools.mcp_servers.a] env key '1X' is invalid: use letters, digits and '_', not "
        "starting with a digit\n"
        "clawft.toml:5:19: error: [tools.mcp_servers.a] call_timeout_ms must be between 100 and 3600000, not 5"},
    {"[tools.mcp_servers.a]\ncommand = \"x\"\nera = \"2026-07-28\"\n",
     "clawft.toml:3:7: error: [tools.mcp_servers.a] era '2026-07-28' is not one of \"auto\" (ask the server with "
        "server/discover), \"legacy\" (initialize, 2024-11-05 … 2025-11-25) and \"modern\" (2026-07-28)"},
};

TEST_CASE("every same-shaped config error names file:line:col and what is wrong") {
  for (auto& c : error_cases) {
    INFO("config text: ", c.toml);
    CHECK(errors(c.toml) == c.message);
  }
}

TEST_CASE("TOML syntax errors carry file:line:column") {
  CHECK(errors("a = 1\n[services.echo-1\n").rfind("clawft.toml:2:", 0) == 0);
  // Too large for TOML's 64-bit integers: toml++ refuses it, so nothing wraps around.
  CHECK(errors("[bus]\nqueue_depth = 99999999999999999999\n").rfind("clawft.toml:2:", 0) == 0);
}

TEST_CASE("unknown keys are named with the keys that are allowed") {
  // Control characters in user text are escaped, so each problem stays on one line.
  CHECK(errors("[supervisor]\nready_timeout = 5\n").find("unknown key 'ready_timeout' in [supervisor]; expected "
                                                          "one of: ready_timeout_ms, heartbeat_interval_ms") !=
        std::string::npos);
  CHECK(errors("[agent]\n").find("did you mean 'agents'?") != std::string::npos);
}

TEST_CASE("values out of range and unknown choices name what is allowed") {
  // One more than uint32_t holds: refused, not truncated to 0.
  // The bounds themselves are accepted.
  auto c = valid("[bus]\nmax_message_bytes = 1024\nqueue_depth = 1000000\n");
  CHECK(c.bus.max_message_bytes == 1024);
  CHECK(c.bus.queue_depth == 1000000);
  CHECK(valid("[bus]\nmax_message_bytes = 67108864\n").bus.max_message_bytes == 67108864);
}

TEST_CASE("names, addresses and patterns are checked") {
  CHECK(errors("[services." + std::string(65, 'a') + "]\nexec = \"/bin/e\"\naddress = \"a\"\n")
            .find("is invalid") != std::string::npos);
  CHECK(valid("[services." + std::string(64, 'a') + "]\nexec = \"/bin/e\"\n").services.at(0).address ==
        std::string(64, 'a'));
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"Echo\"\n").find("address 'Echo' is invalid") !=
        std::string::npos);
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"" + std::string(129, 'a') + "\"\n")
            .find("is invalid") != std::string::npos);
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"weftd\"\n").find("'weftd' is reserved") !=
        std::string::npos);
}

TEST_CASE("[weft] paths and the log spec are checked") {
  CHECK(errors("[weft]\nruntime_dir = \"/" + std::string(99, 'r') + "\"\n") ==
        "clawft.toml:2:15: error: [weft] runtime_dir is 100 bytes long; socket paths allow at most 99");
  CHECK(valid("[weft]\nruntime_dir = \"/" + std::string(98, 'r') + "\"\n").runtime_dir.size() == 99);
  CHECK(errors("[weft]\nlog = \"info,=debug\"\n").find("is not a level spec") != std::string::npos);
  CHECK(valid("[weft]\nlog = \"warning,bus=trace,weftd=off\"\n").log == "warning,bus=trace,weftd=off");
}

TEST_CASE("every error is reported at once, sorted by position") {
  // toml++ visits tables alphabetically (bus, services, supervisor, weft); the report
  // follows the file.
  CHECK(errors(R"([weft]
log = 3
[supervisor]
stop_timeout_ms = -1
[services.b]
args = ["x"]
[bus]
queue_depth = "deep"
bogus = 1
[[bus.acl]]
to = "x"
)") == "clawft.toml:2:7: error: [weft] log must be a string, not an integer\n"
       "clawft.toml:4:19: error: [supervisor] stop_timeout_ms must be between 1 and 4294967295, not -1\n"
       "clawft.toml:5:1: error: [services.b] is missing required key 'exec'\n"
       "clawft.toml:8:15: error: [bus] queue_depth must be an integer, not a string\n"
       "clawft.toml:9:1: error: unknown key 'bogus' in [bus]; expected one of: max_message_bytes, queue_depth, "
       "default_policy, acl\n"
       "clawft.toml:10:1: error: bus.acl[0] is missing required key 'action'");
}

TEST_CASE("${NAME} substitution in strings") {
  scoped_env set("WEFT_TEST_SET", "value");
  scoped_env empty("WEFT_TEST_EMPTY", "");
  scoped_env unset("WEFT_TEST_UNSET", std::nullopt);
  scoped_env tricky("WEFT_TEST_TRICKY", "${WEFT_TEST_UNSET}");

  auto c = valid(R"([weft]
home = "/srv/${WEFT_TEST_SET}/home"
[[bus.acl]]
from = "${WEFT_TEST_UNSET:-agent}/*"
types = ["${WEFT_TEST_SET}.*"]
action = "${WEFT_TEST_EMPTY:-deny}"
[services.a]
exec = "/bin/${WEFT_TEST_SET}"
args = ["$${WEFT_TEST_SET}", "${WEFT_TEST_EMPTY}", "${WEFT_TEST_UNSET:-}", "$$x", "${WEFT_TEST_TRICKY}"]
env = { A = "${WEFT_TEST_SET}${WEFT_TEST_SET}", B = "${WEFT_TEST_UNSET:-x:-y}" }
)");
  CHECK(c.home == "/srv/value/home");
  REQUIRE(c.bus.acl.size() == 1);
  CHECK(c.bus.acl[0].from == "agent/*");
  CHECK(c.bus.acl[0].types == std::vector<std::string>{"value.*"});
  CHECK(c.bus.acl[0].action == acl_action::deny);
  REQUIRE(c.services.size() == 1);
  CHECK(c.services[0].exec == "/bin/value");
  // An escape stays literal; a set-but-empty variable is empty; substituted text is not
  // expanded again.
  CHECK(c.services[0].args ==
        std::vector<std::string>{"${WEFT_TEST_SET}", "", "", "$$x", "${WEFT_TEST_UNSET}"});
  CHECK(c.services[0].env == std::map<std::string, std::string>{{"A", "valuevalue"}, {"B", "x:-y"}});

  // Substituted values are validated like any other.
  scoped_env bad_address("WEFT_TEST_ADDRESS", "Not/Valid");
  CHECK(errors("[services.x]\nexec = \"/bin/x\"\naddress = \"${WEFT_TEST_ADDRESS}\"\n")
            .rfind("clawft.toml:3:11: error: [services.x] address 'Not/Valid' is invalid", 0) == 0);
  // Sections this build ignores are not substituted, so their secrets need not be set.
  CHECK(valid("[hub]\npath = \"${WEFT_TEST_UNSET}\"\n").warnings.size() == 1);
}

TEST_CASE("'after' must name the bus or a service, without cycles") {
  auto c = valid(R"([services.c]
exec = "/bin/c"
after = ["b", "a"]
[services.b]
exec = "/bin/b"
after = ["a", "bus"]
[services.a]
exec = "/bin/a"
after = []
)");
  REQUIRE(c.services.size() == 3);
  CHECK(c.services[0].after == std::vector<std::string>{"b", "a"});
  CHECK(c.services[2].after.empty());

  // Too far from anything to guess ("bar" is two edits from "bus").
  CHECK(errors(R"([services.a]
exec = "/bin/a"
after = ["b"]
[services.b]
exec = "/bin/b"
after = ["bus", "c"]
[services.c]
exec = "/bin/c"
after = ["a"]
[services.d]
exec = "/bin/d"
after = ["a"]
)") == "clawft.toml:9:10: error: [services.c] after forms a cycle: a -> b -> c -> a (each waits for the next)");
}

TEST_CASE("sections of later features are accepted with one warning each") {
  auto c = valid(R"([security.y]
provider = "x"
[services.a]
exec = "/bin/a"
[security.x]
model = 3
[hub]
)");
  // [security] itself is read ([security.monitor]); its other keys each warn.
  CHECK(c.warnings == std::vector<std::string>{
                          "clawft.toml:1:1: warning: '[security] y' is not supported by this build yet, ignoring.",
                          "clawft.toml:5:1: warning: '[security] x' is not supported by this build yet, ignoring.",
                          "clawft.toml:7:1: warning: section '[hub]' is not supported by this build yet, "
                          "ignoring.",
                      });
  CHECK(c.services.size() == 1);
  // Warnings are dropped when the file has errors: the error is what the user must fix.
  CHECK(errors("[tools]\n[bus]\nx = 1\n").find("warning") == std::string::npos);
}

TEST_CASE("load_config reads a file and names it in messages") {
  temp_dir dir;
  auto path = dir.write("clawft.toml", "[services.a]\nexec = \"/bin/a\"\n[bus]\nqueue_depth = 0\n");
  auto bad = load_config(path);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.err().message == path + ":4:15: error: [bus] queue_depth must be between 1 and 1000000, not 0");

  auto good_path = dir.write("good.toml", "[services.a]\nexec = \"/bin/a\"\n");
  auto good = load_config(good_path);
  REQUIRE(good.has_value());
  CHECK(good->source == good_path);
  CHECK(good->services.at(0).where == good_path + ":1:1");

  auto missing = load_config(dir.path() + "/nope.toml");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.err().is("weft", "Io"));
  CHECK(missing.err().message == "Failed to read config '" + dir.path() + "/nope.toml': No such file or directory");

  auto directory = load_config(dir.path());
  REQUIRE_FALSE(directory.has_value());
  CHECK(directory.err().message == "Failed to read config '" + dir.path() + "': Is a directory");
}

TEST_CASE("find_config: explicit path, $WEFT_CONFIG, $WEFT_HOME, ~/.clawft, /etc/weft") {
  temp_dir weft_home, home;
  scoped_env config_env("WEFT_CONFIG", std::nullopt);
  scoped_env weft_home_env("WEFT_HOME", weft_home.path());
  scoped_env home_env("HOME", home.path());
  const bool etc_exists = fs::exists("/etc/weft/clawft.toml");
  auto fallback = etc_exists ? std::optional<std::string>("/etc/weft/clawft.toml") : std::nullopt;

  // Nothing exists yet.
  CHECK(find_config("") == fallback);
  // The user's file is found; $WEFT_HOME's, once it exists, comes first.
  auto user = home.write(".clawft/clawft.toml", "");
  CHECK(find_config("") == user);
  auto state = weft_home.write("clawft.toml", "");
  CHECK(find_config("") == state);
  {
    // $WEFT_CONFIG wins even when missing, so the caller reports that file.
    scoped_env set("WEFT_CONFIG", "/nonexistent/weft.toml");
    CHECK(find_config("") == "/nonexistent/weft.toml");
    // And an explicit path wins over everything.
    CHECK(find_config("/also/missing.toml") == "/also/missing.toml");
  }
  {
    // Empty variables count as unset.
    scoped_env empty_config("WEFT_CONFIG", "");
    scoped_env empty_home("WEFT_HOME", "");
    CHECK(find_config("") == user);
  }
  fs::remove(user);
  fs::remove(state);
  CHECK(find_config("") == fallback);
}

// ---------------------------------------------------------------------------------------
// The agent-turn sections.

TEST_CASE("the built-in provider table") {
  auto& t = provider_table();
  std::vector<std::string> names;
  for (auto& p : t) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"openai", "anthropic", "openrouter", "gemini", "groq", "deepseek", "mistral",
                                          "xai", "together", "azure", "ollama", "vllm", "llamacpp", "lmstudio"});
  auto get = [&](std::string_view n) {
    for (auto& p : t)
      if (p.name == n) return p;
    FAIL("no provider ", n);
    return provider_settings{};
  };
  auto openai = get("openai");
  CHECK(openai.style == api_style::openai);
  CHECK(openai.base_url == "https://api.openai.com/v1");
  CHECK(openai.api_key_env == "OPENAI_API_KEY");
  CHECK(openai.model == "gpt-4o-mini");
  CHECK(openai.embedding_model == "text-embedding-3-small");
  auto anthropic = get("anthropic");
  CHECK(anthropic.style == api_style::anthropic);
  CHECK(anthropic.base_url == "https://api.anthropic.com/v1");
  CHECK(anthropic.api_key_env == "ANTHROPIC_API_KEY");
  CHECK(anthropic.model == "claude-sonnet-4-5");
  CHECK(get("gemini").base_url == "https://generativelanguage.googleapis.com/v1beta/openai");
  CHECK(get("groq").base_url == "https://api.groq.com/openai/v1");
  CHECK(get("xai").api_key_env == "XAI_API_KEY");
  auto azure = get("azure");
  CHECK(azure.base_url.empty());
  CHECK(azure.api_key_env == "AZURE_OPENAI_API_KEY");
  CHECK(azure.api_version == "2024-10-21");
  for (auto local : {"ollama", "vllm", "llamacpp", "lmstudio"}) {
    INFO(local);
    CHECK(get(local).api_key_env.empty());
    CHECK(get(local).base_url.rfind("http://127.0.0.1:", 0) == 0);
  }
  CHECK(get("ollama").base_url == "http://127.0.0.1:11434/v1");
  for (auto& p : t) {
    INFO(p.name);
    CHECK(p.enabled);
    CHECK(p.api_key.empty());
    CHECK(p.where.empty());
    if (p.name != "azure") CHECK(p.base_url.rfind("http", 0) == 0);
  }
}

TEST_CASE("[providers]: merged over the built-in table, keys from the environment") {
  no_provider_keys keys;
  scoped_env openai("OPENAI_API_KEY", "sk-openai");
  scoped_env mine("WEFT_TEST_KEY", "sk-mine");
  auto c = valid(R"([providers.openai]

[providers.anthropic]
api_key = "${WEFT_TEST_KEY}"
model = "claude-opus-4-1"

[providers.ollama]

[providers.corp]
base_url = "https://llm.corp.example/v1/"
api_key_env = "WEFT_TEST_KEY"
headers = { X-Team = "weft", "OpenAI-Organization" = "${WEFT_TEST_KEY}" }
embedding_model = "e5"

[providers.local-claude]
style = "anthropic"
base_url = "http://127.0.0.1:9999"

[providers.azure]
base_url = "https://r.openai.azure.com/openai/deployments/d"
api_key = "literal"
api_version = "2025-01-01"
enabled = false
)");
  CHECK(c.warnings.empty());
  REQUIRE(c.providers.size() == 6);
  auto& o = c.providers.at("openai");
  CHECK(o.name == "openai");
  CHECK(o.base_url == "https://api.openai.com/v1");
  CHECK(o.api_key == "sk-openai");
  CHECK(o.model == "gpt-4o-mini");
  CHECK(o.enabled);
  CHECK(o.where == "clawft.toml:1:1");
  auto& a = c.providers.at("anthropic");
  CHECK(a.style == api_style::anthropic);
  CHECK(a.api_key == "sk-mine");
  CHECK(a.api_key_env == "ANTHROPIC_API_KEY");
  CHECK(a.model == "claude-opus-4-1");
  CHECK(a.enabled);
  auto& l = c.providers.at("ollama");
  CHECK(l.enabled);  // a local server needs no key
  CHECK(l.api_key.empty());
  CHECK(l.base_url == "http://127.0.0.1:11434/v1");
  auto& corp = c.providers.at("corp");
  CHECK(corp.style == api_style::openai);
  CHECK(corp.base_url == "https://llm.corp.example/v1");  // the trailing '/' is dropped
  CHECK(corp.api_key == "sk-mine");
  CHECK(corp.headers == std::map<std::string, std::string>{{"X-Team", "weft"}, {"OpenAI-Organization", "sk-mine"}});
  CHECK(corp.embedding_model == "e5");
  CHECK(corp.model.empty());
  CHECK(corp.enabled);
  auto& lc = c.providers.at("local-claude");
  CHECK(lc.style == api_style::anthropic);
  CHECK(lc.api_key_env.empty());
  CHECK(lc.enabled);
  auto& az = c.providers.at("azure");
  CHECK(az.api_key == "literal");
  CHECK(az.api_version == "2025-01-01");
  CHECK_FALSE(az.enabled);
  // No [llm] default_provider: the llm service takes the first enabled one.
  CHECK(c.llm.default_provider.empty());
}

TEST_CASE("[providers]: a missing key disables the provider with a warning, not an error") {
  no_provider_keys keys;
  scoped_env unset("WEFT_TEST_UNSET", std::nullopt);
  auto c = valid(R"([providers.openai]
[providers.groq]
api_key = "${WEFT_TEST_UNSET}"
[providers.mistral]
api_key_env = "WEFT_TEST_UNSET"
[providers.xai]
api_key = ""
[providers.deepseek]
enabled = false
)");
  CHECK(c.warnings ==
        std::vector<std::string>{
            "clawft.toml:1:1: warning: [providers.openai] has no API key (environment variable 'OPENAI_API_KEY' is "
            "not set); set it to use this provider, disabling it.",
            "clawft.toml:3:11: warning: [providers.groq] has no API key (environment variable 'WEFT_TEST_UNSET' is "
            "not set); set it to use this provider, disabling it.",
            "clawft.toml:5:15: warning: [providers.mistral] has no API key (environment variable 'WEFT_TEST_UNSET' "
            "is not set); set it to use this provider, disabling it.",
            "clawft.toml:7:11: warning: [providers.xai] has no API key (api_key is empty); set it to use this "
            "provider, disabling it.",
        });
  for (auto& [name, p] : c.providers) {
    INFO(name);
    CHECK_FALSE(p.enabled);
    CHECK(p.api_key.empty());
  }
  CHECK(c.providers.size() == 5);
}

TEST_CASE("[providers]: errors") {
  no_provider_keys keys;
}

TEST_CASE("no [providers]: every built-in provider whose key is set, as in the built-in default") {
  no_provider_keys keys;
  {
    auto c = valid("[agents.main]\n");
    CHECK(c.providers.empty());
    CHECK(c.llm.default_provider.empty());
    CHECK(c.warnings.empty());
  }
  scoped_env groq("GROQ_API_KEY", "gk");
  scoped_env openai("OPENAI_API_KEY", "ok");
  scoped_env empty("ANTHROPIC_API_KEY", "");  // empty counts as unset
  auto c = valid("[agents.main]\n");
  CHECK(keys_of_providers(c) == std::vector<std::string>{"groq", "openai"});
  CHECK(c.providers.at("groq").api_key == "gk");
  CHECK(c.providers.at("openai").api_key == "ok");
  CHECK(c.llm.default_provider == "openai");  // before groq in the preference order
  // A [providers] section, even an empty one, is the whole list.
  CHECK(valid("[providers]\n").providers.empty());
}

TEST_CASE("default_config: agent main, web chat, providers with keys") {
  no_provider_keys keys;
  {
    scoped_env no_claude("PATH", "/nonexistent");  // Claude Code is not installed: no delegate family
    auto d = default_config();
    REQUIRE(d.agents.size() == 1);
    auto& m = d.agents.at("main");
    CHECK(m.id == "main");
    tool_policy all_but_delegate;
    all_but_delegate.families = {"fs", "shell", "web", "mcp"};
    CHECK(m.tools == all_but_delegate);
    CHECK(m.tier.empty());
    CHECK(m.max_iterations == 10);
    tool_policy as_mcp;
    as_mcp.families.clear();
    CHECK(d.bus.agent_tools ==
          std::map<std::string, tool_policy>{{"main", all_but_delegate}, {"main/mcp", as_mcp}});
    REQUIRE(d.mcp.has_value());
    CHECK(d.mcp->agent == "main");
    CHECK(d.mcp->listen == "127.0.0.1:8781");
    CHECK(d.mcp->require_token);
    REQUIRE(d.channels.web.has_value());
    CHECK(d.channels.web->listen == "127.0.0.1:8780");
    CHECK(d.channels.web->enabled);
    CHECK(d.channels.web->auth_token.empty());
    CHECK_FALSE(d.channels.telegram.has_value());
    CHECK(d.routing.default_agent == "main");
    CHECK(d.providers.empty());
    CHECK(d.llm.default_provider.empty());
    CHECK(d.agent_routes.empty());
    CHECK(d.delegation == delegation_settings{});
  }
  scoped_env together("TOGETHER_API_KEY", "t");
  scoped_env deepseek("DEEPSEEK_API_KEY", "d");
  scoped_env azure("AZURE_OPENAI_API_KEY", "az");  // needs a base_url: not in the default
  auto d = default_config();
  CHECK(keys_of_providers(d) == std::vector<std::string>{"deepseek", "together"});
  CHECK(d.providers.at("deepseek").api_key == "d");
  CHECK(d.providers.at("deepseek").base_url == "https://api.deepseek.com/v1");
  CHECK(d.llm.default_provider == "deepseek");
  scoped_env anthropic("ANTHROPIC_API_KEY", "a");
  CHECK(default_config().llm.default_provider == "anthropic");
}

TEST_CASE("[llm] and [[llm.tiers]]") {
  no_provider_keys keys;
  auto c = valid(R"([providers.ollama]
[providers.vllm]
model = "qwen"

[llm]
default_provider = "ollama"
default_tier = "big"
timeout_ms = 60000
connect_timeout_ms = 2000
retries = 0
retry_min_wait_ms = 0
max_concurrent = 8
embedding_provider = "vllm"
embedding_model = "bge"

[[llm.tiers]]
name = "small"
provider = "ollama"
model = "llama3.2:1b"
max_context_tokens = 1024
input_cost_per_mtok = 0
output_cost_per_mtok = 0.5

[[llm.tiers]]
name = "big"
provider = "vllm"
input_cost_per_mtok = 3
)");
  auto& l = c.llm;
  CHECK(l.default_provider == "ollama");
  CHECK(l.default_tier == "big");
  CHECK(l.timeout_ms == 60000);
  CHECK(l.connect_timeout_ms == 2000);
  CHECK(l.retries == 0);
  CHECK(l.retry_min_wait_ms == 0);
  CHECK(l.max_concurrent == 8);
  CHECK(l.embedding_provider == "vllm");
  CHECK(l.embedding_model == "bge");
  REQUIRE(l.tiers.size() == 2);
  CHECK(l.tiers[0] == llm_tier{"small", "ollama", "llama3.2:1b", 1024, 0, 0.5, "clawft.toml:16:1"});
  CHECK(l.tiers[1] == llm_tier{"big", "vllm", "", 128000, 3.0, 0, "clawft.toml:24:1"});
  // The defaults.
  auto d = valid("[llm]\n").llm;
  CHECK(d == llm_settings{});
  CHECK(d.timeout_ms == 120000);
  CHECK(d.retries == 3);
  CHECK(d.max_concurrent == 64);
}

TEST_CASE("[llm] errors") {
  no_provider_keys keys;
  const std::string p = "[providers.ollama]\n";
  CHECK(errors(p + "[llm]\ndefault_provider = \"olama\"\n") ==
        "clawft.toml:3:20: error: [llm] default_provider 'olama' is not a configured provider (ollama); did you "
        "mean 'ollama'?");
  CHECK(errors(p + "[llm]\ndefault_tier = \"fast\"\n") ==
        "clawft.toml:3:16: error: [llm] default_tier 'fast' is not a tier in [[llm.tiers]] (there are none)");
  CHECK(errors(p + "[llm]\nretries = 101\ntimeout_ms = 0\n") ==
        "clawft.toml:3:11: error: [llm] retries must be between 0 and 100, not 101\n"
        "clawft.toml:4:14: error: [llm] timeout_ms must be between 1 and 4294967295, not 0");
  CHECK(errors(p + "[llm]\ntiers = 3\n") ==
        "clawft.toml:3:9: error: [llm] tiers must be an array of tables ([[llm.tiers]]), not an integer");
  CHECK(errors(p + "[[llm.tiers]]\nmodel = \"m\"\n") ==
        "clawft.toml:2:1: error: llm.tiers[0] is missing required key 'name'\n"
        "clawft.toml:2:1: error: llm.tiers[0] is missing required key 'provider'");
  CHECK(errors(p + R"([[llm.tiers]]
name = "a"
provider = "openai"
max_context_tokens = 1023
input_cost_per_mtok = -1
output_cost_per_mtok = "free"
[[llm.tiers]]
name = "a"
provider = "ollama"
cost = 1
)") == "clawft.toml:4:12: error: llm.tiers[0] provider 'openai' is not a configured provider (ollama)\n"
       "clawft.toml:5:22: error: llm.tiers[0] max_context_tokens must be between 1024 and 4294967295, not 1023\n"
       "clawft.toml:6:23: error: llm.tiers[0] input_cost_per_mtok must be a finite number of at least 0, not -1\n"
       "clawft.toml:7:24: error: llm.tiers[0] output_cost_per_mtok must be a number, not a string\n"
       "clawft.toml:9:8: error: llm.tiers[1] name 'a' is already used by llm.tiers[0]\n"
       "clawft.toml:11:1: error: unknown key 'cost' in llm.tiers[1]; expected one of: name, provider, model, "
       "max_context_tokens, input_cost_per_mtok, output_cost_per_mtok");
  CHECK(errors(p + "[[llm.tiers]]\nname = \"A b\"\nprovider = \"ollama\"\ninput_cost_per_mtok = inf\n") ==
        "clawft.toml:3:8: error: llm.tiers[0] name 'A b' is invalid: use 1 to 64 of a-z, 0-9, '-' and '_', starting "
        "with a letter or digit\n"
        "clawft.toml:5:23: error: llm.tiers[0] input_cost_per_mtok must be a finite number of at least 0, not inf");
}

TEST_CASE("[agents]: every key, tools, and the bus's agent_tools") {
  no_provider_keys keys;
  scoped_env path("PATH", "/nonexistent");
  auto c = valid(R"([providers.ollama]
[[llm.tiers]]
name = "fast"
provider = "ollama"

[agents.work]
name = "Work"
tier = "fast"
model = "ollama/llama3.2"
workspace = "/srv/work/"
max_iterations = 20
tool_timeout_ms = 5000
max_tokens = 4096
budget_usd = 2.5

[agents.work.tools]
allow = ["read_*", "web_fetch"]
deny = ["write_file"]
families = ["fs", "web"]

[agents.home-2]
budget_usd = 1
)");
  REQUIRE(c.agents.size() == 2);
  auto& w = c.agents.at("work");
  CHECK(w.id == "work");
  CHECK(w.name == "Work");
  CHECK(w.tier == "fast");
  CHECK(w.model == "ollama/llama3.2");
  CHECK(w.workspace == "/srv/work");
  CHECK(w.max_iterations == 20);
  CHECK(w.tool_timeout_ms == 5000);
  CHECK(w.max_tokens == 4096);
  CHECK(w.budget_usd == 2.5);
  CHECK(w.where == "clawft.toml:6:1");
  CHECK(w.tools == tool_policy{{"read_*", "web_fetch"}, {"write_file"}, {"fs", "web"}, "clawft.toml:16:1"});
  auto& h = c.agents.at("home-2");
  CHECK(h.budget_usd == 1.0);
  CHECK(h.tools.allow == std::vector<std::string>{"*"});
  // The default families; "delegate" only where Claude Code is (here: nowhere on PATH).
  CHECK(h.tools.families == std::vector<std::string>{"fs", "shell", "web", "mcp"});
  CHECK(h.tools.where == "clawft.toml:21:1");  // no tools table: the agent's
  CHECK(c.bus.agent_tools == std::map<std::string, tool_policy>{{"work", w.tools}, {"home-2", h.tools}});
  CHECK(valid("[agents.x.tools]\nfamilies = []\n").agents.at("x").tools.families.empty());
}

TEST_CASE("[agents] errors") {
  no_provider_keys keys;
  CHECK(errors("[agents.a_b]\n").find("agent id 'a_b' is invalid") != std::string::npos);
  CHECK(errors("[agents." + std::string(49, 'a') + "]\n").find("is invalid") != std::string::npos);
  CHECK(valid("[agents." + std::string(48, 'a') + "]\n").agents.size() == 1);
}

TEST_CASE("[channels]") {
  no_provider_keys keys;
  scoped_env token("WEFT_TEST_TG", "123:abc");
  auto c = valid(R"([channels.telegram]
token = "${WEFT_TEST_TG}"
api_base = "http://127.0.0.1:9000/"
mode = "webhook"
poll_timeout_s = 0
webhook_listen = "[::1]:0"
webhook_url = "https://bot.example/tg"
webhook_secret = "s3cr-et_"
enabled = false
progress_after_ms = 500

[channels.web]
listen = "0.0.0.0:65535"
auth_token = "t"
enabled = false

[channels.slack]
token = "${NOT_NEEDED_HERE}"
)");
  REQUIRE(c.channels.telegram.has_value());
  CHECK(*c.channels.telegram == telegram_settings{false, "123:abc", "http://127.0.0.1:9000", "webhook", 0, "[::1]:0",
                                                  "https://bot.example/tg", "s3cr-et_", 500, "clawft.toml:1:1"});
  REQUIRE(c.channels.web.has_value());
  CHECK(*c.channels.web == web_settings{false, "0.0.0.0:65535", "t", "clawft.toml:12:1"});
  CHECK(c.warnings == std::vector<std::string>{"clawft.toml:17:1: warning: channel '[channels.slack]' is not "
                                               "supported by this build yet, ignoring."});
  // Defaults.
  auto d = valid("[channels.telegram]\ntoken = \"1:x\"\n[channels.web]\n");
  CHECK(*d.channels.telegram == telegram_settings{true, "1:x", "https://api.telegram.org", "polling", 30,
                                                  "127.0.0.1:8443", "", "", 3000, "clawft.toml:1:1"});
  CHECK(*d.channels.web == web_settings{true, "127.0.0.1:8780", "", "clawft.toml:3:1"});
  CHECK(valid("[channels.discord]\n[channels.whatsapp]\n").warnings.size() == 2);
}

TEST_CASE("[channels] errors") {
  no_provider_keys keys;
  for (auto bad : {"8780", ":8780", "localhost:", "localhost:x", "::1:80", "a b:1"}) {
    INFO(bad);
    CHECK(errors(std::string("[channels.web]\nlisten = \"") + bad + "\"\n").find("is not host:port") !=
          std::string::npos);
  }
  CHECK(errors("[channels.web]\nlisten = \"192.168.1.2:80\"\nauth_token = \"\"\n").rfind("clawft.toml:3:14: error: "
                                                                                      "[channels.web] needs a "
                                                                                      "non-empty auth_token",
                                                                                      0) == 0);
  // A service re-reading the file lacks chan-web's variables: the token it substitutes as
  // empty is no error there (weftd checked it; found running the container image, whose
  // config listens on 0.0.0.0 with auth_token = "${WEFT_WEB_TOKEN}": the bus refused it).
  {
    scoped_env token("WEFT_TEST_WEB_TOKEN", std::nullopt);
    const char* text = "[channels.web]\nlisten = \"0.0.0.0:8780\"\nauth_token = \"${WEFT_TEST_WEB_TOKEN}\"\n";
    CHECK_FALSE(parse_config(text, "clawft.toml"));
    auto lenient = parse_config(text, "clawft.toml", /*lenient_env=*/true);
    REQUIRE(lenient);
    CHECK(lenient->channels.web->auth_token.empty());
  }
  CHECK(valid("[channels.web]\nlisten = \"localhost:0\"\n").channels.web->listen == "localhost:0");
  CHECK(valid("[channels.web]\nlisten = \"[::1]:1\"\n").channels.web->listen == "[::1]:1");
}

TEST_CASE("[[agent_routes]] and [routing]") {
  no_provider_keys keys;
  auto c = valid(R"([agents.work]
[agents.home]

[[agent_routes]]
channel = "telegram"
match = { chat_id = -1001234, user_id = "42" }
agent = "work"

[[agent_routes]]
channel = "*"
agent = "home"

[[agent_routes]]
channel = "slack"
match.workspace_id = "T1"
agent = "home"

[routing]
default_agent = "home"
)");
  REQUIRE(c.agent_routes.size() == 3);
  CHECK(c.agent_routes[0] ==
        agent_route{"telegram", {{"chat_id", "-1001234"}, {"user_id", "42"}}, "work", "clawft.toml:4:1"});
  CHECK(c.agent_routes[1] == agent_route{"*", {}, "home", "clawft.toml:9:1"});
  CHECK(c.agent_routes[2] == agent_route{"slack", {{"workspace_id", "T1"}}, "home", "clawft.toml:13:1"});
  CHECK(c.routing.default_agent == "home");
  CHECK(c.warnings.empty());

  // A route that can never win is kept, with a warning.
  auto dup = valid(R"([agents.a]
[[agent_routes]]
channel = "web"
match = { user_id = 7 }
agent = "a"
[[agent_routes]]
channel = "web"
match = { user_id = "7" }
agent = "a"
)");
  CHECK(dup.agent_routes.size() == 2);
  CHECK(dup.warnings == std::vector<std::string>{"clawft.toml:6:1: warning: agent_routes[1] matches the same "
                                                 "messages as agent_routes[0], which comes first and wins; it is "
                                                 "never used, ignoring."});
}

TEST_CASE("[delegation]") {
  no_provider_keys keys;
  auto c = valid(R"toml([agents.coder]
[delegation]
claude_enabled = true
claude_flow_enabled = true
[delegation.routing_rules]
"^deploy\\b" = "flow"
"(?:refactor|rewrite)" = "agent:coder"
"a" = "local"
)toml");
  CHECK(c.delegation.claude_enabled);
  CHECK(c.delegation.claude_flow_enabled);
  // File order, not toml++'s sorted order.
  CHECK(c.delegation.routing_rules ==
        std::vector<delegation_rule>{{"^deploy\\b", "flow", "clawft.toml:6:1"},
                                     {"(?:refactor|rewrite)", "agent:coder", "clawft.toml:7:1"},
                                     {"a", "local", "clawft.toml:8:1"}});
  CHECK(valid("[delegation]\n").delegation == delegation_settings{});
  // The defaults: on, through llm with a run token, 10 minutes, 50 turns.
  CHECK(c.delegation.auth == delegate_auth::weft);
  CHECK(c.delegation.timeout_ms == 600000);
  CHECK(c.delegation.max_turns == 50);
  auto all = valid(R"toml([agents.coder]
[delegation]
claude_path = "/opt/claude/bin/claude"
auth = "login"
config_dir = "/srv/claude"
timeout_ms = 120000
max_turns = 7
excluded_tools = ["WebSearch", "Task"]
)toml");
  CHECK(all.delegation.claude_path == "/opt/claude/bin/claude");
  CHECK(all.delegation.auth == delegate_auth::login);
  CHECK(all.delegation.config_dir == "/srv/claude");
  CHECK(all.delegation.timeout_ms == 120000);
  CHECK(all.delegation.max_turns == 7);
  CHECK(all.delegation.excluded_tools == std::vector<std::string>{"WebSearch", "Task"});
  // Claude Code nowhere: the family is dropped, as when switched off.
  {
    scoped_env path("PATH", "/nonexistent");
    CHECK(valid("[agents.coder]\n").agents.at("coder").tools.families ==
          std::vector<std::string>{"fs", "shell", "web", "mcp"});
    CHECK(valid("[agents.coder]\n[delegation]\nclaude_path = \"/x/claude\"\n").agents.at("coder").tools.families.back() ==
          "delegate");
  }
  // Switched off: no agent has the delegate family, on the bus either.
  auto off = valid("[agents.coder]\n[delegation]\nclaude_enabled = false\n");
  CHECK(off.agents.at("coder").tools.families == std::vector<std::string>{"fs", "shell", "web", "mcp"});
  CHECK(off.bus.agent_tools.at("coder").families == off.agents.at("coder").tools.families);

  CHECK(errors(R"([agents.coder]
[delegation.routing_rules]
"ok" = "local"
"(unclosed" = "flow"
"x" = "agent:codr"
"y" = "remote"
"z" = 1
)") == "clawft.toml:4:1: error: [delegation.routing_rules] pattern '(unclosed' is not a valid ECMAScript regular "
       "expression: " + regex_error_text("(unclosed") +
           "\n"
           "clawft.toml:5:7: error: [delegation.routing_rules] target 'agent:codr' names agent 'codr', which is not in "
           "[agents]; did you mean 'coder'?\n"
           "clawft.toml:6:7: error: [delegation.routing_rules] target 'remote' must be 'flow', 'local' or "
           "'agent:<id>'\n"
           "clawft.toml:7:7: error: [delegation.routing_rules] target of 'z' must be a string, not an integer");
  CHECK(errors("[delegation.routing_rules]\n\"" + std::string(1025, 'a') + "\" = \"local\"\n") ==
        "clawft.toml:2:1: error: [delegation.routing_rules] pattern is 1025 characters long; at most 1024 are "
        "allowed");
}

TEST_CASE("[memory]: every key") {
  no_provider_keys keys;
  auto c = valid(R"([agents.a]
[agents.b]
[agents.c]
[memory]
enabled = true
keyword_weight = 0.5
vector_weight = 1
recency_weight = 0
recency_half_life_days = 7.5
mmr_lambda = 0.5
max_text_bytes = 1024
segment_mb = 8
checkpoint_s = 60
summarise_after_messages = 40
summary_keep_messages = 10
hot_days = 1
warm_days = 2
hot_min_hits = 5
ef_search = 128
[[memory.shares]]
owner = "a"
readers = ["b", "c"]
)");
  auto& m = c.memory;
  CHECK(m.enabled);
  CHECK(m.keyword_weight == 0.5);
  CHECK(m.vector_weight == 1.0);
  CHECK(m.recency_weight == 0.0);
  CHECK(m.recency_half_life_days == 7.5);
  CHECK(m.mmr_lambda == 0.5);
  CHECK(m.max_text_bytes == 1024);
  CHECK(m.segment_mb == 8);
  CHECK(m.checkpoint_s == 60);
  CHECK(m.summarise_after_messages == 40);
  CHECK(m.summary_keep_messages == 10);
  CHECK(m.hot_days == 1);
  CHECK(m.warm_days == 2);
  CHECK(m.hot_min_hits == 5);
  CHECK(m.ef_search == 128);
  REQUIRE(m.shares.size() == 1);
  CHECK(m.shares[0].owner == "a");
  CHECK(m.shares[0].readers == std::vector<std::string>{"b", "c"});
  CHECK(m.shares[0].where == "clawft.toml:20:1");
  CHECK(valid("").memory == memory_settings{});
}

TEST_CASE("[memory] errors") {
  no_provider_keys keys;
  const std::string a = "[agents.a]\n[agents.b]\n";
  CHECK(errors(a + "[memory]\nkeyword_weight = 0\nvector_weight = 0\nmmr_lambda = 2\nrecency_half_life_days = 0\n") ==
        "clawft.toml:3:1: error: [memory] keyword_weight and vector_weight are both 0: search could rank nothing\n"
        "clawft.toml:6:14: error: [memory] mmr_lambda must be between 0 and 1, not 2\n"
        "clawft.toml:7:26: error: [memory] recency_half_life_days must be more than 0");
  CHECK(errors(a + "[memory]\nsummarise_after_messages = 10\nsummary_keep_messages = 10\nhot_days = 9\nwarm_days = 3\n") ==
        "clawft.toml:5:25: error: [memory] summary_keep_messages (10) must be less than summarise_after_messages (10), "
        "or nothing would ever be summarised\n"
        "clawft.toml:7:13: error: [memory] warm_days (3) must be at least hot_days (9)");
  CHECK(errors(a + "[[memory.shares]]\nowner = \"x\"\nreaders = [\"bb\"]\n") ==
        "clawft.toml:4:9: error: memory.shares[0] owner 'x' is not an agent in [agents] (a, b)\n"
        "clawft.toml:5:11: error: memory.shares[0] readers names agent 'bb', which is not in [agents]; did you mean "
        "'b'?");
  CHECK(errors(a + "[memory]\nsegment_mb = 0\ncolour = 1\n") ==
        "clawft.toml:4:14: error: [memory] segment_mb must be between 1 and 4096, not 0\n"
        "clawft.toml:5:1: error: unknown key 'colour' in [memory]; expected one of: enabled, keyword_weight, "
        "vector_weight, recency_weight, recency_half_life_days, mmr_lambda, max_text_bytes, segment_mb, checkpoint_s, "
        "summarise_after_messages, summary_keep_messages, hot_days, warm_days, hot_min_hits, ef_search, shares");
}

TEST_CASE("derived_services: the processes of the agent turn") {
  no_provider_keys keys;
  scoped_env home("WEFT_HOME", "/var/lib/weft");
  auto locate = [](std::string_view program) { return "/opt/weft/bin/" + std::string(program); };
  CHECK(derived_services(valid("[channels.web]\n"), locate).empty());  // no agents: nothing

  auto c = valid(R"([agents.work]
workspace = "/srv/work"
[agents.work.tools]
families = ["fs", "shell"]
[agents.alpha]
[agents.alpha.tools]
families = ["web"]
[channels.telegram]
token = "1:a"
enabled = false
[channels.web]
)");
  auto d = derived_services(c, locate);
  std::vector<std::string> names;
  for (auto& s : d) names.push_back(s.name);
  // Start order: everything a service waits for comes before it.
  CHECK(names == std::vector<std::string>{"llm", "memory", "tool-fs-work", "tool-shell-work", "tool-web",
                                          "agent-alpha", "agent-work", "router", "chan-telegram", "chan-web"});
  auto get = [&](std::string_view n) {
    for (auto& s : d)
      if (s.name == n) return s;
    FAIL("no service ", n);
    return service_spec{};
  };
  auto llm = get("llm");
  CHECK(llm.exec == "/opt/weft/bin/weft-llm");
  CHECK(llm.address == "llm");
  CHECK(llm.after == std::vector<std::string>{"bus"});
  CHECK(llm.env.empty());
  CHECK_FALSE(llm.sandbox.enabled);
  CHECK(llm.enabled);
  CHECK(llm.restart == restart_policy::always);

  auto fs = get("tool-fs-work");
  CHECK(fs.exec == "/opt/weft/bin/weft-tool-fs");
  CHECK(fs.address == "tool/fs/work");
  CHECK(fs.after == std::vector<std::string>{"bus"});
  CHECK(fs.env == std::map<std::string, std::string>{{"WEFT_AGENT", "work"}, {"WEFT_WORKSPACE", "/srv/work"}});
  sandbox_spec sb;
  sb.enabled = true;
  sb.read_write = {"/srv/work", "/dev/null"};
  sb.read_only = {"/usr",      "/lib",         "/lib64",     "/bin",          "/sbin", "/etc",
                  "/dev/zero", "/dev/urandom", "/proc/self", "/opt/weft/bin"};
  sb.max_address_space = 0;
  sb.max_open_files = 256;
  sb.max_processes = 4096;
  sb.max_file_size = 1ull << 30;
  sb.own_network = true;
  sb.own_pids = true;
  CHECK(fs.sandbox == sb);
  auto shell = get("tool-shell-work");
  CHECK(shell.exec == "/opt/weft/bin/weft-tool-shell");
  CHECK(shell.address == "tool/shell/work");
  CHECK(shell.env == fs.env);
  CHECK(shell.sandbox == sb);

  auto web = get("tool-web");
  CHECK(web.address == "tool/web");
  CHECK(web.exec == "/opt/weft/bin/weft-tool-web");
  CHECK_FALSE(web.sandbox.enabled);
  CHECK(web.env.empty());

  auto work = get("agent-work");
  CHECK(work.exec == "/opt/weft/bin/weft-agent");
  CHECK(work.address == "agent/work");
  CHECK(work.after == std::vector<std::string>{"llm", "memory", "tool-fs-work", "tool-shell-work"});
  CHECK(work.env == fs.env);
  auto alpha = get("agent-alpha");
  CHECK(alpha.address == "agent/alpha");
  CHECK(alpha.after == std::vector<std::string>{"llm", "memory", "tool-web"});
  auto memory = get("memory");
  CHECK(memory.exec == "/opt/weft/bin/weft-memory");
  CHECK(memory.address == "memory");
  CHECK(memory.after == std::vector<std::string>{"bus"});
  CHECK_FALSE(memory.sandbox.enabled);
  CHECK(alpha.env ==
        std::map<std::string, std::string>{{"WEFT_AGENT", "alpha"}, {"WEFT_WORKSPACE", "/var/lib/weft/agents/alpha"}});
  CHECK_FALSE(alpha.sandbox.enabled);

  auto router = get("router");
  CHECK(router.exec == "/opt/weft/bin/weft-router");
  CHECK(router.address == "router");
  CHECK(router.after == std::vector<std::string>{"agent-alpha", "agent-work"});
  auto tg = get("chan-telegram");
  CHECK(tg.address == "chan/telegram");
  CHECK(tg.exec == "/opt/weft/bin/weft-chan-telegram");
  CHECK(tg.after == std::vector<std::string>{"router"});
  CHECK_FALSE(tg.enabled);  // configured but switched off: weftctl start can still start it
  auto cw = get("chan-web");
  CHECK(cw.address == "chan/web");
  CHECK(cw.after == std::vector<std::string>{"router"});
  CHECK(cw.enabled);

  // Every `after` names the bus or a service before it.
  for (std::size_t i = 0; i < d.size(); ++i)
    for (auto& dep : d[i].after) {
      INFO(d[i].name, " after ", dep);
      bool earlier = dep == "bus";
      for (std::size_t j = 0; j < i; ++j) earlier = earlier || d[j].name == dep;
      CHECK(earlier);
    }
}

TEST_CASE("derived_services: the built-in default, the config file in the sandbox, no web agent") {
  no_provider_keys keys;
  scoped_env home("WEFT_HOME", "/h");
  // No Claude Code on PATH: no delegate process.
  scoped_env no_claude("PATH", "/nonexistent");
  auto d = derived_services(default_config(), [](std::string_view p) { return std::string(p); });
  std::vector<std::string> names;
  for (auto& s : d) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"llm", "memory", "tool-fs-main", "tool-shell-main", "tool-web", "agent-main",
                                          "router", "chan-web", "mcp"});
  CHECK(d.back().address == "agent/main/mcp");
  // A program found on $PATH (no directory) adds nothing to the sandbox.
  CHECK(d[2].sandbox.read_only.size() == 9);
  CHECK(d[2].env.at("WEFT_WORKSPACE") == "/h/agents/main");

  temp_dir dir;
  auto path = dir.write("clawft.toml", "[agents.a.tools]\nfamilies = [\"fs\"]\n");
  auto c = load_config(path);
  REQUIRE(c.has_value());
  auto e = derived_services(*c, [](std::string_view p) { return "/bin/" + std::string(p); });
  names.clear();
  for (auto& s : e) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"llm", "memory", "tool-fs-a", "agent-a", "router"});
  CHECK(e[2].sandbox.read_only.back() == path);  // the tool reads the config file
  // [memory] enabled = false: no memory service, and agents do not wait for one.
  auto off = valid("[agents.a]\n[memory]\nenabled = false\n[delegation]\nclaude_path = \"/opt/claude\"\n");
  names.clear();
  for (auto& s : derived_services(off, [](std::string_view p) { return std::string(p); })) names.push_back(s.name);
  CHECK(names ==
        std::vector<std::string>{"llm", "tool-fs-a", "tool-shell-a", "tool-delegate-a", "tool-web", "agent-a", "router"});
}

TEST_CASE("[services.<name>] replaces a derived service and may wait for one") {
  no_provider_keys keys;
  auto c = valid(R"([services.router]
exec = "/opt/my-router"
address = "router"
after = ["agent-main"]
[services.watcher]
exec = "/bin/watch"
after = ["chan-web", "llm"]
[agents.main]
[channels.web]
)");
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  for (auto& s : d) CHECK(s.name != "router");
  CHECK(d.back().name == "chan-web");
  CHECK(d.back().after == std::vector<std::string>{"router"});

  // Waiting for a derived service that does not exist (no [agents]) is an error.
  // A cycle through derived services is found, at the `after` of the file's service.
}

TEST_CASE("tool_process_addresses: per-agent and shared families") {
  tool_policy p;
  CHECK(tool_process_addresses(p, "work") ==
        std::vector<std::string>{"tool/fs/work", "tool/shell/work", "tool/web", "tool/mcp", "tool/delegate/work"});
  p.families = {"mcp", "fs"};
  CHECK(tool_process_addresses(p, "a") == std::vector<std::string>{"tool/mcp", "tool/fs/a"});
}

TEST_CASE("agent_of_address") {
  CHECK(agent_of_address("agent/work") == "work");
  CHECK(agent_of_address("tool/fs/work") == "work");
  CHECK(agent_of_address("tool/fs/work/read_file") == "work");
  CHECK(agent_of_address("tool/shell/home-2/exec") == "home-2");
  CHECK(agent_of_address("tool/web") == std::nullopt);
  CHECK(agent_of_address("tool/web/web_fetch") == std::nullopt);  // shared by every agent
  CHECK(agent_of_address("tool/fs") == std::nullopt);
  CHECK(agent_of_address("tool/fs/a/b/c") == std::nullopt);
  CHECK(agent_of_address("agent") == std::nullopt);
  CHECK(agent_of_address("agent/") == std::nullopt);
  CHECK(agent_of_address("router") == std::nullopt);
  CHECK(agent_of_address("chan/telegram") == std::nullopt);
  CHECK(agent_of_address("") == std::nullopt);
}

TEST_CASE("[mcp]: every key, the agent it acts as, and the bus policy of agent/<id>/mcp") {
  auto c = valid(R"([agents.work]
[agents.home]
[routing]
default_agent = "home"
[mcp]
agent = "work"
listen = "127.0.0.1:0"
allowed_origins = ["http://127.0.0.1:5173", "https://ide.example.com"]
require_token = false
allow = ["read_*", "everything__*"]
deny = ["*exec*"]
max_sessions = 4
)");
  REQUIRE(c.mcp.has_value());
  CHECK(c.mcp->agent == "work");
  CHECK(c.mcp->listen == "127.0.0.1:0");
  CHECK(c.mcp->allowed_origins.size() == 2);
  CHECK_FALSE(c.mcp->require_token);
  CHECK(c.mcp->max_sessions == 4);
  auto& p = c.bus.agent_tools.at("work/mcp");
  CHECK(p.allow == std::vector<std::string>{"read_*", "everything__*"});
  CHECK(p.deny == std::vector<std::string>{"*exec*"});
  CHECK(p.families.empty());
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "mcp"; });
  REQUIRE(it != d.end());
  CHECK(it->address == "agent/work/mcp");
  CHECK(it->env.at("WEFT_AGENT") == "work");
  // No agent named: the routing default, else main, else the first.
  CHECK(valid("[agents.work]\n[agents.home]\n[routing]\ndefault_agent = \"home\"\n[mcp]\n").mcp->agent == "home");
  CHECK(valid("[agents.a]\n[agents.main]\n[mcp]\n").mcp->agent == "main");
  // Disabled, or absent from a file: no service.
  auto off = valid("[agents.a]\n[mcp]\nenabled = false\n");
  for (auto& s : derived_services(off, [](std::string_view p) { return std::string(p); })) CHECK(s.name != "mcp");
  CHECK_FALSE(valid("[agents.a]\n").mcp.has_value());
  // No agents at all: a warning, and nothing runs.
  auto none = valid("[mcp]\n");
  CHECK_FALSE(none.mcp->enabled);
  CHECK(none.warnings.size() == 1);
}

TEST_CASE("[tools.mcp_servers]: stdio and HTTP servers, the tool-mcp service and its secrets") {
  no_provider_keys keys;
  scoped_env token("WEFT_TEST_MCP_TOKEN", "gh-s3cret");
  scoped_env other("WEFT_TEST_OTHER_SECRET", "not-for-mcp");
  auto c = valid(R"([agents.a]
[channels.telegram]
token = "${WEFT_TEST_OTHER_SECRET}"
[tools.mcp_servers.everything]
command = "mcp-server-everything"
args = ["stdio"]
env = { GITHUB_TOKEN = "${WEFT_TEST_MCP_TOKEN}", MODE = "x" }
cwd = "/srv/mcp"
call_timeout_ms = 5000
connect_timeout_ms = 2000
era = "legacy"
[tools.mcp_servers.remote-1]
url = "http://127.0.0.1:3001/mcp"
headers = { Authorization = "Bearer ${WEFT_TEST_MCP_TOKEN}" }
enabled = false
)");
  REQUIRE(c.tools.mcp_servers.size() == 2);
  auto& e = c.tools.mcp_servers.at("everything");
  CHECK(e.command == "mcp-server-everything");
  CHECK(e.args == std::vector<std::string>{"stdio"});
  CHECK(e.env == std::map<std::string, std::string>{{"GITHUB_TOKEN", "gh-s3cret"}, {"MODE", "x"}});
  CHECK(e.cwd == "/srv/mcp");
  CHECK(e.call_timeout_ms == 5000);
  CHECK(e.connect_timeout_ms == 2000);
  CHECK(e.era == "legacy");
  CHECK(e.where == "clawft.toml:4:1");
  auto& r = c.tools.mcp_servers.at("remote-1");
  CHECK(r.url == "http://127.0.0.1:3001/mcp");
  CHECK(r.headers.at("Authorization") == "Bearer gh-s3cret");
  CHECK_FALSE(r.enabled);
  CHECK(r.era == "auto");
  CHECK(c.secret_vars.at("tool-mcp") == std::vector<std::string>{"WEFT_TEST_MCP_TOKEN"});
  CHECK(c.secret_vars.at("chan-telegram") == std::vector<std::string>{"WEFT_TEST_OTHER_SECRET"});

  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto find = [&](std::string_view name) {
    auto it = std::find_if(d.begin(), d.end(), [&](auto& s) { return s.name == name; });
    REQUIRE(it != d.end());
    return *it;
  };
  auto mcp = find("tool-mcp");
  CHECK(mcp.address == "tool/mcp");
  CHECK(mcp.reload_signal);
  // Each secret goes to its own service only.
  CHECK(mcp.env == std::map<std::string, std::string>{{"WEFT_TEST_MCP_TOKEN", "gh-s3cret"}});
  CHECK(find("chan-telegram").env == std::map<std::string, std::string>{{"WEFT_TEST_OTHER_SECRET", "not-for-mcp"}});
  CHECK(find("agent-a").env.count("WEFT_TEST_MCP_TOKEN") == 0);
  CHECK(find("llm").env.empty());
  // Without servers there is no client host.
  for (auto& s : derived_services(valid("[agents.a]\n"), [](std::string_view p) { return std::string(p); }))
    CHECK(s.name != "tool-mcp");
}

TEST_CASE("[tools.mcp_servers] errors") {
  CHECK(errors("[tools]\nmcp_server = 1\n").find("unknown key 'mcp_server' in [tools]; expected one of: mcp_servers") !=
        std::string::npos);
  // An unset ${VAR} is an error for weftd, and left empty for a service re-reading the file.
  std::string text = "[tools.mcp_servers.a]\ncommand = \"x\"\nenv = { T = \"${WEFT_TEST_SURELY_UNSET}\" }\n";
  CHECK(errors(text).find("environment variable 'WEFT_TEST_SURELY_UNSET' is not set") != std::string::npos);
  auto lenient = parse_config(text, "clawft.toml", true);
  REQUIRE(lenient.has_value());
  CHECK(lenient->tools.mcp_servers.at("a").env.at("T").empty());
}

TEST_CASE("provider keys reach the llm service and no other") {
  no_provider_keys keys;
  scoped_env key("OPENAI_API_KEY", "sk-test");
  auto d = derived_services(default_config(), [](std::string_view p) { return std::string(p); });
  for (auto& s : d) {
    if (s.name == "llm") CHECK(s.env.at("OPENAI_API_KEY") == "sk-test");
    else CHECK(s.env.count("OPENAI_API_KEY") == 0);
  }
  scoped_env custom("WEFT_TEST_CUSTOM_KEY", "k2");
  auto c = valid("[providers.mine]\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"${WEFT_TEST_CUSTOM_KEY}\"\n"
                 "[agents.a]\n");
  for (auto& s : derived_services(c, [](std::string_view p) { return std::string(p); })) {
    if (s.name == "llm") CHECK(s.env.at("WEFT_TEST_CUSTOM_KEY") == "k2");
    else CHECK(s.env.count("WEFT_TEST_CUSTOM_KEY") == 0);
  }
}

TEST_CASE("variables of sections without secrets reach every service; [services] ones only their own") {
  no_provider_keys keys;
  scoped_env ws("WEFT_TEST_WS_ROOT", "/srv/ws");
  scoped_env own("WEFT_TEST_SVC_ONLY", "mine");
  auto c = valid("[agents.a]\nworkspace = \"${WEFT_TEST_WS_ROOT}/a\"\n"
                 "[services.x]\nexec = \"/bin/x\"\nenv = { T = \"${WEFT_TEST_SVC_ONLY}\" }\n");
  CHECK(c.secret_vars.at("*") == std::vector<std::string>{"WEFT_TEST_WS_ROOT"});
  for (auto& s : derived_services(c, [](std::string_view p) { return std::string(p); })) {
    CHECK_MESSAGE(s.env.at("WEFT_TEST_WS_ROOT") == "/srv/ws", s.name);
    CHECK(s.env.count("WEFT_TEST_SVC_ONLY") == 0);
  }
  // A service re-reading the file with the variable unset would see another workspace:
  // that is why it is passed. Without it, lenient parsing leaves it empty.
  auto lenient = parse_config("[agents.a]\nworkspace = \"${WEFT_TEST_SURELY_UNSET}/a\"\n", "clawft.toml", true);
  REQUIRE(lenient.has_value());
  CHECK(lenient->agents.at("a").workspace == "/a");
}

TEST_CASE("memory learns which provider it embeds with, never its key; no other service hears of providers") {
  no_provider_keys keys;
  {
    scoped_env key("OPENAI_API_KEY", "sk-test");
    scoped_env key2("GROQ_API_KEY", "gsk-test");
    for (auto& s : derived_services(default_config(), [](std::string_view p) { return std::string(p); })) {
      if (s.name == "llm") CHECK(s.env.at("WEFT_PROVIDERS_READY") == "groq,openai");
      else if (s.name == "memory") CHECK(s.env.at("WEFT_PROVIDERS_READY") == "openai");  // the default provider
      else CHECK_MESSAGE(s.env.count("WEFT_PROVIDERS_READY") == 0, s.name);
      if (s.name != "llm") CHECK(s.env.count("OPENAI_API_KEY") == 0);
    }
  }
  // In memory's environment: no key, but weftd said openai is usable.
  scoped_env ready("WEFT_PROVIDERS_READY", "openai,mine");
  auto d = default_config();
  REQUIRE(d.providers.count("openai"));
  CHECK(d.providers.at("openai").enabled);
  CHECK(d.providers.at("openai").api_key.empty());
  auto c = parse_config("[providers.mine]\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"${WEFT_TEST_SURELY_UNSET}\"\n"
                        "embedding_model = \"e\"\n[providers.other]\nbase_url = \"http://127.0.0.1:9/v1\"\n"
                        "api_key = \"${WEFT_TEST_SURELY_UNSET}\"\n",
                        "clawft.toml", true);
  REQUIRE(c.has_value());
  CHECK(c->providers.at("mine").enabled);
  CHECK_FALSE(c->providers.at("other").enabled);
}

namespace {

std::map<std::string, service_spec> derived_by_name(const std::string& text) {
  auto c = parse_config(text, "clawft.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.err().message));
  std::map<std::string, service_spec> out;
  for (auto& s : derived_services(*c, [](std::string_view p) { return std::string(p); })) out[s.name] = s;
  return out;
}

/// The derived services whose spec differs between two configs: what a reload restarts.
std::set<std::string> changed(const std::string& before, const std::string& after) {
  auto a = derived_by_name(before), b = derived_by_name(after);
  std::set<std::string> out;
  for (auto& [name, s] : b)
    if (a.count(name) && !(a.at(name) == s)) out.insert(name);
  return out;
}

}  // namespace

TEST_CASE("a reload restarts only the derived services whose own inputs changed") {
  no_provider_keys keys;
  const std::string base =
      "[providers.one]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n"
      "[llm]\ndefault_provider = \"one\"\n"
      "[agents.main]\n[agents.helper]\ntools = { families = [\"fs\"] }\n"
      "[channels.telegram]\ntoken = \"1:a\"\n[channels.web]\nlisten = \"127.0.0.1:0\"\n"
      "[mcp]\nagent = \"main\"\nlisten = \"127.0.0.1:0\"\n"
      "[tools.mcp_servers.a]\ncommand = \"true\"\n";
  const std::string provider = "[providers.two]\nbase_url = \"http://127.0.0.1:8/v1\"\nmodel = \"n\"\n";
  // A provider added before everything else moves every table: positions do not count.
  CHECK(changed(base, provider + base) == std::set<std::string>{"llm"});
  CHECK(changed(base, base + "[agents.third]\n") == std::set<std::string>{"memory", "router"});
  auto token = base;
  token.replace(token.find("1:a"), 3, "1:b");
  CHECK(changed(base, token) == std::set<std::string>{"chan-telegram"});
  CHECK(changed(base, base + "[tools.mcp_servers.b]\ncommand = \"true\"\n").empty());  // tool-mcp: SIGHUP
  auto model = base;
  model.replace(model.find("[agents.helper]\n"), 16, "[agents.helper]\nmodel = \"one/x\"\n");
  CHECK(changed(base, model) == std::set<std::string>{"agent-helper", "llm"});
  CHECK(changed(base, base + "[memory]\ncheckpoint_s = 7\n") ==
        std::set<std::string>{"agent-helper", "agent-main", "memory"});
  // network is the shell tool's: the agent (and the MCP server acting as it) keep running.
  auto open = base;
  open.replace(open.find("[agents.main]\n"), 14, "[agents.main]\ntools = { network = \"public\" }\n");
  CHECK(changed(base, open) == std::set<std::string>{"tool-shell-main"});
}

TEST_CASE("[agents.<id>.tools] network: none by default, public adds the egress proxy") {
  no_provider_keys keys;
  scoped_env home("WEFT_HOME", "/var/lib/weft");
  const std::string text = R"([agents.open]
[agents.open.tools]
network = "public"
[agents.shut]
[agents.shut.tools]
network = "none"
[agents.quiet]
[agents.nosh]
[agents.nosh.tools]
families = ["fs"]
network = "public"
[agents.dev]
[agents.dev.tools]
families = ["git", "code"]
network = "public"
)";
  auto c = valid(text);
  CHECK(c.agents.at("open").network == tool_network::public_internet);
  CHECK(c.agents.at("shut").network == tool_network::none);
  CHECK(c.agents.at("quiet").network == tool_network::none);
  auto open_policy = c.bus.agent_tools.at("open"), quiet_policy = c.bus.agent_tools.at("quiet");
  open_policy.where.clear(), quiet_policy.where.clear();
  CHECK(open_policy == quiet_policy);  // the bus does not hold it: changing it never restarts the bus
  auto d = derived_by_name(text);
  REQUIRE(d.count("egress"));
  auto& e = d.at("egress");
  CHECK(e.exec == "weft-egress");
  CHECK(e.address == "egress");
  // Only agents with a shell or git tool get a socket: fs and code never reach the network.
  REQUIRE(e.args.size() == 8);
  CHECK(e.args[0] == "--agent");
  CHECK(e.args[1] == "dev");
  CHECK(e.args[2] == "--workspace");
  CHECK(e.args[3].starts_with("dev="));
  CHECK(e.args[3].ends_with("/agents/dev"));  // its skills are read there
  CHECK(e.args[4] == "--agent");
  CHECK(e.args[5] == "open");
  CHECK(d.at("tool-git-dev").env.at("WEFT_NETWORK") == "public");
  CHECK(d.at("tool-git-dev").sandbox.own_network);
  CHECK_FALSE(d.at("tool-code-dev").env.count("WEFT_NETWORK"));
  CHECK_FALSE(e.sandbox.enabled);
  auto& open = d.at("tool-shell-open");
  CHECK(open.env.at("WEFT_NETWORK") == "public");
  CHECK(open.after == std::vector<std::string>{"bus", "egress"});
  CHECK(open.sandbox.own_network);
  auto& quiet = d.at("tool-shell-quiet");
  CHECK_FALSE(quiet.env.count("WEFT_NETWORK"));
  CHECK(quiet.after == std::vector<std::string>{"bus"});
  CHECK(quiet.sandbox.own_network);
  CHECK(d.at("tool-fs-nosh").sandbox.own_network);
  CHECK(d.at("tool-fs-nosh").sandbox.own_pids);
  CHECK_FALSE(d.at("tool-fs-nosh").env.count("WEFT_NETWORK"));
  // Without any public shell there is no egress at all.
  CHECK_FALSE(derived_by_name("[agents.a]\n").count("egress"));
  {
    scoped_env test_public("WEFT_EGRESS_TEST_PUBLIC", "198.18.0.2/32");
    auto t = derived_by_name("[agents.a.tools]\nnetwork = \"public\"\n");
    CHECK(t.at("egress").env.at("WEFT_EGRESS_TEST_PUBLIC") == "198.18.0.2/32");
  }
}

TEST_CASE("derived_services: the git tools of an agent that lists them, sandboxed like the other per-agent tools") {
  no_provider_keys keys;
  auto c = valid("[agents.a]\nworkspace = \"/w/a\"\n[agents.a.tools]\nfamilies = [\"fs\", \"git\"]\n"
                 "[tools.git]\nauthor = \"weft agent <agent@example.org>\"\n");
  auto d = derived_services(c, [](std::string_view p) { return "/opt/weft/" + std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-git-a"; });
  REQUIRE(it != d.end());
  CHECK(it->exec == "/opt/weft/weft-tool-git");
  CHECK(it->address == "tool/git/a");
  CHECK(it->sandbox.enabled);
  CHECK(it->sandbox.own_network);
  CHECK(it->sandbox.read_write.front() == "/w/a");
  CHECK(it->env.at("WEFT_GIT_AUTHOR") == "weft agent <agent@example.org>");
  CHECK(tool_process_addresses(c.agents.at("a").tools, "a") == std::vector<std::string>{"tool/fs/a", "tool/git/a"});
  CHECK(errors("[tools.git]\nauthor = \"nobody\"\nemail = 1\n") ==
        "clawft.toml:2:10: error: [tools.git] author must be 'Name <email>', not 'nobody'\n"
        "clawft.toml:3:1: error: unknown key 'email' in [tools.git]; expected one of: author");
  // Not among the defaults: an agent gets it by listing it.
  CHECK(std::none_of(d.begin(), d.end(), [](auto& s) { return s.name == "tool-git-b"; }));
  tool_policy defaults;
  CHECK(std::find(defaults.families.begin(), defaults.families.end(), "git") == defaults.families.end());
}

TEST_CASE("derived_services: the cargo tools, with [tools.cargo]") {
  no_provider_keys keys;
  auto c = valid("[agents.r]\nworkspace = \"/w/r\"\n[agents.r.tools]\nfamilies = [\"cargo\"]\n"
                 "[tools.cargo]\ncargo = \"/opt/rust/bin/cargo\"\ntimeout_ms = 120000\n");
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-cargo-r"; });
  REQUIRE(it != d.end());
  CHECK(it->env.at("WEFT_CARGO") == "/opt/rust/bin/cargo");
  CHECK(it->env.at("WEFT_CARGO_TIMEOUT_MS") == "120000");
  CHECK(std::find(it->sandbox.read_only.begin(), it->sandbox.read_only.end(), "/opt/rust/bin") !=
        it->sandbox.read_only.end());
  CHECK(it->sandbox.own_proc);
  CHECK(errors("[tools.cargo]\ncargo = \"cargo\"\ntimeout_ms = 5\n") ==
        "clawft.toml:2:9: error: [tools.cargo] cargo must be an absolute path, not 'cargo'\n"
        "clawft.toml:3:14: error: [tools.cargo] timeout_ms must be between 1000 and 86400000, not 5");
}

TEST_CASE("derived_services: the plugins family is the WASM plugin host, one per agent, under the tool sandbox") {
  no_provider_keys keys;
  auto c = valid("[weft]\nhome = \"/h\"\n[agents.r]\nworkspace = \"/w/r\"\n[agents.r.tools]\nfamilies = [\"plugins\", \"fs\"]\n"
                 "[agents.s]\nworkspace = \"/w/s\"\n[agents.s.tools]\nfamilies = [\"fs\"]\n");
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-plugins-r"; });
  REQUIRE(it != d.end());
  CHECK(it->exec == "weft-plugin-host");
  CHECK(it->address == "tool/plugins/r");
  CHECK(it->env.at("WEFT_WORKSPACE") == "/w/r");
  CHECK(it->env.at("WEFT_AGENT") == "r");
  CHECK(it->sandbox.enabled);
  CHECK(it->sandbox.own_network);
  CHECK(it->sandbox.deny_network);  // network "none": no internet socket at all
  CHECK(std::find(it->sandbox.read_write.begin(), it->sandbox.read_write.end(), "/w/r") != it->sandbox.read_write.end());
  // The plugins come from the admin's tree, outside the workspace, read-only.
  CHECK(it->env.at("WEFT_PLUGINS_DIR") == "/h/plugins/r");
  CHECK(std::find(it->sandbox.read_only.begin(), it->sandbox.read_only.end(), "/h/plugins/r") != it->sandbox.read_only.end());
  CHECK(std::find(it->sandbox.read_write.begin(), it->sandbox.read_write.end(), "/h/plugins/r") == it->sandbox.read_write.end());
  CHECK(std::none_of(d.begin(), d.end(), [](auto& s) { return s.name == "tool-plugins-s"; }));
  CHECK(tool_process_addresses(c.agents.at("r").tools, "r") ==
        std::vector<std::string>{"tool/plugins/r", "tool/fs/r"});
  CHECK(agent_of_address("tool/plugins/r/c-wordcount__word_count") == "r");
  CHECK(std::none_of(d.begin(), d.end(), [](auto& s) { return s.name == "egress"; }));  // network "none"
  // network = "public": the host reaches its plugins' lists through the egress proxy.
  auto pub = valid("[weft]\nhome = \"/h\"\n[agents.r]\nworkspace = \"/w/r\"\n[agents.r.tools]\nnetwork = \"public\"\n"
                   "families = [\"plugins\"]\n");
  auto dp = derived_services(pub, [](std::string_view p) { return std::string(p); });
  auto host = std::find_if(dp.begin(), dp.end(), [](auto& s) { return s.name == "tool-plugins-r"; });
  REQUIRE(host != dp.end());
  CHECK(host->env.at("WEFT_NETWORK") == "public");
  CHECK(host->after == std::vector<std::string>{"bus", "egress"});
  CHECK_FALSE(host->sandbox.deny_network);  // its relays to the egress, in its own namespace
  CHECK(host->sandbox.own_network);
  auto eg = std::find_if(dp.begin(), dp.end(), [](auto& s) { return s.name == "egress"; });
  REQUIRE(eg != dp.end());
  CHECK(eg->args == std::vector<std::string>{"--agent", "r", "--workspace", "r=/w/r"});
  CHECK(errors("[agents.a.tools]\nfamilies = [\"plugin\"]\n").find(
            "clawft.toml:2:13: error: [agents.a.tools] families 'plugin' is not a tool family") != std::string::npos);
}

TEST_CASE("derived_services: the code tools, with [tools.code] and its language servers") {
  no_provider_keys keys;
  auto c = valid("[agents.r]\nworkspace = \"/w/r\"\n[agents.r.tools]\nfamilies = [\"code\"]\n"
                 "[tools.code]\nmax_file_bytes = 65536\nlsp_idle_ms = 2000\n"
                 "[tools.code.lsp]\npython = [\"/bin/sh\", \"--stdio\"]\ncpp = []\n");
  CHECK(c.tools.code.lsp.at("cpp").empty());
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-code-r"; });
  REQUIRE(it != d.end());
  CHECK(it->exec.find("weft-tool-code") != std::string::npos);
  CHECK(it->env.at("WEFT_CODE_MAX_FILE_BYTES") == "65536");
  CHECK(it->env.at("WEFT_CODE_LSP_IDLE_MS") == "2000");
  // Only what was configured: python; cpp's empty list turns clangd off; no defaults added.
  CHECK(nlohmann::json::parse(it->env.at("WEFT_CODE_LSP")) == nlohmann::json{{"python", {"/bin/sh", "--stdio"}}});
  CHECK(std::find(it->sandbox.read_only.begin(), it->sandbox.read_only.end(), "/bin") != it->sandbox.read_only.end());
  CHECK(it->sandbox.own_proc);
  CHECK(it->sandbox.enabled);
  CHECK(errors("[tools.code]\nmax_file_bytes = 10\n[tools.code.lsp]\nzig = [\"zls\"]\ngo = \"gopls\"\n") ==
        "clawft.toml:2:18: error: [tools.code] max_file_bytes must be between 1024 and 1073741824, not 10\n"
        "clawft.toml:4:1: error: [tools.code.lsp] 'zig' is not a language the code tools know (c, cpp, python, javascript, "
        "typescript, tsx, rust, go)\n"
        "clawft.toml:5:6: error: [tools.code.lsp] go must be an array of strings, not a string");
  // Without [tools.code.lsp]: clangd for C and C++ where it is installed.
  auto plain = valid("[agents.r.tools]\nfamilies = [\"code\"]\n");
  auto pd = derived_services(plain, [](std::string_view p) { return std::string(p); });
  auto pc = std::find_if(pd.begin(), pd.end(), [](auto& s) { return s.name == "tool-code-r"; });
  REQUIRE(pc != pd.end());
  auto lsp = nlohmann::json::parse(pc->env.at("WEFT_CODE_LSP"));
  const char* path = std::getenv("PATH");
  if (find_executable("clangd", path ? path : "")) {
    CHECK(lsp.contains("cpp"));
    CHECK(lsp.contains("c"));
  } else {
    CHECK(lsp.empty());
  }
}

TEST_CASE("[tools.forges]: kinds, URLs, the token for tool-forge alone") {
  no_provider_keys keys;
  scoped_env tok("WEFT_TEST_GH", "gh-secret");
  auto c = valid(R"([agents.a.tools]
families = ["fs", "forge"]
[agents.b]
[tools.forges.gh]
kind = "github"
api = "https://api.github.com/"
token = "${WEFT_TEST_GH}"
[tools.forges.lab]
kind = "gitlab"
api = "https://gitlab.example/api/v4"
)");
  REQUIRE(c.tools.forges.size() == 2);
  CHECK(c.tools.forges.at("gh").api == "https://api.github.com");
  CHECK(c.tools.forges.at("gh").token == "gh-secret");
  CHECK(c.tools.forges.at("lab").kind == "gitlab");
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto forge = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-forge"; });
  REQUIRE(forge != d.end());
  CHECK(forge->address == "tool/forge");
  CHECK(forge->env.at("WEFT_TEST_GH") == "gh-secret");
  for (auto& s : d)
    if (s.name != "tool-forge") CHECK_MESSAGE(s.env.count("WEFT_TEST_GH") == 0, s.name);
  auto agent = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "agent-a"; });
  CHECK(std::find(agent->after.begin(), agent->after.end(), "tool-forge") != agent->after.end());
  CHECK(errors("[tools.forges.x]\nkind = \"bitbucket\"\napi = \"ftp://h\"\n[tools.forges.y]\ntoken = \"t\"\n") ==
        "clawft.toml:2:8: error: [tools.forges.x] kind must be one of 'github', 'gitea', 'gitlab', not 'bitbucket'\n"
        "clawft.toml:3:7: error: [tools.forges.x] api must be an http(s) URL, not 'ftp://h'\n"
        "clawft.toml:4:1: error: [tools.forges.y] needs kind (github, gitea or gitlab)\n"
        "clawft.toml:4:1: error: [tools.forges.y] needs api (e.g. https://api.github.com)");
  // git: URL prefixes of the remotes the token serves, and the user name sent with it.
  auto g = valid("[tools.forges.t]\nkind = \"gitea\"\napi = \"https://h/api/v1\"\ngit = [\"https://h/team/\"]\n"
                 "git_user = \"bot\"\n");
  CHECK(g.tools.forges.at("t").git == std::vector<std::string>{"https://h/team/"});
  CHECK(g.tools.forges.at("t").git_user == "bot");
  CHECK(errors("[tools.forges.t]\nkind = \"gitea\"\napi = \"https://h/api/v1\"\ngit = [\"ssh://h/\", \"https://u@h/\"]\n") ==
        "clawft.toml:4:7: error: [tools.forges.t] git must list http(s) URL prefixes (scheme, host, path; no user), not 'ssh://h/'\n"
        "clawft.toml:4:7: error: [tools.forges.t] git must list http(s) URL prefixes (scheme, host, path; no user), not 'https://u@h/'");
}

TEST_CASE("[tools.web_search]: providers, defaults, the key for tool-web alone") {
  no_provider_keys keys;
  scoped_env key("WEFT_TEST_BRAVE_KEY", "brave-secret-31");
  auto with_max = [](int max_results) {
    return valid(fmt::format(R"([agents.a.tools]
families = ["fs", "web"]
[agents.b.tools]
families = ["fs", "shell"]
[tools.web_search]
provider = "brave"
api_key = "${{WEFT_TEST_BRAVE_KEY}}"
max_results = {}
)",
                             max_results));
  };
  auto c = with_max(8);
  auto& w = c.tools.web_search;
  CHECK(w.configured);
  CHECK(w.provider == "brave");
  CHECK(w.base_url == "https://api.search.brave.com");
  CHECK(w.api_key == "brave-secret-31");
  CHECK(w.max_results == 8);
  CHECK(w.timeout_ms == 10000);
  CHECK_FALSE(w.allow_private);
  CHECK(c.secret_vars.at("tool-web") == std::vector<std::string>{"WEFT_TEST_BRAVE_KEY"});
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto web = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-web"; });
  REQUIRE(web != d.end());
  CHECK(web->env.at("WEFT_TEST_BRAVE_KEY") == "brave-secret-31");
  // Not the agents, their other tools, llm, memory, router: only tool-web.
  CHECK(d.size() > 5);
  for (auto& s : d)
    if (s.name != "tool-web") CHECK_MESSAGE(s.env.count("WEFT_TEST_BRAVE_KEY") == 0, s.name);
  // A change of [tools.web_search] restarts tool-web on reload, and nothing else.
  auto c2 = with_max(9);
  auto d2 = derived_services(c2, [](std::string_view p) { return std::string(p); });
  REQUIRE(d2.size() == d.size());
  for (std::size_t i = 0; i < d.size(); ++i)
    CHECK_MESSAGE((d[i].reads == d2[i].reads) == (d[i].name != "tool-web"), d[i].name);

  // SearXNG is the default provider; it needs its instance's URL, and no key.
  auto x = valid("[tools.web_search]\nbase_url = \"http://127.0.0.1:8888/\"\nallow_private = true\ntimeout_ms = 3000\n");
  CHECK(x.tools.web_search.provider == "searxng");
  CHECK(x.tools.web_search.base_url == "http://127.0.0.1:8888");
  CHECK(x.tools.web_search.allow_private);
  CHECK(x.tools.web_search.timeout_ms == 3000);
  CHECK(x.tools.web_search.max_results == 5);
  auto j = valid("[tools.web_search]\nprovider = \"json\"\nbase_url = \"https://s.example/api?q={query}&n={count}\"\n"
                 "results_path = \"/data/items\"\n");
  CHECK(j.tools.web_search.results_path == "/data/items");
  CHECK(j.tools.web_search.base_url == "https://s.example/api?q={query}&n={count}");
  CHECK_FALSE(valid("[agents.a]\n").tools.web_search.configured);
  // Only the services that own a section hear of its variables.
  auto t = valid("[tools.web_search]\nprovider = \"tavily\"\napi_key = \"${WEFT_TEST_BRAVE_KEY}\"\n");
  CHECK(t.tools.web_search.base_url == "https://api.tavily.com");
  CHECK(t.secret_vars.count("tool-mcp") == 0);
  CHECK(t.secret_vars.count("*") == 0);
}

TEST_CASE("[tools.web_search]: bad values are errors at file:line:column naming the key") {
  CHECK(errors("[tools.web_search]\nprovider = \"bing\"\nbase_url = \"ftp://x\"\nmax_results = 50\ntimeout_ms = 5\n"
               "results_path = \"/r\"\napi_keys = \"k\"\n") ==
        "clawft.toml:2:12: error: [tools.web_search] provider must be one of 'searxng', 'brave', 'tavily', 'json', not 'bing'\n"
        "clawft.toml:3:12: error: [tools.web_search] base_url must be an http(s) URL, not 'ftp://x'\n"
        "clawft.toml:4:15: error: [tools.web_search] max_results must be between 1 and 20, not 50\n"
        "clawft.toml:5:14: error: [tools.web_search] timeout_ms must be between 1000 and 120000, not 5\n"
        "clawft.toml:6:16: error: [tools.web_search] results_path is for provider = \"json\"\n"
        "clawft.toml:7:1: error: unknown key 'api_keys' in [tools.web_search]; expected one of: provider, base_url, "
        "api_key, results_path, max_results, timeout_ms, allow_private; did you mean 'api_key'?");
  CHECK(errors("[tools.web_search]\nprovider = \"brave\"\n") ==
        "clawft.toml:1:1: error: [tools.web_search] (brave) needs api_key, e.g. \"${BRAVE_API_KEY}\"");
  CHECK(errors("[tools.web_search]\n") ==
        "clawft.toml:1:1: error: [tools.web_search] (searxng) needs base_url (your SearXNG instance, e.g. "
        "'http://127.0.0.1:8888')");
  CHECK(errors("[tools.web_search]\nprovider = \"json\"\nbase_url = \"https://s.example/api\"\nresults_path = \"items\"\n") ==
        "clawft.toml:3:12: error: [tools.web_search] base_url of provider \"json\" must be a URL template with {query} "
        "(e.g. 'https://search.example/api?q={query}&n={count}'), not 'https://s.example/api'\n"
        "clawft.toml:4:16: error: [tools.web_search] results_path must be a JSON pointer such as '/results' or "
        "'/data/items', not 'items'");
  CHECK(errors("[tools.web_search]\nprovider = \"tavily\"\nbase_url = \"http://tavily.example\"\napi_key = \"k\"\n") ==
        "clawft.toml:3:12: error: [tools.web_search] base_url must be https:// (http:// only to this machine: it "
        "carries the api_key), not 'http://tavily.example'");
  CHECK(errors("[tools.web_search]\nallow_private = \"yes\"\nbase_url = \"http://127.0.0.1:1\"\n") ==
        "clawft.toml:2:17: error: [tools.web_search] allow_private must be true or false, not a string");
}

TEST_CASE("[tools.calendar]: accounts for listed agents, the password for tool-calendar alone") {
  no_provider_keys keys;
  scoped_env pw("WEFT_TEST_CAL_PW", "pw");
  auto c = valid(R"([agents.a.tools]
families = ["calendar"]
[agents.b]
[tools.calendar]
timezone = "Europe/Berlin"
[tools.calendar.accounts.home]
url = "https://dav.example/alice"
username = "alice"
password = "${WEFT_TEST_CAL_PW}"
agents = ["a"]
)");
  CHECK(c.tools.calendar.timezone == "Europe/Berlin");
  auto& acc = c.tools.calendar.accounts.at("home");
  CHECK(acc.url == "https://dav.example/alice/");
  CHECK(acc.password == "pw");
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto cal = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-calendar"; });
  REQUIRE(cal != d.end());
  CHECK(cal->address == "tool/calendar");
  CHECK(cal->env.at("WEFT_TEST_CAL_PW") == "pw");
  for (auto& s : d)
    if (s.name != "tool-calendar") CHECK_MESSAGE(s.env.count("WEFT_TEST_CAL_PW") == 0, s.name);
  auto agent = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "agent-a"; });
  CHECK(std::find(agent->after.begin(), agent->after.end(), "tool-calendar") != agent->after.end());
  CHECK(errors(R"([agents.a]
[tools.calendar]
timezone = "Berlin time"
[tools.calendar.accounts.x]
kind = "exchange"
url = "ftp://h"
agents = ["zed"]
[tools.calendar.accounts.y]
username = "u"
[tools.calendar.accounts.z]
url = "http://dav.example/z/"
agents = ["a"]
)") == "clawft.toml:3:12: error: [tools.calendar] timezone must be an IANA name such as Europe/Berlin, not 'Berlin time'\n"
        "clawft.toml:5:8: error: [tools.calendar.accounts.x] kind must be one of 'caldav', 'google', 'graph', 'ics', not 'exchange'\n"
        "clawft.toml:6:7: error: [tools.calendar.accounts.x] url must be an http(s) URL, not 'ftp://h'\n"
        "clawft.toml:7:10: error: [tools.calendar.accounts.x] agents names 'zed', which is no agent of [agents]\n"
        "clawft.toml:8:1: error: [tools.calendar.accounts.y] needs url (the account's home collection, e.g. "
        "https://dav.example/alice/)\n"
        "clawft.toml:8:1: error: [tools.calendar.accounts.y] needs agents (which agents' calendar tools may use it)\n"
        "clawft.toml:11:7: error: [tools.calendar.accounts.z] url must be https:// (http:// only to this machine: it carries "
        "the password or tokens), not 'http://dav.example/z/'");
  // http:// to this machine only: a literal 127.x address, ::1 or localhost, not names like them.
  for (auto [url, ok] : {std::pair{"http://127.0.0.1:5232/a/", true}, std::pair{"http://localhost/a/", true},
                         std::pair{"http://[::1]:80/a/", true}, std::pair{"http://127.0.0.1.evil.example/a/", false},
                         std::pair{"http://localhost.evil.example/a/", false}, std::pair{"https://dav.example/a/", true}}) {
    CAPTURE(url);
    auto r = parse_config(fmt::format("[agents.a]\n[tools.calendar.accounts.x]\nurl = \"{}\"\nagents = [\"a\"]\n", url),
                          "clawft.toml");
    CHECK(static_cast<bool>(r) == ok);
  }
}

TEST_CASE("[tools.calendar]: Microsoft Graph and local .ics accounts") {
  no_provider_keys keys;
  auto c = valid(R"([agents.a]
[tools.calendar.accounts.office]
kind = "graph"
oauth2_account = "work"
agents = ["a"]
[tools.calendar.accounts.test]
kind = "graph"
url = "http://127.0.0.1:8123/v1.0"
oauth2_account = "work"
agents = ["a"]
[tools.calendar.accounts.local]
kind = "ics"
path = "/home/alice/calendars"
agents = ["a"]
)");
  auto& office = c.tools.calendar.accounts.at("office");
  CHECK(office.kind == "graph");
  CHECK(office.url == "https://graph.microsoft.com/v1.0");
  CHECK(office.oauth2_account == "work");
  CHECK(c.tools.calendar.accounts.at("test").url == "http://127.0.0.1:8123/v1.0");
  auto& local = c.tools.calendar.accounts.at("local");
  CHECK(local.kind == "ics");
  CHECK(local.path == "/home/alice/calendars");
  CHECK(local.url.empty());
  CHECK(errors(R"([agents.a]
[tools.calendar.accounts.g]
kind = "graph"
url = "http://graph.example/v1.0"
agents = ["a"]
[tools.calendar.accounts.f]
kind = "ics"
agents = ["a"]
[tools.calendar.accounts.h]
kind = "ics"
path = "calendars"
url = "https://dav.example/"
agents = ["a"]
[tools.calendar.accounts.d]
url = "https://dav.example/d/"
path = "/srv/cal"
agents = ["a"]
)") == "clawft.toml:2:1: error: [tools.calendar.accounts.g] (graph) needs oauth2_account: the [oauth2] account whose tokens it uses\n"
        "clawft.toml:4:7: error: [tools.calendar.accounts.g] url must be https:// (http:// only to this machine: it carries "
        "the password or tokens), not 'http://graph.example/v1.0'\n"
        "clawft.toml:6:1: error: [tools.calendar.accounts.f] (ics) needs path (a directory of .ics files, or one .ics file)\n"
        "clawft.toml:11:8: error: [tools.calendar.accounts.h] path must be an absolute path, not 'calendars'\n"
        "clawft.toml:12:7: error: [tools.calendar.accounts.h] (ics) takes path, not url\n"
        "clawft.toml:16:8: error: [tools.calendar.accounts.d] path is for kind = \"ics\" (local files)");
}

TEST_CASE("[oauth2]: providers, grants, the client secret for the broker alone") {
  no_provider_keys keys;
  scoped_env sec("WEFT_TEST_GOOGLE_SECRET", "g-secret");
  auto c = valid(R"([agents.a]
[agents.b]
[oauth2]
store = "memory"
memory_ttl_s = 600
[oauth2.providers.google]
client_id = "id.apps.googleusercontent.com"
client_secret = "${WEFT_TEST_GOOGLE_SECRET}"
[oauth2.providers.corp]
kind = "oidc"
client_id = "weft"
issuer = "https://login.corp.example"
auth_url = "https://login.corp.example/auth"
token_url = "https://login.corp.example/token"
[oauth2.providers.keycloak]
kind = "oidc"
client_id = "weft"
issuer = "https://sso.example/realms/main"
[oauth2.grants.a]
work = ["calendar", "gmail.readonly"]
)");
  CHECK(c.oauth2.configured);
  CHECK(c.oauth2.store == "memory");
  CHECK(c.oauth2.memory_ttl_s == 600);
  CHECK(c.oauth2.providers.at("google").kind == "google");
  CHECK(c.oauth2.providers.at("google").client_secret == "g-secret");
  CHECK(c.oauth2.providers.at("corp").issuer == "https://login.corp.example");
  // An issuer alone: the endpoints come from its discovery document.
  CHECK(c.oauth2.providers.at("keycloak").auth_url.empty());
  CHECK(c.oauth2.providers.at("keycloak").issuer == "https://sso.example/realms/main");
  CHECK(c.oauth2.grants.at("a").at("work") == std::vector<std::string>{"calendar", "gmail.readonly"});
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto broker = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "oauth2"; });
  REQUIRE(broker != d.end());
  CHECK(broker->address == "oauth2");
  CHECK(broker->env.at("WEFT_TEST_GOOGLE_SECRET") == "g-secret");
  for (auto& s : d)
    if (s.name != "oauth2") CHECK_MESSAGE(s.env.count("WEFT_TEST_GOOGLE_SECRET") == 0, s.name);
  {
    // The session bus (the way to the desktop keyring) goes to the broker alone.
    scoped_env bus("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus");
    for (auto& s : derived_services(c, [](std::string_view p) { return std::string(p); }))
      CHECK_MESSAGE(s.env.count("DBUS_SESSION_BUS_ADDRESS") == (s.name == "oauth2" ? 1u : 0u), s.name);
  }
  // Without [oauth2] there is no broker.
  auto none = derived_services(valid("[agents.a]\n"), [](std::string_view p) { return std::string(p); });
  CHECK(std::none_of(none.begin(), none.end(), [](auto& s) { return s.name == "oauth2"; }));
  CHECK(errors(R"([agents.a]
[oauth2]
store = "disk"
[oauth2.providers.x]
kind = "yahoo"
[oauth2.providers.o]
kind = "oidc"
client_id = "c"
[oauth2.grants.zed]
work = ["calendar"]
[oauth2.grants.a]
"Work Account" = ["calendar"]
home = []
)") == "clawft.toml:3:9: error: [oauth2] store must be one of 'encrypted', 'memory', not 'disk'\n"
        "clawft.toml:4:1: error: [oauth2.providers.x] needs client_id (from the app registered with the provider)\n"
        "clawft.toml:5:8: error: [oauth2.providers.x] kind must be one of google, microsoft, github, slack, oidc, not 'yahoo'\n"
        "clawft.toml:6:1: error: [oauth2.providers.o] (oidc) needs issuer (its endpoints are read from "
        "<issuer>/.well-known/openid-configuration), or auth_url and token_url\n"
        "clawft.toml:9:16: error: [oauth2.grants.zed] names no agent of [agents]\n"
        "clawft.toml:12:1: error: [oauth2.grants.a] account 'Work Account' must be named with a-z, 0-9, '-', '_', '.' and '@'\n"
        "clawft.toml:13:8: error: [oauth2.grants.a] home grants no scope: list the ones its tools may use");
}

TEST_CASE("claude_permissions_of: Claude Code gets what the agent's tool policy gives it") {
  tool_policy p;  // every family, every tool
  auto all = claude_permissions_of(p, {});
  CHECK(all.allowed == std::vector<std::string>{"Bash", "BashOutput", "KillShell", "Read", "Glob", "Grep", "LS", "Edit",
                                                "MultiEdit", "Write", "NotebookEdit", "WebFetch", "WebSearch"});
  CHECK(all.disallowed.empty());
  // An agent that may not run commands: no Bash through Claude Code either.
  p.deny = {"exec"};
  auto no_exec = claude_permissions_of(p, {});
  CHECK(no_exec.disallowed == std::vector<std::string>{"Bash", "BashOutput", "KillShell"});
  CHECK(std::find(no_exec.allowed.begin(), no_exec.allowed.end(), "Edit") != no_exec.allowed.end());
  // Without the shell family it is the same; reading but not writing files; excluded tools.
  tool_policy q;
  q.families = {"fs", "delegate"};
  q.deny = {"write_*"};
  auto r = claude_permissions_of(q, {"Grep", "Task"});
  CHECK(r.allowed == std::vector<std::string>{"Read", "Glob", "LS"});
  CHECK(r.disallowed == std::vector<std::string>{"Bash", "BashOutput", "KillShell", "Grep", "Edit", "MultiEdit", "Write",
                                                 "NotebookEdit", "WebFetch", "WebSearch", "Task"});
}

TEST_CASE("derived_services: the delegate process of an agent") {
  no_provider_keys keys;
  temp_dir dir;
  // A `claude` of an npm install: bin/claude links to the package's binary.
  auto pkg = dir.path() + "/node_modules/@anthropic-ai/claude-code";
  std::filesystem::create_directories(pkg + "/bin");
  std::filesystem::create_directories(dir.path() + "/node_modules/.bin");
  auto bin = dir.write("node_modules/@anthropic-ai/claude-code/bin/claude.exe", "#!/bin/sh\n");
  std::filesystem::permissions(bin, std::filesystem::perms::owner_all);
  std::filesystem::create_symlink(bin, dir.path() + "/node_modules/.bin/claude");
  scoped_env path("PATH", dir.path() + "/node_modules/.bin:/usr/bin");
  auto c = valid(R"([agents.a]
workspace = "/w/a"
[agents.a.tools]
deny = ["exec"]
[delegation]
excluded_tools = ["WebSearch"]
max_turns = 9
)");
  auto d = derived_services(c, [](std::string_view p) { return "/opt/weft/" + std::string(p); });
  auto it = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-delegate-a"; });
  REQUIRE(it != d.end());
  CHECK(it->exec == "/opt/weft/weft-tool-delegate");
  CHECK(it->address == "tool/delegate/a");
  CHECK(it->env.at("WEFT_CLAUDE_PATH") == bin);
  CHECK(it->env.at("WEFT_DELEGATE_AUTH") == "weft");
  CHECK(it->env.at("WEFT_DELEGATE_MAX_TURNS") == "9");
  CHECK(it->env.at("WEFT_DELEGATE_DISALLOWED") == "Bash,BashOutput,KillShell,WebSearch");
  CHECK(it->env.at("WEFT_DELEGATE_ALLOWED").find("Edit") != std::string::npos);
  CHECK(it->sandbox.enabled);
  CHECK(it->sandbox.own_network);
  CHECK(it->sandbox.own_pids);
  CHECK(std::find(it->sandbox.read_only.begin(), it->sandbox.read_only.end(), pkg) != it->sandbox.read_only.end());
  CHECK(it->sandbox.read_write.front() == "/w/a");
  // No provider key in its environment, whatever the config holds.
  for (auto& [k, v] : it->env) CHECK(k.find("API_KEY") == std::string::npos);
  // The agent waits for it.
  auto agent = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "agent-a"; });
  CHECK(std::find(agent->after.begin(), agent->after.end(), "tool-delegate-a") != agent->after.end());
  // Login mode: Claude Code's own config directory, writable in the sandbox.
  auto login = valid("[agents.a]\nworkspace = \"/w/a\"\n[delegation]\nauth = \"login\"\nconfig_dir = \"/srv/cc\"\n");
  auto l = derived_services(login, [](std::string_view p) { return std::string(p); });
  auto li = std::find_if(l.begin(), l.end(), [](auto& s) { return s.name == "tool-delegate-a"; });
  REQUIRE(li != l.end());
  CHECK(li->env.at("WEFT_DELEGATE_AUTH") == "login");
  CHECK(li->env.at("WEFT_CLAUDE_CONFIG_DIR") == "/srv/cc");
  CHECK(li->sandbox.read_write.back() == "/srv/cc");
  CHECK(li->env.count("WEFT_NETWORK") == 0);  // network = "none": no way out
  CHECK(std::none_of(l.begin(), l.end(), [](auto& s) { return s.name == "egress"; }));
  // With network = "public", a login-mode run goes out through the egress proxy (a token
  // run never needs it).
  auto out = valid("[agents.a]\nworkspace = \"/w/a\"\n[agents.a.tools]\nnetwork = \"public\"\nfamilies = "
                   "[\"delegate\"]\n[delegation]\nauth = \"login\"\n");
  auto o = derived_services(out, [](std::string_view p) { return std::string(p); });
  auto oi = std::find_if(o.begin(), o.end(), [](auto& s) { return s.name == "tool-delegate-a"; });
  REQUIRE(oi != o.end());
  CHECK(oi->env.at("WEFT_NETWORK") == "public");
  CHECK(oi->after == std::vector<std::string>{"bus", "egress"});
  auto eg = std::find_if(o.begin(), o.end(), [](auto& s) { return s.name == "egress"; });
  REQUIRE(eg != o.end());
  CHECK(eg->args == std::vector<std::string>{"--agent", "a", "--workspace", "a=/w/a"});
  auto token_mode = valid("[agents.a]\n[agents.a.tools]\nnetwork = \"public\"\nfamilies = [\"delegate\"]\n");
  auto t = derived_services(token_mode, [](std::string_view p) { return std::string(p); });
  CHECK(std::none_of(t.begin(), t.end(), [](auto& s) { return s.name == "egress"; }));
}

TEST_CASE("[tools.email]: IMAP, Gmail and Graph accounts; senders among agents; the password for tool-email alone") {
  no_provider_keys keys;
  scoped_env pw("WEFT_TEST_MAIL_PW", "mailpw");
  auto c = valid(R"([agents.a.tools]
families = ["email"]
[agents.b]
[tools.email]
send_per_hour = 7
[tools.email.accounts.home]
imap_url = "imaps://mail.example"
smtp_url = "smtp://mail.example:587"
username = "alice@example.com"
password = "${WEFT_TEST_MAIL_PW}"
address = "Alice <alice@example.com>"
agents = ["a", "b"]
senders = ["a"]
[tools.email.accounts.gm]
kind = "gmail"
oauth2_account = "work"
address = "alice@gmail.example"
agents = ["a"]
[tools.email.accounts.ms]
kind = "graph"
oauth2_account = "office"
address = "alice@office.example"
agents = ["a"]
[tools.email.accounts.xo]
imap_url = "imap://127.0.0.1:1143"
username = "alice"
oauth2_account = "work"
address = "alice@example.com"
agents = ["a"]
)");
  CHECK(c.tools.email.send_per_hour == 7);
  auto& home = c.tools.email.accounts.at("home");
  CHECK(home.kind == "imap");
  CHECK(home.password == "mailpw");
  CHECK(home.senders == std::vector<std::string>{"a"});
  CHECK(home.scopes.empty());
  CHECK(c.tools.email.accounts.at("gm").url == "https://gmail.googleapis.com/gmail/v1/users/me");
  CHECK(c.tools.email.accounts.at("gm").scopes == std::vector<std::string>{"gmail.modify"});
  CHECK(c.tools.email.accounts.at("ms").url == "https://graph.microsoft.com/v1.0/me");
  CHECK(c.tools.email.accounts.at("ms").scopes == std::vector<std::string>{"mail", "mail.send"});
  CHECK(c.tools.email.accounts.at("xo").scopes == std::vector<std::string>{"mail"});
  auto d = derived_services(c, [](std::string_view p) { return std::string(p); });
  auto mail = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "tool-email"; });
  REQUIRE(mail != d.end());
  CHECK(mail->address == "tool/email");
  CHECK(mail->env.at("WEFT_TEST_MAIL_PW") == "mailpw");
  for (auto& s : d)
    if (s.name != "tool-email") CHECK_MESSAGE(s.env.count("WEFT_TEST_MAIL_PW") == 0, s.name);
  auto agent = std::find_if(d.begin(), d.end(), [](auto& s) { return s.name == "agent-a"; });
  CHECK(std::find(agent->after.begin(), agent->after.end(), "tool-email") != agent->after.end());

  CHECK(errors(R"([agents.a]
[tools.email]
send_per_hour = 0
[tools.email.accounts.x]
kind = "pop3"
agents = ["zed"]
[tools.email.accounts.y]
imap_url = "ftp://mail.example"
username = "u"
password = "p"
oauth2_account = "w"
address = "nobody"
agents = ["a"]
senders = ["b"]
[tools.email.accounts.z]
kind = "gmail"
url = "http://gmail.example/"
username = "u"
address = "z@example.com"
agents = ["a"]
[tools.email.accounts.s]
imap_url = "imaps://mail.example"
username = "u"
password = "p"
address = "s@example.com"
agents = ["a"]
senders = ["a"]
)") == "clawft.toml:3:17: error: [tools.email] send_per_hour must be between 1 and 10000, not 0\n"
        "clawft.toml:4:1: error: [tools.email.accounts.x] needs address: the From: of what agents write (\"Ann <ann@example.com>\")\n"
        "clawft.toml:5:8: error: [tools.email.accounts.x] kind must be one of 'imap', 'gmail', 'graph', not 'pop3'\n"
        "clawft.toml:6:10: error: [tools.email.accounts.x] agents names 'zed', which is no agent of [agents]\n"
        "clawft.toml:8:12: error: [tools.email.accounts.y] imap_url must be imaps:// or imap:// (e.g. imaps://mail.example.com), not "
        "'ftp://mail.example'\n"
        "clawft.toml:11:18: error: [tools.email.accounts.y] takes password or oauth2_account (XOAUTH2), not both\n"
        "clawft.toml:12:11: error: [tools.email.accounts.y] address must be a mail address (\"Ann <ann@example.com>\"), not 'nobody'\n"
        "clawft.toml:14:11: error: [tools.email.accounts.y] senders names 'b', which is no agent of [agents]\n"
        "clawft.toml:14:11: error: [tools.email.accounts.y] has senders but no smtp_url to send with\n"
        "clawft.toml:15:1: error: [tools.email.accounts.z] (gmail) needs oauth2_account: the [oauth2] account whose tokens it uses\n"
        "clawft.toml:17:7: error: [tools.email.accounts.z] url must be https:// (http:// only to this machine: it carries the tokens), "
        "not 'http://gmail.example/'\n"
        "clawft.toml:18:12: error: [tools.email.accounts.z] username is for kind \"imap\", not \"gmail\"\n"
        "clawft.toml:27:11: error: [tools.email.accounts.s] has senders but no smtp_url to send with");
}

TEST_CASE("[security.monitor]: defaults, every key, the monitor service derived only when enabled") {
  auto agents = "[providers.p]\nstyle = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n"
                "[agents.main]\n[agents.other]\n";
  auto d = valid(agents);
  CHECK_FALSE(d.security.monitor.enabled);
  CHECK(d.security.monitor.tool_calls_per_minute == 120);
  CHECK(d.security.monitor.sensitive_paths == std::vector<std::string>{"$WEFT_HOME/keys", "$WEFT_HOME/oauth2"});
  CHECK(d.security.monitor.sensitive_path_action == monitor_action::quarantine);
  CHECK(d.security.monitor.tool_burst_action == monitor_action::alert);
  CHECK(d.security.monitor.known_hosts.empty());
  CHECK(d.security.monitor.new_host_after_calls == 50);
  CHECK(d.security.monitor.new_host_action == monitor_action::alert);
  CHECK(d.security.monitor.exec_after_fetch_seconds == 600);
  CHECK(d.security.monitor.exec_after_fetch_calls == 20);
  CHECK(d.security.monitor.exec_after_fetch_action == monitor_action::alert);
  CHECK(d.security.monitor.throttle_calls_per_minute == 10);
  CHECK(d.security.monitor.throttle_seconds == 300);
  CHECK(d.security.monitor.notify_channel.empty());
  CHECK(std::count(d.security.monitor.interpreters.begin(), d.security.monitor.interpreters.end(), "python") == 1);
  auto locate = [](std::string_view p) { return "/x/" + std::string(p); };
  auto has_monitor = [&](const config& c) {
    auto s = derived_services(c, locate);
    return std::any_of(s.begin(), s.end(), [](auto& x) { return x.name == "monitor" && x.address == "monitor"; });
  };
  CHECK_FALSE(has_monitor(d));

  auto c = valid(std::string(agents) + R"([security.monitor]
enabled = true
tool_calls_per_minute = 30
tool_burst_action = "quarantine"
denials_per_minute = 0
denial_burst_action = "alert"
cost_per_hour_usd = 2.5
cost_action = "quarantine"
sensitive_paths = ["$WEFT_HOME/keys", "/etc/shadow"]
other_workspaces = false
sensitive_path_action = "alert"
known_hosts = ["Example.com", "*.github.com", "2001:db8::1"]
new_host_after_calls = 0
new_host_action = "quarantine"
exec_after_fetch_seconds = 60
exec_after_fetch_calls = 0
interpreters = ["sh", "python"]
exec_after_fetch_action = "quarantine"
throttle_calls_per_minute = 4
throttle_seconds = 90
notify = "telegram:-100123:x"
)");
  auto& m = c.security.monitor;
  CHECK(m.enabled);
  CHECK(m.tool_calls_per_minute == 30);
  CHECK(m.tool_burst_action == monitor_action::quarantine);
  CHECK(m.denials_per_minute == 0);
  CHECK(m.cost_per_hour_usd == 2.5);
  CHECK(m.cost_action == monitor_action::quarantine);
  CHECK(m.sensitive_paths == std::vector<std::string>{"$WEFT_HOME/keys", "/etc/shadow"});
  CHECK_FALSE(m.other_workspaces);
  CHECK(m.sensitive_path_action == monitor_action::alert);
  CHECK(m.known_hosts == std::vector<std::string>{"example.com", "*.github.com", "2001:db8::1"});
  CHECK(m.new_host_after_calls == 0);
  CHECK(m.new_host_action == monitor_action::quarantine);
  CHECK(m.exec_after_fetch_seconds == 60);
  CHECK(m.exec_after_fetch_calls == 0);
  CHECK(m.interpreters == std::vector<std::string>{"sh", "python"});
  CHECK(m.exec_after_fetch_action == monitor_action::quarantine);
  CHECK(m.throttle_calls_per_minute == 4);
  CHECK(m.throttle_seconds == 90);
  CHECK(m.notify_channel == "telegram");
  CHECK(m.notify_chat == "-100123:x");  // a chat id may hold ':' itself
  CHECK(m.where == "clawft.toml:7:1");
  CHECK(has_monitor(c));
  CHECK(c.warnings.empty());
}

TEST_CASE("[security.monitor] errors carry file:line:column") {
  CHECK(errors("[security.monitor]\nenabled = 1\n") ==
        "clawft.toml:2:11: error: [security.monitor] enabled must be true or false, not an integer");
  CHECK(errors("[security.monitor]\ntool_burst_action = \"kill\"\n") ==
        "clawft.toml:2:21: error: [security.monitor] tool_burst_action must be one of 'alert', 'throttle', "
        "'quarantine', not 'kill'");
  CHECK(valid("[security.monitor]\ncost_action = \"throttle\"\n").security.monitor.cost_action ==
        monitor_action::throttle);
  CHECK(errors("[security.monitor]\nthrottle_calls_per_minute = 0\n").find("clawft.toml:2:29: error: "
                                                                          "[security.monitor] throttle_calls_per_minute") == 0);
  CHECK(errors("[security.monitor]\nnotify = \"telegram\"\n") ==
        "clawft.toml:2:10: error: [security.monitor] notify 'telegram' must be '<channel>:<chat id>', e.g. "
        "'telegram:12345'");
  CHECK(errors("[security.monitor]\nnotify = \"Tele gram:1\"\n").find("clawft.toml:2:10: error: [security.monitor] "
                                                                     "notify 'Tele gram:1' must start with a channel") == 0);
  CHECK(errors("[security.monitor]\nnotify = \"web:\"\n").find("clawft.toml:2:10: error:") == 0);
  CHECK(errors("[security.monitor]\nnotify = 5\n").find("clawft.toml:2:10: error: [security.monitor] notify") == 0);
  CHECK(errors("[security.monitor]\nthrottle_seconds = 700000\n").find("clawft.toml:2:20: error: [security.monitor] "
                                                                      "throttle_seconds") == 0);
  CHECK(errors("[security.monitor]\nsensitive_paths = [\"/ok\", \"keys\"]\n") ==
        "clawft.toml:2:27: error: [security.monitor] sensitive_paths entry 'keys' must be an absolute path or start "
        "with '$WEFT_HOME/'");
  CHECK(errors("[security.monitor]\nsensitive_paths = [\"/a/../b\"]\n") ==
        "clawft.toml:2:20: error: [security.monitor] sensitive_paths entry '/a/../b' must not contain '..'");
  CHECK(errors("[security.monitor]\ncost_per_hour_usd = -1\n").find("clawft.toml:2:21: error: [security.monitor] "
                                                                      "cost_per_hour_usd") == 0);
  CHECK(errors("[security.monitor]\ntool_calls_per_minute = 2000000\n").find("clawft.toml:2:25: error:") == 0);
  CHECK(errors("[security.monitor]\nenabeld = true\n").find("clawft.toml:2:1: error: unknown key 'enabeld' in "
                                                             "[security.monitor]") == 0);
  CHECK(errors("[security.monitor]\nknown_hosts = [\"ok.test\", \"http://x.test/\"]\n") ==
        "clawft.toml:2:27: error: [security.monitor] known_hosts entry 'http://x.test/' must be a host name (letters, "
        "digits, '.', '-', '_', ':'), '*.' and a name, or '*'");
  CHECK(errors("[security.monitor]\nknown_hosts = [\"*.\"]\n") ==
        "clawft.toml:2:16: error: [security.monitor] known_hosts entry '*.' must be a host name of 1 to 253 bytes, "
        "'*.' and a name, or '*'");
  CHECK(errors("[security.monitor]\nknown_hosts = \"a.test\"\n").find("clawft.toml:2:15: error: [security.monitor] "
                                                                         "known_hosts") == 0);
  CHECK(errors("[security.monitor]\ninterpreters = [\"/bin/sh\"]\n") ==
        "clawft.toml:2:17: error: [security.monitor] interpreters entry '/bin/sh' must be a command name, without '/' "
        "or spaces");
  CHECK(errors("[security.monitor]\nexec_after_fetch_seconds = 90000\n").find("clawft.toml:2:28: error: "
                                                                              "[security.monitor] "
                                                                              "exec_after_fetch_seconds") == 0);
  CHECK(errors("[security.monitor]\nnew_host_action = \"block\"\n") ==
        "clawft.toml:2:19: error: [security.monitor] new_host_action must be one of 'alert', 'throttle', "
        "'quarantine', not 'block'");
  CHECK(errors("[security.monitor]\nexec_after_fetch_calls = -1\n").find("clawft.toml:2:26: error:") == 0);
  CHECK(errors("[security]\nmonitor = 3\n") == "clawft.toml:2:11: error: [security.monitor] must be a table, not an "
                                                 "integer");
  CHECK(errors("security = 3\n") == "clawft.toml:1:12: error: [security] must be a table, not an integer");
}

// Issue 23: the config the package installs as /etc/weft/clawft.toml is valid, warns of
// nothing and runs exactly the services the built-in default runs (so installing it changes
// nothing but where to edit), with and without provider keys.
TEST_CASE("deploy/config/clawft.toml runs what the built-in default runs") {
  no_provider_keys keys;
  auto same = [] {
    auto f = load_config(WEFT_SOURCE_ROOT "/deploy/config/clawft.toml");
    REQUIRE_MESSAGE(f, (f ? "" : f.err().message));
    CHECK(f->warnings.empty());
    auto d = default_config();
    auto locate = [](std::string_view program) { return std::string(program); };
    auto a = derived_services(*f, locate), b = derived_services(d, locate);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CAPTURE(b[i].name);
      CHECK(a[i].name == b[i].name);
      CHECK(a[i].args == b[i].args);
      CHECK(a[i].env == b[i].env);
      CHECK(a[i].after == b[i].after);
    }
    auto unplaced = [](std::map<std::string, tool_policy> m) {
      for (auto& [id, p] : m) p.where.clear();
      return m;
    };
    CHECK(unplaced(f->bus.agent_tools) == unplaced(d.bus.agent_tools));
    CHECK(f->routing.default_agent == d.routing.default_agent);
    CHECK(keys_of_providers(*f) == keys_of_providers(d));
    CHECK(f->llm.default_provider == d.llm.default_provider);
  };
  {
    scoped_env no_claude("PATH", "/nonexistent");
    same();
  }
  scoped_env anthropic("ANTHROPIC_API_KEY", "a");
  scoped_env groq("GROQ_API_KEY", "g");
  same();
}
