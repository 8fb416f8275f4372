// Unit tests of the plugin manifest (libs/plugin manifest.cc): a full manifest, each field
// wrong with its exact file:line:column message, the reserved voice capability, unknown keys
// kept with a warning, unknown permission kinds refused, an entry leading out of its folder.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include <weft/plugin/manifest.hh>

#include "tests/temp_dir.hh"

using namespace weft;
using namespace weft::plugin;
namespace fs = std::filesystem;

namespace {

const char* full = R"(manifest_version = 1
name = "weather-tools"
version = "1.4.0-rc.1+build.7"
publisher = "Example Ltd"
description = "Forecasts from a public weather API"
entry = "./bin//weather.wasm"
capabilities = ["tools", "hooks"]

[[tools]]
name = "forecast"
description = "The forecast for a place"
export = "tool_forecast"
input_schema = '{"type": "object", "properties": {"place": {"type": "string"}}, "required": ["place"]}'

[[tools]]
name = "alerts"
description = "Weather alerts"
[tools.input_schema]
type = "object"
properties.region = { type = "string", maxLength = 64 }

[permissions]
host_functions = ["log", "result", "http_fetch", "file_read", "file_write", "kv_get", "kv_put", "clock"]

[permissions.files]
read = ["data/cities.json", "./notes/"]
write = ["out"]

[permissions.network]
hosts = ["api.weather.example", "*.tiles.example.org:443", "192.168.1.20:8080"]
allow_private = ["10.20.0.0/16"]

[permissions.env]
UNITS = "metric"
API_BASE = "https://api.weather.example/v2"

[permissions.limits]
memory_mib = 32
time_ms = 2000
instructions = 50000000
result_bytes = 65536
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

/// The errors of `text` (each "m.toml:L:C: error: …"), or "" when it parses.
std::string errors_of(const std::string& text) {
  auto m = parse_manifest(text, "m.toml");
  return m ? std::string() : m.err().message;
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("manifest: a full manifest") {
  auto m = parse_manifest(full, "weather/plugin.toml");
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().message));
  CHECK(m->version_of_manifest == 1);
  CHECK(m->name == "weather-tools");
  CHECK(m->version == "1.4.0-rc.1+build.7");
  CHECK(m->publisher == "Example Ltd");
  CHECK(m->description == "Forecasts from a public weather API");
  CHECK(m->entry == "bin/weather.wasm");
  CHECK(m->capabilities == std::vector{capability::tools, capability::hooks});
  CHECK(m->unsupported().empty());
  REQUIRE(m->tools.size() == 2);
  CHECK(m->tools[0].name == "forecast");
  CHECK(m->tools[0].export_name == "tool_forecast");
  CHECK(m->tools[0].input_schema ==
        R"({"properties":{"place":{"type":"string"}},"required":["place"],"type":"object"})");
  CHECK(m->tools[1].name == "alerts");
  CHECK(m->tools[1].export_name == "alerts");
  CHECK(m->tools[1].input_schema == R"({"properties":{"region":{"maxLength":64,"type":"string"}},"type":"object"})");
  auto& p = m->permissions;
  CHECK(p.host_functions.size() == 8);
  CHECK(p.host_functions[2] == host_function::http_fetch);
  CHECK(p.files_read == std::vector<std::string>{"data/cities.json", "notes"});
  CHECK(p.files_write == std::vector<std::string>{"out"});
  REQUIRE(p.network.hosts.size() == 3);
  CHECK(p.network.hosts[1].text() == "*.tiles.example.org:443");
  REQUIRE(p.network.allow_private.size() == 1);
  CHECK(p.network.allow_private[0].text() == "10.20.0.0/16");
  CHECK(p.env.at("UNITS") == "metric");
  CHECK(p.env.at("API_BASE") == "https://api.weather.example/v2");
  CHECK(p.limits == limits{32, 2000, 50000000, 65536});
  CHECK(m->unknown.empty());
  CHECK(m->warnings.empty());
}

TEST_CASE("manifest: defaults of a minimal manifest") {
  auto m = parse_manifest(R"(manifest_version = 1
name = "x"
version = "0.1.0"
publisher = "p"
description = "d"
entry = "x.wasm"
capabilities = ["channel"]
)",
                          "m.toml");
  REQUIRE(m);
  CHECK(m->tools.empty());
  CHECK(m->permissions.limits == limits{});
  CHECK(m->permissions.limits.memory_mib == 64);
  CHECK(m->permissions.limits.time_ms == 5000);
  CHECK(m->permissions.host_functions.empty());
  CHECK(m->permissions.network.empty());
}

