#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include <weft/service/config.hh>

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

  // An empty file means the same, apart from where it came from.
  auto empty = valid("# nothing here\n");
  CHECK(empty.source == "clawft.toml");
  empty.source = d.source;
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
  service_spec a{"x", "/bin/x", {}, "x", {"bus"}, {}, restart_policy::always, true, {}, "a.toml:1:1"};
  auto b = a;
  b.where = "a.toml:9:1";
  CHECK(a == b);
  b.exec = "/bin/y";
  CHECK_FALSE(a == b);
}

TEST_CASE("TOML syntax errors carry file:line:column") {
  CHECK(errors("[bus]\nmax_message_bytes = = 3\n") ==
        "clawft.toml:2:21: error: Error while parsing value: could not determine value type");
  CHECK(errors("a = 1\n[services.echo-1\n").rfind("clawft.toml:2:", 0) == 0);
  // Too large for TOML's 64-bit integers: toml++ refuses it, so nothing wraps around.
  CHECK(errors("[bus]\nqueue_depth = 99999999999999999999\n").rfind("clawft.toml:2:", 0) == 0);
}

TEST_CASE("unknown keys are named with the keys that are allowed") {
  CHECK(errors("[bus]\nmax_msg_bytes = 1024\n") ==
        "clawft.toml:2:1: error: unknown key 'max_msg_bytes' in [bus]; expected one of: max_message_bytes, "
        "queue_depth, default_policy, acl");
  CHECK(errors("[bus]\n  queue_dept = 3\n") ==
        "clawft.toml:2:3: error: unknown key 'queue_dept' in [bus]; expected one of: max_message_bytes, "
        "queue_depth, default_policy, acl; did you mean 'queue_depth'?");
  CHECK(errors("[[bus.acl]]\nform = \"a\"\naction = \"deny\"\n") ==
        "clawft.toml:2:1: error: unknown key 'form' in bus.acl[0]; expected one of: from, to, types, action; "
        "did you mean 'from'?");
  CHECK(errors("[services.echo-1]\nexec = \"/bin/echo\"\nrestrat = \"never\"\n") ==
        "clawft.toml:3:1: error: unknown key 'restrat' in [services.echo-1]; expected one of: exec, args, "
        "address, after, env, restart, enabled; did you mean 'restart'?");
  // Control characters in user text are escaped, so each problem stays on one line.
  CHECK(errors("[weft]\n\"a\\nb\" = 1\n") ==
        "clawft.toml:2:1: error: unknown key 'a\\x0ab' in [weft]; expected one of: home, runtime_dir, log");
  CHECK(errors("[weft]\nx = 1\n") ==
        "clawft.toml:2:1: error: unknown key 'x' in [weft]; expected one of: home, runtime_dir, log");
  CHECK(errors("[supervisor]\nready_timeout = 5\n").find("unknown key 'ready_timeout' in [supervisor]; expected "
                                                          "one of: ready_timeout_ms, heartbeat_interval_ms") !=
        std::string::npos);
  CHECK(errors("[buss]\n") ==
        "clawft.toml:1:2: error: unknown key 'buss' at the top level; expected one of: weft, bus, supervisor, "
        "services, agents, agent_routes, channels, providers, delegation, tools, memory, security, hub, llm; "
        "did you mean 'bus'?");
}

