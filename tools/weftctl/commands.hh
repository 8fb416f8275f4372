#pragma once
/// weftctl's verbs. Each takes the global options and its arguments, already parsed and
/// checked by the command line (cli_app.cc), and returns the process exit code (0 ok,
/// 1 failure, 2 usage).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <weft/base/time.hh>
#include <weft/ipc/bus_client.hh>

#include "proto/memory_v1.hh"

namespace weft::ctl {

struct options {
  std::string runtime_dir;  ///< resolved
  bool json = false;
  unsigned timeout_ms = 30000;
};

/// Prints `msg` to stderr; returns exit code 1.
int failure(const std::string& msg);
/// A bus connection as ctl/<pid>, with credentials weftd issues over the control socket.
result<std::unique_ptr<ipc::bus_client>> join_bus(zmq::context_t& ctx, const options& o);

/// Sends a forced install's record (Memory.v1 SkillInstalled, PluginInstalled: `type` and
/// its encoded `payload`) to memory, once — a resent request would be recorded twice — and
/// waits until the witness chain has it. Its sequence number, or a sentence saying why not,
/// ending "nothing was installed" (the caller installs nothing then).
result<std::uint64_t> record_forced_install(const options& o, std::string_view type, std::string payload);

/// What weftd runs on, from its Status.
struct weftd_view {
  std::string config;       ///< the config file; empty: its built-in default
  std::string runtime_dir;  ///< its runtime directory
  std::string home;         ///< its state directory ($WEFT_HOME); empty from a weftd before this field
};
result<weftd_view> ask_weftd(const options& o);

int cmd_status(const options& o);
int cmd_control(const options& o, const std::string& action, const std::vector<std::string>& services);
int cmd_reload(const options& o);
int cmd_config_check(const options& o, const std::string& file);
/// call ADDRESS TYPE PAYLOAD: `payload` is the request as msgpack, converted from JSON by the parser.
int cmd_call(const options& o, const std::string& address, const std::string& type, const std::string& payload);
int cmd_trace(const options& o, const std::string& target, long count);
int cmd_peers(const options& o);
int cmd_log_level(const options& o, const std::string& target, const std::string& spec);

/// route explain: the identifiers of a message (tools/weftctl/route.cc).
struct route_args {
  std::string channel;
  std::map<std::string, std::string> meta;  ///< match keys, e.g. user_id (from --user-id)
  std::string text;                         ///< --text: the message, for [delegation.routing_rules]
};
int cmd_route_explain(const options& o, const route_args& a);
/// route explain --text: the [delegation.routing_rules] rule the text matches (delegate.cc).
int cmd_route_explain_text(const options& o, const std::string& text);
/// delegate status --agent ID: the agent's Claude Code delegate, asked of its process.
int cmd_delegate_status(const options& o, const std::string& agent);

/// chat: Chat.v1.Turn straight to agent/<ID>, streamed (tools/weftctl/chat.cc).
struct chat_args {
  std::string agent = "main";
  std::optional<std::string> message;  ///< -m; without it, one turn per line of stdin
};
int cmd_chat(const options& o, const chat_args& a);

/// memory search|put|stats|export|import|forget|wipe (tools/weftctl/memory.cc).
struct memory_args {
  std::string agent;               ///< --agent: the namespace (import: from the snapshot when empty)
  std::vector<std::string> words;  ///< search QUERY…, put TEXT…, forget ENTRY-ID…
  std::string file;                ///< export -o FILE, import FILE
  std::uint32_t k = 10;
  proto::memory_v1::mode mode = proto::memory_v1::mode::hybrid;
  std::string session;
  std::vector<std::string> tags;
  std::vector<proto::memory_v1::kind> kinds;
  std::optional<utc_time> since, until;
  bool mmr = false, replace = false;
};
int cmd_memory_search(const options& o, const memory_args& a);
int cmd_memory_put(const options& o, const memory_args& a);
int cmd_memory_stats(const options& o, const memory_args& a);
int cmd_memory_export(const options& o, const memory_args& a);
int cmd_memory_import(const options& o, const memory_args& a);
int cmd_memory_forget(const options& o, const memory_args& a);
int cmd_memory_wipe(const options& o, const memory_args& a);

/// audit verify|show (tools/weftctl/audit.cc): read from the files, no running weft needed.
struct audit_args {
  std::string dir;       ///< empty: $WEFT_HOME/audit
  std::string key;       ///< verify: empty means DIR/witness.pub
  std::size_t last = 20;  ///< show: 0 for all
};
int cmd_audit_verify(const options& o, const audit_args& a);
int cmd_audit_show(const options& o, const audit_args& a);

/// llm policy [set|clear] (tools/weftctl/llm.cc).
struct llm_policy_args {
  std::string agent;
  std::string tier;
  std::vector<std::string> disable;
};
int cmd_llm_policy_show(const options& o);
int cmd_llm_policy_set(const options& o, const llm_policy_args& a);
int cmd_llm_policy_clear(const options& o, const llm_policy_args& a);

/// auth list|status|login|logout|grant|revoke (tools/weftctl/auth.cc).
struct auth_args {
  std::string provider, account, agent;
  std::vector<std::string> scopes;
  bool device = false;  ///< login: the device flow
  bool keep = false;    ///< logout: do not revoke at the provider
};
int cmd_auth_list(const options& o);
/// One account (or all, `a.account` empty) with the grants of it.
int cmd_auth_status(const options& o, const auth_args& a);
int cmd_auth_login(const options& o, const auth_args& a);
int cmd_auth_logout(const options& o, const auth_args& a);
int cmd_auth_grant(const options& o, const auth_args& a);
int cmd_auth_revoke(const options& o, const auth_args& a);

/// security scan|explain (tools/weftctl/security.cc): read from the files, no running weft needed.
struct security_args {
  std::vector<std::string> paths;  ///< scan: skill or plugin folders or files
  bool installed = false;          ///< scan: the installed skill folders
  bool config = false;             ///< scan: the configuration and $WEFT_HOME's permissions
  bool runtime = false;            ///< scan: what the running weftd reports (scan/runtime.hh)
  std::string config_file;         ///< --config-file; "": the one weftd would read
  std::string home;                ///< --home; "": $WEFT_HOME (as weftd resolves it)
  std::string severity = "high";   ///< exit 1 at findings of this severity or worse
  bool fix = false, yes = false;   ///< --fix plans permission fixes; with --yes makes them
  std::string id;                  ///< explain ID
  bool all = false, markdown = false;
  std::string agent;               ///< release AGENT
  std::uint32_t recent = 20;       ///< monitor --recent: alerts shown
};
int cmd_security_scan(const options& o, const security_args& a);
int cmd_security_explain(const options& o, const security_args& a);
/// security monitor|release (tools/weftctl/security_monitor.cc): the running monitor and bus.
int cmd_security_monitor(const options& o, const security_args& a);
int cmd_security_release(const options& o, const security_args& a);

/// skill install|list|remove (tools/weftctl/skill.cc): skills where agents find them,
/// scanned before they are installed.
struct skill_args {
  std::string path;      ///< install PATH: the skill folder
  std::string name;      ///< remove NAME
  std::string agent;     ///< --agent: that agent's <workspace>/skills; "": $WEFT_HOME/skills
  std::string severity;  ///< --severity; "": [security] install_severity
  bool force = false;    ///< install despite findings at or above the severity (recorded)
  std::string reason;    ///< --reason, required with --force
  bool replace = false;  ///< overwrite an installed skill of the same name
};
int cmd_skill_install(const options& o, const skill_args& a);
int cmd_skill_list(const options& o, const skill_args& a);
int cmd_skill_remove(const options& o, const skill_args& a);

/// plugin list|info|explain (tools/weftctl/plugin.cc): the WASM plugins in agents'
/// <home>/plugins/<agent>, read from disk (weftd need not run). install|remove|enable|disable
/// (plugin_manage.cc) change that folder and restart the agent's plugin host when weftd runs
/// it; build (plugin_build.cc) compiles a plugin's source with the Debian toolchains.
struct plugin_args {
  std::string name;     ///< info/explain/remove/enable/disable NAME
  std::string agent;    ///< --agent: only this agent's plugins (install: the agent it is for)
  std::string path;     ///< install SOURCE, build DIR
  std::string out;      ///< build -o OUT.wasm; "": the manifest's entry in DIR
  std::string reason;   ///< disable --reason; install --reason (with --force)
  std::string severity; ///< install --severity; "": [security] install_severity
  bool force = false;   ///< install despite findings at or above the severity (recorded)
  bool replace = false; ///< install --replace: swap out an installed plugin of the same name
  bool purge = false;   ///< remove --purge: also delete <workspace>/.plugin-data/<name>
};
int cmd_plugin_list(const options& o, const plugin_args& a);
int cmd_plugin_info(const options& o, const plugin_args& a);
int cmd_plugin_explain(const options& o, const plugin_args& a);
int cmd_plugin_install(const options& o, const plugin_args& a);
int cmd_plugin_remove(const options& o, const plugin_args& a);
int cmd_plugin_enable(const options& o, const plugin_args& a);
int cmd_plugin_disable(const options& o, const plugin_args& a);
int cmd_plugin_build(const options& o, const plugin_args& a);

/// mcp add (tools/weftctl/mcp.cc).
struct mcp_add_args {
  std::string name;
  std::vector<std::string> command;  ///< COMMAND [ARG]… or a single URL
  std::map<std::string, std::string> env, headers;
  std::string cwd;
  std::string era = "auto";
  bool disabled = false, no_wait = false;
};
/// The rule of [tools.mcp_servers.<name>] keys: 1 to 32 of a-z, 0-9 and '-', not starting with '-'.
bool valid_mcp_server_name(std::string_view name);
bool is_url(std::string_view s);
int cmd_mcp_add(const options& o, const mcp_add_args& a);
int cmd_mcp_list(const options& o);
int cmd_mcp_remove(const options& o, const std::string& name);
/// mcp serve: weft's MCP server on stdio, relayed over the bus (tools/weftctl/mcp_serve.cc).
int cmd_mcp_serve(const options& o);
/// mcp info: how to connect an IDE or Claude Code to weft (tools/weftctl/mcp_serve.cc).
int cmd_mcp_info(const options& o);

}  // namespace weft::ctl