TEST_CASE("manifest: the voice capability is accepted and reported as not supported") {
  auto m = parse_manifest(replace(full, R"(capabilities = ["tools", "hooks"])", R"(capabilities = ["tools", "voice"])"),
                          "m.toml");
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().message));
  CHECK(m->has(capability::voice));
  CHECK(m->unsupported() == std::vector{capability::voice});
  REQUIRE(m->warnings.size() == 1);
  CHECK(m->warnings[0] == "m.toml:7:26: warning: capability 'voice' is reserved and not supported by this build, ignoring.");
  // A voice-only plugin loads too: never refused for it.
  auto v = parse_manifest(R"(manifest_version = 1
name = "talk"
version = "1.0.0"
publisher = "p"
description = "d"
entry = "t.wasm"
capabilities = ["voice"]
)",
                          "m.toml");
  REQUIRE(v);
  CHECK(v->unsupported() == std::vector{capability::voice});
}

TEST_CASE("manifest: unknown keys are kept and warned about") {
  auto text = replace(full, "entry = ", "homepage = \"https://example.com\"\nentry = ");
  text = replace(text, "export = \"tool_forecast\"", "export = \"tool_forecast\"\nicon = { path = \"i.png\" }");
  text = replace(text, "write = [\"out\"]", "write = [\"out\"]\nmode = 0o600");
  text = replace(text, "time_ms = 2000", "time_ms = 2000\ntime_msec = 3");
  auto m = parse_manifest(text, "m.toml");
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.err().message));
  REQUIRE(m->unknown.size() == 4);
  CHECK(m->unknown[0].key == "homepage");
  CHECK(m->unknown[0].where == "m.toml:6:1");
  CHECK(m->unknown[0].value == "'https://example.com'");  // as toml++ writes it
  CHECK(m->unknown[1].key == "tools.0.icon");
  CHECK(m->unknown[1].value == "{ path = 'i.png' }");
  CHECK(m->unknown[2].key == "permissions.files.mode");
  CHECK(m->unknown[2].value == "0o600");
  CHECK(m->unknown[3].key == "permissions.limits.time_msec");
  REQUIRE(m->warnings.size() == 4);
  CHECK(m->warnings[0] == "m.toml:6:1: warning: unknown key 'homepage' in the manifest's top level, ignoring.");
  CHECK(m->warnings[1] == "m.toml:14:1: warning: unknown key 'icon' in [[tools]] (tool 1), ignoring.");
  CHECK(m->warnings[2] == "m.toml:30:1: warning: unknown key 'mode' in [permissions.files], ignoring.");
  CHECK(m->warnings[3] ==
        "m.toml:43:1: warning: unknown key 'time_msec' in [permissions.limits] (did you mean 'time_ms'?), ignoring.");
  // The known fields are read as before.
  CHECK(m->tools.size() == 2);
  CHECK(m->permissions.limits.time_ms == 2000);
}

TEST_CASE("manifest: unknown permission kinds are errors") {
  CHECK(errors_of(replace(full, "[permissions.env]", "[permissions.sockets]\nraw = true\n\n[permissions.env]")) ==
        "m.toml:33:14: error: unknown permission kind 'sockets'; expected one of: files, network, env, limits, "
        "host_functions");
  CHECK(errors_of(replace(full, "[permissions.files]", "[permissions.file]\nread = []\n\n[permissions.files]")) ==
        "m.toml:25:14: error: unknown permission kind 'file'; expected one of: files, network, env, limits, "
        "host_functions; did you mean 'files'?");
}