TEST_CASE("values of the wrong type") {
  CHECK(errors("[bus]\nmax_message_bytes = \"big\"\n") ==
        "clawft.toml:2:21: error: [bus] max_message_bytes must be an integer, not a string");
  CHECK(errors("[bus]\nqueue_depth = 10.5\n") ==
        "clawft.toml:2:15: error: [bus] queue_depth must be an integer, not a floating-point number");
  CHECK(errors("[weft]\nlog = true\n") == "clawft.toml:2:7: error: [weft] log must be a string, not a boolean");
  CHECK(errors("bus = 3\n") == "clawft.toml:1:7: error: [bus] must be a table, not an integer");
  CHECK(errors("[bus]\nacl = 1\n") ==
        "clawft.toml:2:7: error: [bus] acl must be an array of tables ([[bus.acl]]), not an integer");
  CHECK(errors("[bus]\nacl = [1]\n") == "clawft.toml:2:8: error: bus.acl[0] must be a table, not an integer");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nargs = \"-v\"\n") ==
        "clawft.toml:3:8: error: [services.a] args must be an array of strings, not a string");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nargs = [\"-v\", 2]\n") ==
        "clawft.toml:3:15: error: [services.a] args must contain only strings, not an integer");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nenv = { N = 1 }\n") ==
        "clawft.toml:3:13: error: [services.a] env.N must be a string, not an integer");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nenv = [\"N=1\"]\n") ==
        "clawft.toml:3:7: error: [services.a] env must be a table of strings, not an array");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nenabled = \"yes\"\n") ==
        "clawft.toml:3:11: error: [services.a] enabled must be true or false, not a string");
  CHECK(errors("[services]\na = 5\n") == "clawft.toml:2:5: error: [services.a] must be a table, not an integer");
  CHECK(errors("[supervisor]\nstop_timeout_ms = 1979-05-27\n") ==
        "clawft.toml:2:19: error: [supervisor] stop_timeout_ms must be an integer, not a date");
}

TEST_CASE("values out of range and unknown choices name what is allowed") {
  CHECK(errors("[bus]\nmax_message_bytes = 1023\n") ==
        "clawft.toml:2:21: error: [bus] max_message_bytes must be between 1024 and 67108864, not 1023");
  CHECK(errors("[bus]\nmax_message_bytes = 67108865\n") ==
        "clawft.toml:2:21: error: [bus] max_message_bytes must be between 1024 and 67108864, not 67108865");
  CHECK(errors("[bus]\nqueue_depth = 0\n") ==
        "clawft.toml:2:15: error: [bus] queue_depth must be between 1 and 1000000, not 0");
  CHECK(errors("[bus]\nqueue_depth = -5\n") ==
        "clawft.toml:2:15: error: [bus] queue_depth must be between 1 and 1000000, not -5");
  CHECK(errors("[bus]\ndefault_policy = \"maybe\"\n") ==
        "clawft.toml:2:18: error: [bus] default_policy must be one of 'allow', 'deny', not 'maybe'");
  CHECK(errors("[supervisor]\nready_timeout_ms = 0\n") ==
        "clawft.toml:2:20: error: [supervisor] ready_timeout_ms must be between 1 and 4294967295, not 0");
  // One more than uint32_t holds: refused, not truncated to 0.
  CHECK(errors("[supervisor]\nrestart_window_s = 4294967296\n") ==
        "clawft.toml:2:20: error: [supervisor] restart_window_s must be between 1 and 4294967295, not 4294967296");
  CHECK(errors("[supervisor]\nrestart_intensity = -1\n") ==
        "clawft.toml:2:21: error: [supervisor] restart_intensity must be between 1 and 4294967295, not -1");
  CHECK(errors("[supervisor]\nrestart_backoff_initial_ms = 500\nrestart_backoff_max_ms = 400\n") ==
        "clawft.toml:3:26: error: [supervisor] restart_backoff_max_ms (400) must not be less than "
        "restart_backoff_initial_ms (500)");
  CHECK(errors("[supervisor]\nrestart_backoff_initial_ms = 40000\n") ==
        "clawft.toml:2:30: error: [supervisor] restart_backoff_max_ms (30000) must not be less than "
        "restart_backoff_initial_ms (40000)");
  CHECK(errors("[supervisor]\nheartbeat_interval_ms = 10000\n") ==
        "clawft.toml:2:25: error: [supervisor] heartbeat_timeout_ms (10000) must be greater than "
        "heartbeat_interval_ms (10000)");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nrestart = \"sometimes\"\n") ==
        "clawft.toml:3:11: error: [services.a] restart must be one of 'always', 'on-failure', 'never', not "
        "'sometimes'");
  CHECK(errors("[[bus.acl]]\naction = \"block\"\n") ==
        "clawft.toml:2:10: error: bus.acl[0] action must be one of 'allow', 'deny', not 'block'");
  // The bounds themselves are accepted.
  auto c = valid("[bus]\nmax_message_bytes = 1024\nqueue_depth = 1000000\n");
  CHECK(c.bus.max_message_bytes == 1024);
  CHECK(c.bus.queue_depth == 1000000);
  CHECK(valid("[bus]\nmax_message_bytes = 67108864\n").bus.max_message_bytes == 67108864);
}

