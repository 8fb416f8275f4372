// Which plugins and skills of an agent get a socket of their own at the egress, and with
// what list: plugins from the admin's tree, skills from the built-in, shared and workspace
// folders; a workspace skill cannot declare a non-public address.
#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "services/egress/scopes.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

void plugin_at(const fs::path& dir, const std::string& name, const std::string& network) {
  fs::create_directories(dir);
  std::ofstream(dir / "p.wasm") << "";
  std::ofstream(dir / "plugin.toml") << "manifest_version = 1\nname = \"" << name
                                      << "\"\nversion = \"1.0.0\"\npublisher = \"t\"\ndescription = \"d\"\n"
                                         "entry = \"p.wasm\"\ncapabilities = [\"tools\"]\n"
                                         "[[tools]]\nname = \"t\"\ndescription = \"d\"\nexport = \"t\"\n"
                                      << network;
}

void skill_at(const fs::path& dir, const std::string& name, const std::string& network) {
  fs::create_directories(dir / name);
  std::ofstream(dir / name / "SKILL.md") << "---\nname: " << name << "\ndescription: d\n" << network << "---\nbody\n";
}

}  // namespace

TEST_CASE("scopes_of: plugins with hosts and skills with network entries, each its own socket") {
  weft::test::temp_dir t{"weft-egress-scopes"};
  auto home = t.path / "home";
  auto ws = t.path / "ws";
  auto plugins = home / "plugins" / "a";
  plugin_at(plugins / "fetcher", "fetcher", "[permissions]\nhost_functions = [\"http_fetch\"]\n[permissions.network]\nhosts = [\"api.example.com\", \"127.0.0.1:8080\"]\n");
  plugin_at(plugins / "quiet", "quiet", "");                  // no hosts: no socket
  plugin_at(plugins / ".installing", "installing", "[permissions.network]\nhosts = [\"x.example\"]\n");  // hidden
  plugin_at(plugins / "off", "off", "[permissions.network]\nhosts = [\"x.example\"]\n");
  std::ofstream(plugins / "off" / "DISABLED") << "by the admin";
  plugin_at(plugins / "broken", "broken", "[permissions.network]\nhosts = 7\n");
  skill_at(home / "skills", "weather", "network: [api.weather.example, \"127.0.0.1:9000\"]\n");
  skill_at(home / "skills", "plain", "");
  skill_at(ws / "skills", "mine", "network: [\"api.mine.example\", \"127.0.0.1:8780\", \"169.254.169.254\"]\n");
  skill_at(ws / "skills", "bad", "network: [\"http://x/\"]\n");

  std::vector<std::string> warnings;
  auto got = egress::scopes_of(home.string(), "a", ws.string(), warnings);
  std::map<std::string, std::vector<std::string>> by;
  for (auto& s : got) {
    for (auto& h : s.list->hosts) by[s.label + " " + s.file].push_back(h.text());
  }
  CHECK(by == std::map<std::string, std::vector<std::string>>{
                  {"plugin:fetcher plugin-fetcher.sock", {"api.example.com", "127.0.0.1:8080"}},
                  {"skill:weather skill-weather.sock", {"api.weather.example", "127.0.0.1:9000"}},
                  {"skill:mine skill-mine.sock", {"api.mine.example"}}});
  std::string all;
  for (auto& w : warnings) all += w + "\n";
  CHECK(all.find("plugin 'broken' of agent 'a': ") != std::string::npos);
  CHECK(all.find("skill 'mine' of agent 'a': network entry '127.0.0.1:8780' names 127.0.0.1 (loopback") != std::string::npos);
  CHECK(all.find("'169.254.169.254' names 169.254.169.254") != std::string::npos);
  CHECK(all.find("plugin 'fetcher'") == std::string::npos);
  CHECK(all.find("skill 'bad' of agent 'a': network entry 'http://x/'") != std::string::npos);
  CHECK(all.find("its commands get no network") != std::string::npos);
}