TEST_CASE("manifest: each field wrong, with its file:line:column") {
  struct row {
    std::string from, to, error;
  };
  const std::vector<row> rows = {
      {"manifest_version = 1", "manifest_version = 2", "m.toml:1:20: error: manifest_version 2 is newer than this build reads (1)"},
      {"manifest_version = 1", "manifest_version = \"1\"", "m.toml:1:20: error: manifest_version must be an integer, not a string"},
      {"manifest_version = 1", "manifest_version = 0", "m.toml:1:20: error: manifest_version must be 1, not 0"},
      {"manifest_version = 1\n", "", "m.toml:1:1: error: the manifest is missing required key 'manifest_version' (this build reads 1)"},
      {"name = \"weather-tools\"", "name = \"Weather\"",
       "m.toml:2:8: error: name 'Weather' must be 1 to 64 of a-z, 0-9 and '-', without a leading, trailing or double '-'"},
      {"name = \"weather-tools\"", "name = \"a--b\"",
       "m.toml:2:8: error: name 'a--b' must be 1 to 64 of a-z, 0-9 and '-', without a leading, trailing or double '-'"},
      {"name = \"weather-tools\"", "name = 7", "m.toml:2:8: error: the manifest name must be a string, not an integer"},
      {"name = \"weather-tools\"", "name = \"\"", "m.toml:2:8: error: the manifest name must not be empty"},
      {"name = \"weather-tools\"\n", "", "m.toml:1:1: error: the manifest is missing required key 'name'"},
      {"version = \"1.4.0-rc.1+build.7\"", "version = \"1.4\"",
       "m.toml:3:11: error: version '1.4' is not a semantic version (MAJOR.MINOR.PATCH, as in '1.4.0' or '2.0.0-rc.1')"},
      {"version = \"1.4.0-rc.1+build.7\"", "version = \"01.4.0\"",
       "m.toml:3:11: error: version '01.4.0' is not a semantic version (MAJOR.MINOR.PATCH, as in '1.4.0' or '2.0.0-rc.1')"},
      {"version = \"1.4.0-rc.1+build.7\"", "version = \"1.4.0-rc.01\"",
       "m.toml:3:11: error: version '1.4.0-rc.01' is not a semantic version (MAJOR.MINOR.PATCH, as in '1.4.0' or '2.0.0-rc.1')"},
      {"publisher = \"Example Ltd\"", "publisher = [\"x\"]", "m.toml:4:13: error: the manifest publisher must be a string, not an array"},
      {"publisher = \"Example Ltd\"", "publisher = \"a\\nb\"", "m.toml:4:13: error: publisher must not contain control characters"},
      {"description = \"Forecasts from a public weather API\"", "description = \"" + std::string(1025, 'd') + "\"",
       "m.toml:5:15: error: description must be at most 1024 bytes, not 1025"},
      {"entry = \"./bin//weather.wasm\"", "entry = \"/usr/lib/x.wasm\"",
       "m.toml:6:9: error: entry '/usr/lib/x.wasm' is absolute; write it relative to the folder"},
      {"entry = \"./bin//weather.wasm\"", "entry = \"../other/x.wasm\"",
       "m.toml:6:9: error: entry '../other/x.wasm' contains '..'; a path may not lead out of its folder"},
      {"entry = \"./bin//weather.wasm\"", "entry = \"bin/a/../../../x.wasm\"",
       "m.toml:6:9: error: entry 'bin/a/../../../x.wasm' contains '..'; a path may not lead out of its folder"},
      {"entry = \"./bin//weather.wasm\"", "entry = \"weather.so\"",
       "m.toml:6:9: error: entry 'weather.so' must name a .wasm file in the plugin folder"},
      {"entry = \"./bin//weather.wasm\"", "entry = 1", "m.toml:6:9: error: the manifest entry must be a string, not an integer"},
      {"capabilities = [\"tools\", \"hooks\"]", "capabilities = \"tools\"",
       "m.toml:7:16: error: the manifest capabilities must be an array of strings, not a string"},
      {"capabilities = [\"tools\", \"hooks\"]", "capabilities = [\"tools\", \"hook\"]",
       "m.toml:7:26: error: unknown capability 'hook'; expected one of: tools, channel, hooks, voice; did you mean 'hooks'?"},
      {"capabilities = [\"tools\", \"hooks\"]", "capabilities = [\"tools\", 3]",
       "m.toml:7:26: error: the manifest capabilities must contain only strings, not an integer"},
      {"capabilities = [\"tools\", \"hooks\"]", "capabilities = []",
       "m.toml:7:16: error: capabilities must name at least one of: tools, channel, hooks, voice"},
      {"capabilities = [\"tools\", \"hooks\"]", "capabilities = [\"hooks\"]",
       "m.toml:9:1: error: [[tools]] are declared but capabilities does not name 'tools'"},
      {"name = \"forecast\"", "name = \"Forecast\"",
       "m.toml:10:8: error: tools[0] name 'Forecast' must be 1 to 64 of a-z, 0-9 and '_', starting with a letter"},
      {"name = \"alerts\"", "name = \"forecast\"", "m.toml:16:8: error: tools[1] name 'forecast' is declared twice"},
      {"description = \"Weather alerts\"\n", "", "m.toml:15:1: error: tools[1] is missing required key 'description'"},
      {"export = \"tool_forecast\"", "export = \"9x\"",
       "m.toml:12:10: error: tools[0] export '9x' must be 1 to 128 of letters, digits and '_', not starting with a digit"},
      {"input_schema = '{\"type\": \"object\", \"properties\"", "input_schema = '{\"type\": \"object\" \"properties\"",
       "m.toml:13:16: error: tools[0] input_schema is not valid JSON"},
      {"input_schema = '{\"type\": \"object\", \"properties\"", "input_schema = '{\"type\": \"array\", \"properties\"",
       "m.toml:13:16: error: tools[0] input_schema is a tool's input is an object: the schema must have \"type\": \"object\""},
      {"input_schema = '{\"type\"", "input_schema = 5 #", "m.toml:13:16: error: tools[0] input_schema must be a table or a string of JSON, not an integer"},
      {"type = \"object\"\nproperties.region", "type = \"object\"\nwhen = 1979-05-27\nproperties.region",
       "m.toml:18:1: error: tools[1] input_schema is JSON Schema has no date"},
      {"host_functions = [\"log\", \"result\"", "host_functions = [\"log\", \"results\"",
       "m.toml:23:26: error: unknown host function 'results'; expected one of: log, result, file_read, file_write, "
       "http_fetch, kv_get, kv_put, clock; did you mean 'result'?"},
      {"host_functions = [\"log\"", "host_functions = [\"exec\"",
       "m.toml:23:19: error: unknown host function 'exec'; expected one of: log, result, file_read, file_write, "
       "http_fetch, kv_get, kv_put, clock"},
      {"read = [\"data/cities.json\", \"./notes/\"]", "read = [\"data/cities.json\", \"/etc/passwd\"]",
       "m.toml:26:29: error: permissions.files read path '/etc/passwd' is absolute; write it relative to the folder"},
      {"read = [\"data/cities.json\", \"./notes/\"]", "read = [\"../other-agent/secrets\"]",
       "m.toml:26:9: error: permissions.files read path '../other-agent/secrets' contains '..'; a path may not lead out of its folder"},
      {"write = [\"out\"]", "write = [\"\"]", "m.toml:27:10: error: permissions.files write path '' is empty; write '.' for the whole folder"},
      {"write = [\"out\"]", "write = \"out\"", "m.toml:27:9: error: permissions.files write must be an array of strings, not a string"},
      {"[permissions.files]", "[permissions.files]\nexec = 1\n[permissions.x]",
       "m.toml:27:14: error: unknown permission kind 'x'; expected one of: files, network, env, limits, host_functions"},
      {"hosts = [\"api.weather.example\"", "hosts = [\"*\"",
       "m.toml:30:10: error: permissions.network hosts: '*' is not a valid network entry: '*' alone would allow every host; list the hosts the plugin needs"},
      {"hosts = [\"api.weather.example\"", "hosts = [\"https://api.weather.example\"",
       "m.toml:30:10: error: permissions.network hosts: 'https://api.weather.example' is not a valid network entry: write the host alone, "
       "without a scheme or a path, as in 'api.example.com:443'"},
      {"\"*.tiles.example.org:443\"", "\"tiles.*.example.org:443\"",
       "m.toml:30:33: error: permissions.network hosts: 'tiles.*.example.org:443' is not a valid network entry: '*' may only be the whole "
       "leftmost label, as in '*.example.com'"},
      {"\"192.168.1.20:8080\"", "\"192.168.1.20:99999\"",
       "m.toml:30:60: error: permissions.network hosts: '192.168.1.20:99999' is not a valid network entry: '99999' is not a port from 1 to 65535"},
      {"allow_private = [\"10.20.0.0/16\"]", "allow_private = [\"10.20.0.1/16\"]",
       "m.toml:31:18: error: permissions.network allow_private: Failed to parse address block '10.20.0.1/16': host bits are set; did you "
       "mean '10.20.0.0/16'?"},
      {"allow_private = [\"10.20.0.0/16\"]", "allow_private = [\"0.0.0.0/0\"]",
       "m.toml:31:18: error: permissions.network allow_private block '0.0.0.0/0' is wider than /8; name the network the plugin needs"},
      {"UNITS = \"metric\"", "UNITS = 1", "m.toml:34:9: error: permissions.env UNITS must be a string, not an integer"},
      {"UNITS = \"metric\"", "1UNITS = \"metric\"",
       "m.toml:34:1: error: permissions.env name '1UNITS' must be letters, digits and '_', not starting with a digit"},
      {"memory_mib = 32", "memory_mib = 4096", "m.toml:38:14: error: permissions.limits memory_mib must be between 1 and 2048, not 4096"},
      {"memory_mib = 32", "memory_mib = \"32\"", "m.toml:38:14: error: permissions.limits memory_mib must be an integer, not a string"},
      {"time_ms = 2000", "time_ms = 0", "m.toml:39:11: error: permissions.limits time_ms must be between 1 and 120000, not 0"},
      {"instructions = 50000000", "instructions = -1",
       "m.toml:40:16: error: permissions.limits instructions must be between 1000 and 100000000000, not -1"},
      {"result_bytes = 65536", "result_bytes = 1048576",
       "m.toml:41:16: error: permissions.limits result_bytes must be between 1024 and 524288, not 1048576"},
      {"[permissions.limits]", "[[permissions.limits]]", "m.toml:37:1: error: permissions.limits must be a table, not an array"},
      {"[permissions.files]", "[[permissions.files]]", "m.toml:25:1: error: permissions.files must be a table, not an array"},
      {"name = \"weather-tools\"", "name = \"weather-tools",
       "m.toml:2:22: error: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited"},
      {"name = \"weather-tools\"", "name = \"weather-tools\"\nname = \"again\"",
       "m.toml:3:8: error: Error while parsing key-value pair: cannot redefine existing string 'name'"},
  };
  for (auto& r : rows) {
    CAPTURE(r.to);
    CHECK(errors_of(replace(full, r.from, r.to)) == r.error);
  }
}