TEST_CASE("missing required keys point at the table") {
  CHECK(errors("[services.echo-1]\naddress = \"echo/1\"\n") ==
        "clawft.toml:1:1: error: [services.echo-1] is missing required key 'exec'");
  CHECK(errors("[bus]\n\n[[bus.acl]]\nfrom = \"a\"\n") ==
        "clawft.toml:3:1: error: bus.acl[0] is missing required key 'action'");
  CHECK(errors("[services]\nx = { args = [] }\n") == "clawft.toml:2:5: error: [services.x] is missing required key 'exec'");
  CHECK(errors("[services.a]\nexec = \"\"\n") == "clawft.toml:2:8: error: [services.a] exec must not be empty");
}

TEST_CASE("names, addresses and patterns are checked") {
  CHECK(errors("[services.Echo]\nexec = \"/bin/e\"\naddress = \"echo\"\n") ==
        "clawft.toml:1:11: error: service name 'Echo' is invalid: use 1 to 64 of a-z, 0-9 and '-', starting with "
        "a letter or digit");
  CHECK(errors("[services.bus]\nexec = \"/bin/e\"\naddress = \"b\"\n") ==
        "clawft.toml:1:11: error: service name 'bus' is reserved for weft itself");
  CHECK(errors("[services." + std::string(65, 'a') + "]\nexec = \"/bin/e\"\naddress = \"a\"\n")
            .find("is invalid") != std::string::npos);
  CHECK(valid("[services." + std::string(64, 'a') + "]\nexec = \"/bin/e\"\n").services.at(0).address ==
        std::string(64, 'a'));
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"echo//1\"\n") ==
        "clawft.toml:3:11: error: [services.a] address 'echo//1' is invalid: use segments of a-z, 0-9, '_', '.', "
        "'-' starting with a letter or digit, separated by '/', at most 128 characters");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"Echo\"\n").find("address 'Echo' is invalid") !=
        std::string::npos);
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"" + std::string(129, 'a') + "\"\n")
            .find("is invalid") != std::string::npos);
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"ctl/x\"\n") ==
        "clawft.toml:3:11: error: [services.a] address 'ctl/x' is reserved for weft itself");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"weftd\"\n").find("'weftd' is reserved") !=
        std::string::npos);
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\naddress = \"b\"\n[services.b]\nexec = \"/bin/b\"\n") ==
        "clawft.toml:4:1: error: [services.b] address 'b' is already used by [services.a]");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nenv = { \"FOO-BAR\" = \"1\" }\n") ==
        "clawft.toml:3:9: error: [services.a] env key 'FOO-BAR' is not a valid environment variable name: use "
        "letters, digits and '_', not starting with a digit");
  CHECK(errors("[[bus.acl]]\nfrom = \"Agent/*\"\naction = \"deny\"\n") ==
        "clawft.toml:2:8: error: bus.acl[0] from 'Agent/*' can never match an address: use a-z, 0-9, '_', '.', "
        "'-', '/' and the wildcard '*'");
  CHECK(errors("[[bus.acl]]\ntypes = []\naction = \"deny\"\n") ==
        "clawft.toml:2:9: error: bus.acl[0] types must not be empty; use [\"*\"] for every type");
  CHECK(errors("[[bus.acl]]\ntypes = [\"io.weft.*\", \"io weft\"]\naction = \"deny\"\n") ==
        "clawft.toml:2:23: error: bus.acl[0] types 'io weft' can never match a message type: use letters, digits, "
        "'_', '.', '-' and the wildcard '*'");
}