TEST_CASE("manifest: permissions that are not tables") {
  const char* head = R"(manifest_version = 1
name = "x"
version = "0.1.0"
publisher = "p"
description = "d"
entry = "x.wasm"
capabilities = ["channel"]
)";
  CHECK(errors_of(std::string(head) + "permissions = 1\n") == "m.toml:8:15: error: permissions must be a table, not an integer");
  CHECK(errors_of(std::string(head) + "[permissions]\nlimits = 7\nenv = [\"A=1\"]\n") ==
        "m.toml:9:10: error: permissions.limits must be a table, not an integer\n"
        "m.toml:10:7: error: permissions.env must be a table, not an array");
}

TEST_CASE("manifest: every problem is reported at once, in file order") {
  auto text = replace(full, "name = \"weather-tools\"", "name = \"W\"");
  text = replace(text, "time_ms = 2000", "time_ms = 0");
  text = replace(text, "[permissions.env]", "[permissions.exec]\n[permissions.env]");
  CHECK(errors_of(text) ==
        "m.toml:2:8: error: name 'W' must be 1 to 64 of a-z, 0-9 and '-', without a leading, trailing or double '-'\n"
        "m.toml:33:14: error: unknown permission kind 'exec'; expected one of: files, network, env, limits, host_functions\n"
        "m.toml:40:11: error: permissions.limits time_ms must be between 1 and 120000, not 0");
}

TEST_CASE("manifest: environment values are never substituted from weft's environment") {
  ::setenv("WEFT_PLUGIN_TEST_SECRET", "s3cret", 1);
  auto m = parse_manifest(replace(full, "UNITS = \"metric\"", "UNITS = \"${WEFT_PLUGIN_TEST_SECRET}\""), "m.toml");
  REQUIRE(m);
  CHECK(m->permissions.env.at("UNITS") == "${WEFT_PLUGIN_TEST_SECRET}");
  REQUIRE(m->warnings.size() == 1);
  CHECK(m->warnings[0].rfind("m.toml:34:9: warning: permissions.env UNITS is given to the plugin as written", 0) == 0);
  // Nor any other string.
  auto d = parse_manifest(replace(full, "Example Ltd", "${WEFT_PLUGIN_TEST_SECRET}"), "m.toml");
  REQUIRE(d);
  CHECK(d->publisher == "${WEFT_PLUGIN_TEST_SECRET}");
}

TEST_CASE("manifest: asked-for paths without the host function are warned about") {
  auto m = parse_manifest(replace(full, R"("log", "result", "http_fetch", "file_read", "file_write", "kv_get", "kv_put", "clock")",
                                  R"("log", "result")"),
                          "m.toml");
  REQUIRE(m);
  REQUIRE(m->warnings.size() == 3);
  CHECK(m->warnings[0] ==
        "m.toml:26:8: warning: permissions.files.read is declared but host_functions does not ask for 'file_read', so it "
        "grants nothing, ignoring.");
  CHECK(m->warnings[2].find("'http_fetch'") != std::string::npos);
}