TEST_CASE("[weft] paths and the log spec are checked") {
  CHECK(errors("[weft]\nhome = \"~/.clawft\"\n") ==
        "clawft.toml:2:8: error: [weft] home must be an absolute path, not '~/.clawft'");
  CHECK(errors("[weft]\nruntime_dir = \"run\"\n") ==
        "clawft.toml:2:15: error: [weft] runtime_dir must be an absolute path, not 'run'");
  CHECK(errors("[weft]\nruntime_dir = \"/" + std::string(99, 'r') + "\"\n") ==
        "clawft.toml:2:15: error: [weft] runtime_dir is 100 bytes long; socket paths allow at most 99");
  CHECK(valid("[weft]\nruntime_dir = \"/" + std::string(98, 'r') + "\"\n").runtime_dir.size() == 99);
  CHECK(errors("[weft]\nlog = \"verbose\"\n") ==
        "clawft.toml:2:7: error: [weft] log 'verbose' is not a level spec: use a level (trace, debug, info, "
        "warning, error, off), optionally with per-logger levels, e.g. 'debug,bus=trace'");
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

  CHECK(errors("[services.x]\nexec = \"/bin/x\"\nenv = { TOKEN = \"${WEFT_TEST_UNSET}\" }\n") ==
        "clawft.toml:3:17: error: environment variable 'WEFT_TEST_UNSET' is not set (used in [services.x] "
        "env.TOKEN)");
  CHECK(errors("[services.x]\nexec = \"/bin/${WEFT_TEST_UNSET\"\n") ==
        "clawft.toml:2:8: error: unterminated '${' in [services.x] exec; write '$${' for a literal '${'");
  CHECK(errors("[services.x]\nexec = \"/bin/x\"\nargs = [\"${1X}\"]\n") ==
        "clawft.toml:3:9: error: '${1X}' in [services.x] args is not a valid environment variable name");
  // Substituted values are validated like any other.
  scoped_env bad_address("WEFT_TEST_ADDRESS", "Not/Valid");
  CHECK(errors("[services.x]\nexec = \"/bin/x\"\naddress = \"${WEFT_TEST_ADDRESS}\"\n")
            .rfind("clawft.toml:3:11: error: [services.x] address 'Not/Valid' is invalid", 0) == 0);
  // Sections this build ignores are not substituted, so their secrets need not be set.
  CHECK(valid("[channels.telegram]\ntoken = \"${WEFT_TEST_UNSET}\"\n").warnings.size() == 1);
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

  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nafter = [\"bus\", \"ehco\"]\n[services.echo]\nexec = \"/bin/e\"\n") ==
        "clawft.toml:3:17: error: [services.a] after names 'ehco', which is neither 'bus' nor a configured "
        "service; did you mean 'echo'?");
  // Too far from anything to guess ("bar" is two edits from "bus").
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nafter = [\"bar\"]\n") ==
        "clawft.toml:3:10: error: [services.a] after names 'bar', which is neither 'bus' nor a configured service");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nafter = [\"weftd\"]\n") ==
        "clawft.toml:3:10: error: [services.a] after names 'weftd', which is neither 'bus' nor a configured "
        "service");
  CHECK(errors("[services.a]\nexec = \"/bin/a\"\nafter = [\"a\"]\n") ==
        "clawft.toml:3:10: error: [services.a] after forms a cycle: a -> a (each waits for the next)");
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
  auto c = valid(R"([llm]
provider = "x"
[services.a]
exec = "/bin/a"
[[agent_routes]]
match = "a"
[[agent_routes]]
match = "b"
[agents.helper]
model = 3
)");
  CHECK(c.warnings == std::vector<std::string>{
                          "clawft.toml:1:1: warning: section '[llm]' is not supported by this build yet, ignoring.",
                          "clawft.toml:5:1: warning: section '[agent_routes]' is not supported by this build yet, "
                          "ignoring.",
                          "clawft.toml:9:1: warning: section '[agents]' is not supported by this build yet, "
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