TEST_CASE("manifest: the entry must be a file inside the plugin folder") {
  test::temp_dir tmp("weft-plugin");
  auto dir = tmp.path / "weather";
  write(dir / "bin" / "weather.wasm", std::string("\0asm\x01\0\0\0", 8));
  write(tmp.path / "outside.wasm", "x");
  write(dir / "plugin.toml", full);
  auto ok = load_manifest(dir.string());
  REQUIRE_MESSAGE(ok.has_value(), (ok ? std::string() : ok.err().message));
  CHECK(ok->entry == "bin/weather.wasm");

  auto src = (dir / "plugin.toml").string();
  auto with_entry = [&](const std::string& entry) {
    write(dir / "plugin.toml", replace(full, "entry = \"./bin//weather.wasm\"", "entry = \"" + entry + "\""));
    auto m = load_manifest(dir.string());
    return m ? std::string() : m.err().message;
  };
  // A symlink made here that leads out of the folder.
  fs::create_symlink(tmp.path / "outside.wasm", dir / "escape.wasm");
  CHECK(with_entry("escape.wasm") ==
        fmt::format("{}:6:9: error: entry 'escape.wasm' leads out of the plugin folder (to '{}')", src,
                    fs::canonical(tmp.path / "outside.wasm").string()));
  // A symlinked directory leading out, with the file behind it.
  fs::create_directory_symlink(tmp.path, dir / "up");
  CHECK(with_entry("up/outside.wasm").find("leads out of the plugin folder") != std::string::npos);
  // A symlink inside the folder is fine.
  fs::create_symlink("bin/weather.wasm", dir / "current.wasm");
  CHECK(with_entry("current.wasm").empty());
  // Missing, a dangling link, a directory.
  CHECK(with_entry("missing.wasm").rfind(src + ":6:9: error: entry 'missing.wasm' does not exist in the plugin folder", 0) == 0);
  fs::create_symlink(tmp.path / "nothing.wasm", dir / "dangling.wasm");
  CHECK(with_entry("dangling.wasm").find("does not exist in the plugin folder") != std::string::npos);
  fs::create_directories(dir / "dir.wasm");
  CHECK(with_entry("dir.wasm") == src + ":6:9: error: entry 'dir.wasm' is not a regular file");
  // plugin.toml itself may not be a symlink (O_NOFOLLOW), nor too large.
  fs::remove(dir / "plugin.toml");
  write(tmp.path / "real.toml", full);
  fs::create_symlink(tmp.path / "real.toml", dir / "plugin.toml");
  auto link = load_manifest(dir.string());
  REQUIRE_FALSE(link);
  CHECK(link.err().message.rfind("Failed to read plugin manifest '" + src + "': ", 0) == 0);
  fs::remove(dir / "plugin.toml");
  write(dir / "plugin.toml", std::string(max_manifest_bytes + 1, '#'));
  auto big = load_manifest(dir.string());
  REQUIRE_FALSE(big);
  CHECK(big.err().message.find("larger than") != std::string::npos);
}

TEST_CASE("manifest: workspace_relative and valid_semver") {
  CHECK(*workspace_relative(".") == ".");
  CHECK(*workspace_relative("./") == ".");
  CHECK(*workspace_relative("a//b/./c/") == "a/b/c");
  CHECK(*workspace_relative("..foo/bar..") == "..foo/bar..");
  CHECK_FALSE(workspace_relative("a/.."));
  CHECK_FALSE(workspace_relative("/a"));
  CHECK_FALSE(workspace_relative(std::string("a\0b", 3)));
  for (auto v : {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
                 "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3--117B344092BD", "1.0.0+001"})
    CHECK_MESSAGE(valid_semver(v), v);
  for (auto v : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b",
                 "1.2.3-a_b", "v1.2.3", " 1.2.3", "1.2.-3"})
    CHECK_MESSAGE(!valid_semver(v), v);
}
