// weftctl's command tree on CLI11: each command with its help text, arguments, options and
// the checks that span options; what it runs is in the command files (commands.hh).
#include "cli_app.hh"

#include <climits>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include <weft/base/time.hh>
#include <weft/service/main.hh>
#include <weft/wire/codec.hh>

namespace weft::ctl {

namespace mem = weft::proto::memory_v1;

namespace {

constexpr const char* top_description =
    "Administer a running weft (weftd): its services, the bus, agents' memory, the audit chain,\n"
    "the llm routing policy and MCP servers.";

constexpr const char* top_notes =
    "Logging: weftctl logs warnings and errors to stderr (level 'warn'); -v/--verbose shows\n"
    "debug messages, -q/--quiet only errors. $WEFT_LOG (e.g. \"debug,bus=trace\") sets the\n"
    "levels when neither is given.\n"
    "\n"
    "Exit codes: 0 ok, 1 failure (also an error answer from weft), 2 usage error or invalid\n"
    "config. Every command has its own help: weftctl COMMAND --help.\n"
    "Shell completion: source <(weftctl completion bash)";

constexpr const char* memory_description =
    "An agent's memory, served by the memory service. Every command needs --agent ID (the\n"
    "namespace) except import, which can take it from the snapshot.";

constexpr const char* audit_description =
    "The witness chain: the tamper-evident record of agent actions (tool calls, routing\n"
    "decisions, memory writes, denials) that the memory service signs. Read from the files;\n"
    "weft need not be running.";

constexpr const char* audit_notes =
    "Environment: WEFT_HOME (state directory; else $STATE_DIRECTORY, else ~/.clawft).\n"
    "Format and trust model: docs/audit.md.";

constexpr const char* llm_description =
    "The llm service's runtime tier-routing policy: per-agent overrides that take precedence\n"
    "over the agent's configured tier (or model), below a tier or model named in a request\n"
    "itself. The llm service keeps it in $WEFT_HOME/llm/policy.json, so it survives restarts.";

constexpr const char* llm_notes =
    "Tiers are the [[llm.tiers]] of the configuration; an unknown tier or agent is refused.";

constexpr const char* mcp_description =
    "MCP servers for your agents (weft connects to them; their tools appear as <name>__<tool>),\n"
    "and weft as an MCP server for VS Code, Claude Code and other MCP clients.";

constexpr const char* mcp_notes =
    "add and remove change the config file weftd runs on and reload it: nothing else restarts.\n"
    "When weftd runs on its built-in default, add first writes that default to\n"
    "$WEFT_HOME/clawft.toml (or ~/.clawft/clawft.toml) so there is a file to keep the server in.";

constexpr const char* mcp_add_description =
    "Add an MCP server for the agents: a command speaking MCP on stdio, or a Streamable HTTP\n"
    "server (http:// or https://). Everything after the COMMAND belongs to it, options included.";

constexpr const char* mcp_add_notes =
    "The server is written to the config file weftd runs on, weftd reloads, and weftctl waits\n"
    "until the server is connected (or failed; weft keeps retrying with backoff).\n"
    "\n"
    "Examples:\n"
    "  weftctl mcp add everything -- npx -y @modelcontextprotocol/server-everything stdio\n"
    "  weftctl mcp add files --env ROOT=/srv -- mcp-fs --readonly\n"
    "  weftctl mcp add remote https://mcp.example.com/mcp --header \"Authorization: Bearer $T\"";

constexpr const char* mcp_serve_description =
    "Speak MCP (newline-delimited JSON-RPC) on stdin/stdout, relayed over weft's bus to its MCP\n"
    "server (weft-mcp at agent/<[mcp] agent>/mcp). stdout carries only protocol messages;\n"
    "diagnostics go to stderr. When stdin ends, the answers to every request already read are\n"
    "still written, then it exits 0; it exits 1 when the server ends the session, goes away or\n"
    "cannot be reached.";

constexpr const char* mcp_serve_notes =
    "For MCP clients that start a command, e.g.\n"
    "  claude mcp add weft -- weftctl mcp serve\n"
    "It serves the config weftd runs on. Environment: WEFT_RUNTIME_DIR (where weftd runs).";

constexpr const char* security_description =
    "Scan skills and plugins for prompt injection, hidden text, fetch-and-run, credential theft,\n"
    "exfiltration, persistence and destructive commands; audit weft's configuration and the\n"
    "permissions of $WEFT_HOME (scan, explain). Files are read as data: nothing is run, fetched\n"
    "or unpacked, and weft need not be running; when it runs, scan also checks how weftd runs its\n"
    "tool processes (sandboxes, changes not reloaded, quarantines). Watch running agents\n"
    "(monitor, release): the security monitor's counters and alerts, the agents the bus holds in\n"
    "quarantine or throttles, and lifting a quarantine or throttle; these ask the running weft\n"
    "(the monitor runs when [security.monitor] enabled).";

constexpr const char* skill_description =
    "Skills (SKILL.md folders) where agents find them: $WEFT_HOME/skills for every agent, or an\n"
    "agent's <workspace>/skills. install scans a folder first (weftctl security scan's checks) and\n"
    "refuses findings at or above the install severity unless forced, which the witness chain\n"
    "records.";

constexpr const char* skill_notes =
    "Where: the installation weftd runs (its config and $WEFT_HOME), or when weftd is not running\n"
    "the config and $WEFT_HOME weftd would use. Agents see a change within seconds; nothing\n"
    "restarts. The skill format: docs/guides/skill-format.md; the scan: docs/guides/security.md.";

constexpr const char* security_notes =
    "Every finding has a check id; weftctl security explain ID says what it means and how to fix\n"
    "it. The checks, the JSON schema and what is not built yet: docs/guides/security.md.";

bool not_empty(const std::string& v) { return !v.empty(); }

bool is_time(const std::string& v) { return static_cast<bool>(parse_rfc3339(v)); }

}  // namespace

/// Builds the tree; each command's callback binds `inv.run` to it. Holds the text values
/// that callbacks turn into typed ones, so it lives as long as the parser.
class command_tree {
 public:
  command_tree(CLI::App& root, cli::help_formatter& fmt, invocation& inv, std::vector<cli::trailing_command>& trailing)
      : _root(root), _fmt(fmt), _inv(inv), _trailing(trailing) {}

  void build() {
    globals();
    service_commands();
    bus_commands();
    route();
    delegate();
    chat();
    memory();
    audit();
    llm();
    auth();
    mcp();
    security();
    skill();
    plugin();
    completion();
  }

 private:
  CLI::App& _root;
  cli::help_formatter& _fmt;
  invocation& _inv;
  std::vector<cli::trailing_command>& _trailing;
  // Strings that arrive as text and are turned into typed values by a command's callback.
  std::vector<std::string> _kinds, _env, _headers;
  std::string _since, _until, _json = "{}";
  bool _yes = false;                   // memory wipe --yes
  CLI::App* _route_explain = nullptr;  // its leftover words are the match keys

  CLI::App* group(CLI::App* parent, const std::string& name, const std::string& description, cli::command_text text) {
    auto* g = parent->add_subcommand(name, description);
    g->require_subcommand(1);
    _fmt.describe(g, std::move(text));
    // `weftctl memory help` as `weftctl memory --help`, as it always was.
    command(g, "help", "print the help of '" + name + "'", {}, [this, g] {
      std::cout << _fmt.make_help(g, "", CLI::AppFormatMode::Normal);
      return 0;
    })->group("");
    return g;
  }

  /// A command that runs `run`, after `check` (which throws usage errors) passes.
  CLI::App* command(CLI::App* parent, const std::string& name, const std::string& description, cli::command_text text,
                    std::function<int()> run, std::function<void()> check = {}) {
    auto* c = parent->add_subcommand(name, description);
    _fmt.describe(c, std::move(text));
    c->callback([this, c, run = std::move(run), check = std::move(check)] {
      if (check) check();
      _inv.command = cli::command_path(c);
      _inv.run = run;
    });
    return c;
  }

  void globals() {
    auto& o = _inv.globals;
    _root.add_flag("--json", o.json, "machine-readable output");
    _root.add_option("--runtime-dir", _inv.runtime_arg, "weftd's runtime directory (default as weftd; else /run/weft, the unit's)")
        ->type_name("DIR")
        ->check(cli::needs("a directory", not_empty));
    _root.add_option("--timeout", o.timeout_ms, "how long to wait for answers (default 30000)")
        ->type_name("MS")
        ->check(cli::number_in(1, 86400000, "a positive number of milliseconds"));
    auto* v = _root.add_flag("-v,--verbose", _inv.verbose, "log debug messages too (default: warnings and errors)");
    auto* q = _root.add_flag("-q,--quiet", _inv.quiet, "log errors only");
    v->excludes(q);
    // `trace`'s option, also accepted before the command as it always was.
    _root.add_option("--count", _inv.count)->group("")->check(cli::number_in(1, LONG_MAX, "a positive number"));
    _root.set_version_flag("--version", fmt::format("{} {}", _fmt.program(), service::version()), "print the version");
    _root.set_help_flag("-h,--help", "this help");
  }

  void service_commands() {
    auto run_control = [this](std::string action) {
      return [this, action] { return cmd_control(_inv.globals, action, _inv.services); };
    };
    command(&_root, "status", "services, their state, pid, restarts and last exit",
            {"status", "", "Exit code 1 when a service is neither ready nor stopped."},
            [this] { return cmd_status(_inv.globals); });
    for (std::string action : {"start", "stop", "restart"}) {
      auto* c = command(
          &_root, action, "act on services; waits until done",
          {action + " SERVICE…", "start|stop|restart SERVICE…", fmt::format("Example:\n  weftctl {} chan-web", action)},
          run_control(action));
      c->add_option("SERVICE", _inv.services, "service names, as in weftctl status")->required()->type_name("NAME");
      if (action != "start") c->group("");  // listed once, as start|stop|restart
    }
    command(&_root, "reload", "re-read the config; apply only what changed",
            {"reload", "",
             "Services whose settings changed restart; the others keep running. An invalid file\n"
             "changes nothing and is reported with its file:line:column."},
            [this] { return cmd_reload(_inv.globals); });
    auto* config = group(&_root, "config", "validate a config without starting anything",
                         {"config check [FILE]", "config check [FILE]", ""});
    auto* check = command(config, "check", "validate a config without starting anything",
                          {"config check [FILE]", "",
                           "Without FILE: the file weftd would read ($WEFT_CONFIG, $WEFT_HOME/clawft.toml,\n"
                           "~/.clawft/clawft.toml, /etc/weft/clawft.toml, else the built-in default).\n"
                           "Exit code 2 when it is invalid."},
                          [this] { return cmd_config_check(_inv.globals, _inv.file); });
    check->add_option("FILE", _inv.file, "the config file")->type_name("FILE");
  }

  void bus_commands() {
    auto* call = command(
        &_root, "call", "send one request on the bus and print the reply",
        {"call ADDRESS TYPE [JSON]", "",
         "Example:\n  weftctl call echo/1 io.weft.test.Echo.v1.Echo '{\"text\":\"hi\"}'"},
        [this] { return cmd_call(_inv.globals, _inv.address, _inv.type, _inv.payload); },
        [this] {
          auto p = wire::from_json(_json);
          if (!p) cli::usage(fmt::format("payload is {}", p.err().message));
          _inv.payload = std::move(*p);
        });
    call->add_option("ADDRESS", _inv.address, "the bus address, e.g. echo/1")->required();
    call->add_option("TYPE", _inv.type, "the request's message type")->required();
    call->add_option("JSON", _json, "the request's fields (default {})");
    command(&_root, "peers", "peers connected to the bus", {"peers", "", ""},
            [this] { return cmd_peers(_inv.globals); });
    auto* trace = command(&_root, "trace", "print decoded bus traffic to and from it",
                          {"trace SERVICE|ADDRESS [--count N]", "", "Ctrl-C stops it."},
                          [this] { return cmd_trace(_inv.globals, _inv.target, _inv.count); });
    trace->add_option("SERVICE|ADDRESS", _inv.target, "a service name from weftctl status, or a bus address")
        ->required();
    trace->add_option("--count", _inv.count, "stop after N messages (exit 1 if fewer came within --timeout)")
        ->type_name("N")
        ->check(cli::number_in(1, LONG_MAX, "a positive number"));
    auto* ll = command(&_root, "log-level", "change a service's log levels now",
                       {"log-level ADDRESS SPEC", "", "Example:\n  weftctl log-level bus debug,bus=trace"},
                       [this] { return cmd_log_level(_inv.globals, _inv.address, _inv.spec); });
    ll->add_option("ADDRESS", _inv.address, "the service's bus address, e.g. agent/main or bus")->required();
    ll->add_option("SPEC", _inv.spec, "levels: a default, then ,<logger>=<level> items (trace … error, off)")
        ->required();
  }

  void route() {
    auto* r = group(&_root, "route", "which agent a message goes to, and why",
                    {"route explain (--channel C [--user-id ID] [--chat-id ID] [--KEY VALUE]… | --text TEXT)",
                     "route explain (--channel C … | --text TEXT)", ""});
    auto* ex = command(
        r, "explain", "which agent a message goes to, or which delegation rule its text matches, and why",
        {"route explain (--channel C [--user-id ID] [--chat-id ID] [--KEY VALUE]… | --text TEXT)", "",
         "--channel asks the router which agent a message with these identifiers goes to. Any other\n"
         "--KEY VALUE is a match key of [[agent_routes]] (--some-key is some_key).\n"
         "--text shows the [delegation.routing_rules] rule the message text matches (first match,\n"
         "case-insensitive) in the config weftd runs on: flow (Claude Code does it), local (the\n"
         "model, without delegate_to_claude) or none (the model decides).\n"
         "\nExamples:\n  weftctl route explain --channel telegram --user-id 12345\n"
         "  weftctl route explain --text \"refactor the parser\""},
        [this] { return cmd_route_explain(_inv.globals, _inv.route); },
        [this] {
          route_keys(*_route_explain);
          if (_inv.route.channel.empty() && _inv.route.text.empty())
            cli::usage("route explain needs --channel C (which agent) or --text TEXT (which delegation rule)");
        });
    _route_explain = ex;
    ex->add_option("--channel", _inv.route.channel, "the channel the message came in on")
        ->type_name("C")
        ->check(cli::needs("a channel name", not_empty));
    ex->add_option("--text", _inv.route.text, "the message text, for [delegation.routing_rules]")
        ->type_name("TEXT")
        ->check(cli::needs("a message text", not_empty));
    ex->add_option("--user-id", _inv.route.meta["user_id"], "the sender's id on that channel")->type_name("ID");
    ex->add_option("--chat-id", _inv.route.meta["chat_id"], "the chat's id on that channel")->type_name("ID");
    // Match keys are open-ended: unknown --KEY VALUE pairs are kept for the callback, so the
    // global options must be known here too (hidden; they set the same values).
    ex->allow_extras()->fallthrough(false);
    ex->add_flag("--json", _inv.globals.json)->group("");
    ex->add_option("--runtime-dir", _inv.runtime_arg)->group("");
    ex->add_option("--timeout", _inv.globals.timeout_ms)
        ->group("")
        ->check(cli::number_in(1, 86400000, "a positive number of milliseconds"));
    ex->add_flag("-v,--verbose", _inv.verbose)->group("");
    ex->add_flag("-q,--quiet", _inv.quiet)->group("");
  }
  void route_keys(const CLI::App& ex) {
    auto extra = ex.remaining();
    for (auto it = _inv.route.meta.begin(); it != _inv.route.meta.end();)
      it = it->second.empty() ? _inv.route.meta.erase(it) : std::next(it);
    for (std::size_t i = 0; i < extra.size(); ++i) {
      std::string key = extra[i], value;
      if (key.rfind("--", 0) != 0 || key.size() < 3)
        cli::usage(fmt::format("unexpected '{}'; use --channel C --KEY VALUE", key));
      if (auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key.resize(eq);
      } else if (i + 1 < extra.size()) {
        value = extra[++i];
      } else {
        cli::usage(fmt::format("{} needs a value", key));
      }
      key = key.substr(2);
      for (auto& c : key)
        if (c == '-') c = '_';  // --user-id is the match key user_id
      _inv.route.meta[key] = value;
    }
  }

  void delegate() {
    auto* g = group(&_root, "delegate", "Claude Code as a delegate of the agents",
                    {"delegate status [--agent ID]", "delegate status [--agent ID]", ""});
    auto* st = command(g, "status", "whether an agent's Claude Code delegate can run: path, version, auth, last probe",
                       {"delegate status [--agent ID]", "",
                        "Asks the agent's delegate process (tool/delegate/<ID>), which probes `claude --version`\n"
                        "when its last answer is older than 10 minutes (30 s after a failure).\n"
                        "Exit status 1 when Claude Code is not usable. See docs/guides/delegation.md.\n"
                        "\nExample:\n  weftctl delegate status --agent main"},
                       [this] { return cmd_delegate_status(_inv.globals, _inv.delegate_agent); });
    st->add_option("-a,--agent", _inv.delegate_agent, "the agent (default main)")
        ->type_name("ID")
        ->check(cli::needs("an agent id", not_empty));
  }

  void chat() {
    auto* c = command(&_root, "chat", "talk to an agent, replies streamed",
                      {"chat [--agent ID] [-m TEXT]", "chat [--agent ID] [-m TEXT]",
                       "Without -m: one turn per line read from stdin (prompt 'you> ' on a terminal; /quit ends).\n"
                       "The session is cli:<user>. A turn waits up to 10 minutes unless --timeout is given.\n"
                       "\nExample:\n  weftctl chat -m \"hello\""},
                      [this] { return cmd_chat(_inv.globals, _inv.chat); });
    c->add_option("--agent", _inv.chat.agent, "the agent to talk to (default main)")
        ->type_name("ID")
        ->check(cli::needs("an agent id", not_empty));
    c->add_option("-m,--message", _inv.chat.message, "one message; print the answer and exit")->type_name("TEXT");
  }

  /// --agent on a memory command.
  void agent_option(CLI::App* c, bool required, const std::string& what = "the agent (its memory namespace)") {
    auto* o = c->add_option("-a,--agent", _inv.memory.agent, what)
                  ->type_name("ID")
                  ->check(cli::needs("an agent id", not_empty));
    if (required) o->required();
  }

  void filters(CLI::App* c, bool search) {
    c->add_option("--tag", _inv.memory.tags,
                  search ? "only entries carrying T (repeatable: all must match)" : "a tag (repeatable)")
        ->type_name("T")
        ->allow_extra_args(false);
    c->add_option("--kind", _kinds,
                  search ? "only note, message or summary (repeatable)" : "note (default), message or summary")
        ->type_name("K")
        ->allow_extra_args(false)
        ->check(cli::one_of({"note", "message", "summary"}));
    c->add_option("--session", _inv.memory.session, search ? "only this session" : "the session it belongs to")
        ->type_name("KEY");
  }

  /// Turns the text options of a memory command into typed values.
  void memory_values() {
    for (auto& k : _kinds)
      _inv.memory.kinds.push_back(k == "note"      ? mem::kind::note
                                  : k == "message" ? mem::kind::message
                                                   : mem::kind::summary);
    if (!_since.empty()) _inv.memory.since = parse_rfc3339(_since).value();
    if (!_until.empty()) _inv.memory.until = parse_rfc3339(_until).value();
  }

  void memory() {
    auto* m = group(
        &_root, "memory", "an agent's memory (weftctl memory --help)",
        {"memory COMMAND [OPTIONS]", "memory search|put|stats|export|import|forget|wipe …", "", memory_description});
    auto& a = _inv.memory;
    auto memory_cmd = [&](const std::string& name, const std::string& description, cli::command_text text,
                          int (*run)(const options&, const memory_args&), std::function<void()> check = {}) {
      return command(
          m, name, description, std::move(text), [this, run] { return run(_inv.globals, _inv.memory); },
          [this, check = std::move(check)] {
            memory_values();
            if (check) check();
          });
    };

    auto* search =
        memory_cmd("search", "find entries by meaning and keywords",
                   {"memory search --agent ID [OPTIONS] QUERY…", "",
                    "Example:\n  weftctl memory search --agent main --since 2026-11-01T00:00:00Z \"the deploy\""},
                   cmd_memory_search);
    agent_option(search, true);
    search->add_option("QUERY", a.words, "what to look for (several words are one query)")->required();
    search->add_option("-k", a.k, "number of hits (default 10, at most 100)")
        ->type_name("N")
        ->check(cli::number_in(1, 100, "a number from 1 to 100"));
    search
        ->add_option_function<std::string>(
            "--mode",
            [&a](const std::string& v) {
              a.mode = v == "keyword" ? mem::mode::keyword : v == "vector" ? mem::mode::vector : mem::mode::hybrid;
            },
            "hybrid (default), keyword or vector")
        ->type_name("M")
        ->check(cli::one_of({"hybrid", "keyword", "vector"}));
    filters(search, true);
    auto rfc3339 = cli::needs("an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)", is_time);
    search->add_option("--since", _since, "only entries from this time on, RFC 3339")->type_name("T")->check(rfc3339);
    search->add_option("--until", _until, "only entries before this time, RFC 3339")->type_name("T")->check(rfc3339);
    search->add_flag("--mmr", a.mmr, "diversify the hits");

    auto* put =
        memory_cmd("put", "store a note", {"memory put --agent ID [--tag T]… [--session KEY] [--kind K] TEXT…", "", ""},
                   cmd_memory_put);
    agent_option(put, true);
    put->add_option("TEXT", a.words, "the text to store (several words are one text)")->required();
    filters(put, false);

    auto* stats = memory_cmd("stats", "entries, vectors, tiers, disk and RAM, and what search can do",
                             {"memory stats --agent ID", "", ""}, cmd_memory_stats);
    agent_option(stats, true);

    auto* exp = memory_cmd("export", "write a snapshot (entries, vectors, summaries, metadata)",
                           {"memory export --agent ID -o FILE", "",
                            "The file is written beside FILE and renamed when complete, mode 0600 (it holds the\n"
                            "agent's private memory).\n\nExample:\n  weftctl memory export --agent main -o main.wmem"},
                           cmd_memory_export);
    agent_option(exp, true);
    exp->add_option("-o,--output", a.file, "the snapshot file to write")->type_name("FILE")->required();

    auto* imp = memory_cmd("import", "load a snapshot, verified whole first",
                           {"memory import FILE [--agent ID] [--replace]", "",
                            "A corrupt or truncated file is refused without changing anything.\n"
                            "\nExample:\n  weftctl memory import main.wmem --agent main"},
                           cmd_memory_import);
    imp->add_option("FILE", a.file, "a snapshot written by memory export")->type_name("FILE")->required();
    agent_option(imp, false, "the agent to load it into (default: the one in the snapshot)");
    imp->add_flag("--replace", a.replace, "wipe the namespace first (default: merge)");

    auto* forget =
        memory_cmd("forget", "delete entries", {"memory forget --agent ID ENTRY-ID…", "", ""}, cmd_memory_forget);
    agent_option(forget, true);
    forget->add_option("ENTRY-ID", a.words, "ids as shown by memory search")->required();

    auto* wipe = memory_cmd(
        "wipe", "delete every entry of the namespace", {"memory wipe --agent ID --yes", "", ""}, cmd_memory_wipe,
        [this] {
          if (!_yes)
            cli::usage(fmt::format("memory wipe deletes every entry of agent '{}'; add --yes", _inv.memory.agent));
        });
    agent_option(wipe, true);
    wipe->add_flag("--yes", _yes, "yes, delete everything");
  }
  void audit() {
    auto* g = group(&_root, "audit", "the witness chain of agent actions; weft need not run",
                    {"audit COMMAND [OPTIONS]", "audit verify|show …", audit_notes, audit_description});
    auto dir = [this](CLI::App* c) {
      c->add_option("--dir", _inv.audit.dir, "the audit directory (default $WEFT_HOME/audit)")
          ->type_name("DIR")
          ->check(cli::needs("a directory", not_empty));
    };
    auto* verify = command(g, "verify", "check the witness chain; report the first bad record",
                           {"audit verify [--dir DIR] [--key FILE]", "",
                            "Checks every record's hash, every link and every signature: exit 0 when intact, 1 with\n"
                            "the first problem (segment, record, seq and what: altered, removed, reordered, bad\n"
                            "signature, missing segment).\n\n" +
                                std::string(audit_notes)},
                           [this] { return cmd_audit_verify(_inv.globals, _inv.audit); });
    dir(verify);
    verify
        ->add_option("--key", _inv.audit.key,
                     "the public key to verify with (default DIR/witness.pub; a copy kept\n"
                     "elsewhere is stronger: whoever can write DIR can replace it)")
        ->type_name("FILE")
        ->check(cli::needs("a public key file", not_empty));
    auto* show =
        command(g, "show", "print records: time, seq, actor, kind, subject, detail",
                {"audit show [--last N] [--dir DIR]", "",
                 "The records are not verified: run audit verify to trust them.\n\n" + std::string(audit_notes)},
                [this] { return cmd_audit_show(_inv.globals, _inv.audit); });
    show->add_option("--last", _inv.audit.last, "the last N records (default 20; 0 for all)")
        ->type_name("N")
        ->check(cli::number_in(0, LONG_MAX, "a number of records (0 for all)"));
    dir(show);
  }

  void auth() {
    const char* notes =
        "The OAuth2 broker (weft-oauth2, run when the config has [oauth2]) keeps the accounts'\n"
        "refresh tokens; an agent's tools get access tokens of the accounts [oauth2.grants.<agent>]\n"
        "or weftctl auth grant gives them. See docs/guides/oauth2.md.";
    auto* g = group(&_root, "auth", "OAuth2 accounts and grants: list, log in and out, grant, revoke",
                    {"auth list | status [NAME] | login PROVIDER --account NAME [--scopes S,…] [--device] | logout NAME | "
                     "grant AGENT ACCOUNT --scopes S,… | revoke AGENT ACCOUNT",
                     "auth …", notes, ""});
    command(g, "list", "the accounts (scopes, token expiry, last refresh and error), the grants, the store",
            {"auth list", "",
             "Each account with its provider, scopes, when its access token expires, its last refresh\n"
             "and last error; every grant with where it comes from (config: the file; weftctl: auth\n"
             "grant); where the tokens are kept.\n\n" +
                 std::string(notes) + "\n\nExample:\n  weftctl auth list"},
            [this] { return cmd_auth_list(_inv.globals); });
    auto* status = command(g, "status", "one account (or all): scopes, expiry, last refresh and error, its grants",
                           {"auth status [NAME]", "status [NAME]",
                            "Without NAME, every account. Exit code 1 when the account is not logged in or the\n"
                            "store is unusable.\n\nExample:\n  weftctl auth status work"},
                           [this] { return cmd_auth_status(_inv.globals, _inv.auth); });
    status->add_option("account", _inv.auth.account, "the account")->type_name("NAME");
    auto* login = command(
        g, "login", "log an account in at a provider of [oauth2.providers]",
        {"auth login PROVIDER --account NAME [--scopes S,…] [--device]", "login PROVIDER --account NAME [--scopes S,…] [--device]",
         "Prints a URL to open in a browser on this machine (the provider redirects to the broker on\n"
         "127.0.0.1), or with --device a code to enter on any device, and waits for the login.\n"
         "Scopes are the provider's, or short names: calendar, calendar.readonly, gmail.readonly,\n"
         "gmail.send, mail, mail.readonly, mail.send.\n\n"
         "Examples:\n  weftctl auth login google --account work --scopes calendar,gmail.readonly\n"
         "  weftctl auth login microsoft --account office --scopes calendar --device"},
        [this] { return cmd_auth_login(_inv.globals, _inv.auth); });
    login->add_option("provider", _inv.auth.provider, "a provider of [oauth2.providers]")->required()->type_name("PROVIDER");
    login->add_option("--account", _inv.auth.account, "the name to keep the account under")->required()->type_name("NAME");
    login->add_option("--scopes", _inv.auth.scopes, "scopes to ask for (default: the provider's)")->delimiter(',')->type_name("S,…");
    login->add_flag("--device", _inv.auth.device, "the device flow: a code to enter on another device");
    auto* logout = command(g, "logout", "revoke an account's refresh token at its provider and forget it",
                           {"auth logout NAME [--keep-at-provider]", "logout NAME", "Example:\n  weftctl auth logout work"},
                           [this] { return cmd_auth_logout(_inv.globals, _inv.auth); });
    logout->add_option("account", _inv.auth.account, "the account")->required()->type_name("NAME");
    logout->add_flag("--keep-at-provider", _inv.auth.keep, "forget it here only, without revoking");
    auto* grant = command(
        g, "grant", "let an agent's tools have tokens of an account, besides [oauth2.grants]",
        {"auth grant AGENT ACCOUNT --scopes S,…", "grant AGENT ACCOUNT --scopes S,…",
         "In effect at once, and kept by the broker in its sealed token store (so it survives\n"
         "restarts; with [oauth2] store = \"memory\", until the broker stops). A second grant of the\n"
         "same agent and account replaces the first. A token is given only for scopes both granted\n"
         "and held by the account (from its login).\n\n"
         "Example:\n  weftctl auth grant main work --scopes calendar,gmail.readonly"},
        [this] { return cmd_auth_grant(_inv.globals, _inv.auth); });
    grant->add_option("agent", _inv.auth.agent, "an agent of [agents]")->required()->type_name("AGENT");
    grant->add_option("account", _inv.auth.account, "the account (it need not be logged in yet)")->required()->type_name("ACCOUNT");
    grant->add_option("--scopes", _inv.auth.scopes, "the scopes its tools may ask for")->required()->delimiter(',')->type_name("S,…");
    auto* revoke = command(
        g, "revoke", "take back what auth grant gave an agent",
        {"auth revoke AGENT ACCOUNT", "revoke AGENT ACCOUNT",
         "In effect at once: the agent's tools get no new token of the account (one already given\n"
         "works until it expires, at most an hour at most providers). A grant of the config file's\n"
         "[oauth2.grants] is not taken back here: remove it there and weftctl reload.\n\n"
         "Example:\n  weftctl auth revoke main work"},
        [this] { return cmd_auth_revoke(_inv.globals, _inv.auth); });
    revoke->add_option("agent", _inv.auth.agent, "the agent")->required()->type_name("AGENT");
    revoke->add_option("account", _inv.auth.account, "the account")->required()->type_name("ACCOUNT");
  }

  void llm() {
    auto* g = group(&_root, "llm", "the llm service's runtime tier-routing policy (persisted)",
                    {"llm policy [set|clear …]", "llm policy [set|clear …]", llm_notes, llm_description});
    const std::string usage = "llm policy [set --agent ID (--tier NAME | --disable TIER…) | clear --agent ID]";
    auto* policy = g->add_subcommand("policy", "show the routing overrides, and any problem loading them");
    _fmt.describe(policy, {usage, "policy [set|clear …]", llm_notes, llm_description});
    policy->require_subcommand(0, 1);
    policy->callback([this, policy] {
      if (!policy->get_subcommands().empty()) return;
      _inv.command = "llm policy";
      _inv.run = [this] { return cmd_llm_policy_show(_inv.globals); };
    });
    command(policy, "show", "show the overrides (the same as llm policy alone)", {"llm policy show", "", ""}, [this] {
      return cmd_llm_policy_show(_inv.globals);
    })->group("");
    auto* set = command(
        policy, "set", "route an agent's requests to a tier, or keep tiers from it",
        {"llm policy set --agent ID [--tier NAME] [--disable TIER]…", "set --agent ID [--tier NAME] [--disable TIER]…",
         "Replaces the agent's previous override. --disable keeps tiers from ever being chosen for\n"
         "it, also by the context-size fallback.\n\n" +
             std::string(llm_notes) + "\n\nExample:\n  weftctl llm policy set --agent main --tier fast"},
        [this] { return cmd_llm_policy_set(_inv.globals, _inv.llm); },
        [this] {
          if (_inv.llm.tier.empty() && _inv.llm.disable.empty())
            cli::usage("llm policy set needs --tier NAME or --disable TIER");
        });
    auto agent = [this](CLI::App* c) {
      c->add_option("--agent", _inv.llm.agent, "the agent")
          ->type_name("ID")
          ->required()
          ->check(cli::needs("an agent id", not_empty));
    };
    agent(set);
    set->add_option("--tier", _inv.llm.tier, "the tier to route its requests to")
        ->type_name("NAME")
        ->check(cli::needs("a tier name", not_empty));
    set->add_option("--disable", _inv.llm.disable, "a tier never to choose for it (repeatable)")
        ->type_name("TIER")
        ->allow_extra_args(false)
        ->check(cli::needs("a tier name", not_empty));
    auto* clear = command(policy, "clear", "remove the agent's override (back to the configuration)",
                          {"llm policy clear --agent ID", "", ""},
                          [this] { return cmd_llm_policy_clear(_inv.globals, _inv.llm); });
    agent(clear);
  }

  void mcp() {
    auto* g = group(&_root, "mcp", "MCP servers for the agents, and weft as an MCP server",
                    {"mcp COMMAND …", "mcp add|list|remove|serve|info …", mcp_notes, mcp_description});
    auto& a = _inv.mcp_add;
    auto* add = command(
        g, "add", "add an MCP server for the agents",
        {"mcp add NAME [OPTIONS] [--] COMMAND [ARG]…\nmcp add NAME [OPTIONS] URL",
         "add NAME [OPTIONS] [--] COMMAND [ARG]… | URL", mcp_add_notes, mcp_add_description},
        [this] { return cmd_mcp_add(_inv.globals, _inv.mcp_add); }, [this] { mcp_add_check(); });
    add->add_option("NAME", a.name, "the server's name: its tools become NAME__<tool>")
        ->required()
        ->check(cli::needs("1 to 32 of a-z, 0-9 and '-', starting with a letter or digit",
                           [](const std::string& v) { return valid_mcp_server_name(v); }));
    add->add_option("--env", _env,
                    "the server's environment (repeatable); it gets nothing else of weft's\n"
                    "environment but PATH and HOME")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false)
        ->check(cli::needs("KEY=VALUE", [](const std::string& v) {
          auto eq = v.find('=');
          return eq != std::string::npos && eq != 0;
        }));
    add->add_option("--cwd", a.cwd, "working directory (default $WEFT_HOME/mcp/NAME)")
        ->type_name("DIR")
        ->check(cli::needs("a directory", not_empty));
    add->add_option("--header", _headers, "HTTP header for a URL server (repeatable), e.g. Authorization")
        ->type_name("KEY:VALUE")
        ->allow_extra_args(false)
        ->check(cli::needs("KEY:VALUE", [](const std::string& v) {
          auto colon = v.find(':');
          return colon != std::string::npos && colon != 0;
        }));
    add->add_option("--era", a.era,
                    "auto (default: ask with server/discover), legacy (initialize,\n"
                    "2024-11-05 … 2025-11-25) or modern (2026-07-28)")
        ->type_name("ERA")
        ->check(cli::one_of({"auto", "legacy", "modern"}));
    add->add_flag("--disabled", a.disabled, "write it to the config but do not connect");
    add->add_flag("--no-wait", a.no_wait, "do not wait for the server to connect");
    _trailing.push_back({add, /*leading=*/1, &a.command});

    command(
        g, "list", "every configured server: state, protocol, tools, restarts, last error",
        {"mcp list", "", "The servers are those of the config weftd runs on, as the client host (tool-mcp) sees them."},
        [this] { return cmd_mcp_list(_inv.globals); });
    auto* remove = command(g, "remove", "disconnect it and delete its table from the config",
                           {"mcp remove NAME", "", ""}, [this] { return cmd_mcp_remove(_inv.globals, _inv.mcp_name); });
    remove->add_option("NAME", _inv.mcp_name, "the server's name, as in mcp list")->required();
    command(g, "serve", "speak MCP on stdin/stdout (for `claude mcp add`)",
            {"mcp serve", "", mcp_serve_notes, mcp_serve_description}, [this] { return cmd_mcp_serve(_inv.globals); });
    command(g, "info", "the HTTP address, token and ready-made client setups",
            {"mcp info", "",
             "How to connect an MCP client (VS Code, Claude Code, …) to weft, from the config weftd runs on\n"
             "and its $WEFT_HOME/mcp/http.token. When weftd is not running: from the config weftctl finds."},
            [this] { return cmd_mcp_info(_inv.globals); });
  }

  void security() {
    auto* g = group(&_root, "security", "scan for known-bad patterns; the monitor, quarantine and release",
                    {"security scan|explain|monitor|release …", "security scan|explain|monitor|release …", security_notes,
                     security_description});
    auto& a = _inv.security;
    auto* scan = command(
        g, "scan", "scan skill folders, installed skills, the config, $WEFT_HOME and the running weft",
        {"security scan [PATH…] [--installed] [--config] [--runtime] [--severity LEVEL] [--fix [--yes]]", "",
         "Without PATH, --installed, --config or --runtime: all of the installed skills, the config,\n"
         "$WEFT_HOME and, when weftd runs, the runtime checks.\n"
         "--installed: $WEFT_SKILLS_DIR, $WEFT_HOME/skills, each agent's <workspace>/skills and the\n"
         "installed plugins ($WEFT_HOME/plugins/<agent>/<name>).\n"
         "--config: the config file weftd would read (as config check finds it) and the permissions of\n"
         "$WEFT_HOME's keys, token stores, sessions, audit chain and skill folders.\n"
         "--runtime: asks the running weftd (an error when it does not answer): tool processes running\n"
         "without their sandbox (or without Landlock, seccomp or a network namespace of their own),\n"
         "services that differ from the config file as it is now (not reloaded), agents in quarantine.\n"
         "\n"
         "Each finding: severity, check id, file:line and what was seen. Exit code 1 when a finding is at\n"
         "or above --severity (default high) or a file could not be read, else 0.\n"
         "\n"
         "--fix plans the safe fixes and prints them: permissions, and secrets written in the config\n"
         "(CFG-002, CFG-003) moved to ${WEFT_SECRET_<NAME>} in <config dir>/weft.env, shown as diffs with\n"
         "the values masked; and [services.tool-<family>-<agent>] tables that replace a sandboxed tool\n"
         "process (CFG-015) commented out, so weftd derives and sandboxes it again (weftctl reload\n"
         "after). --fix --yes makes them and reports what is left. Other configuration findings\n"
         "(policies, listeners) are not changed.\n"
         "\n"
         "Examples:\n  weftctl security scan ~/Downloads/weather-skill\n"
         "  weftctl security scan --installed --severity medium\n"
         "  weftctl security scan --config --fix\n"
         "  weftctl security scan --runtime\n"
         "  weftctl security scan --json ./skills > report.json\n\n" +
             std::string(security_notes)},
        [this] { return cmd_security_scan(_inv.globals, _inv.security); },
        [this] {
          if (_inv.security.yes && !_inv.security.fix) cli::usage("--yes goes with --fix");
        });
    scan->add_option("PATH", a.paths, "skill or plugin folders, or single files")->type_name("PATH");
    scan->add_flag("--installed", a.installed, "the installed skills and plugins");
    scan->add_flag("--config", a.config, "the configuration and $WEFT_HOME's permissions");
    scan->add_flag("--runtime", a.runtime, "what the running weftd reports: sandboxes, unreloaded changes, quarantines");
    scan->add_option("--severity", a.severity, "exit 1 at findings this bad or worse (default high)")
        ->type_name("LEVEL")
        ->check(cli::one_of({"info", "low", "medium", "high", "critical"}));
    scan->add_flag("--fix", a.fix, "plan the safe fixes (permissions, inline secrets, [services.tool-*]) and print them");
    scan->add_flag("--yes", a.yes, "with --fix: make the changes");
    scan->add_option("--config-file", a.config_file, "the config to audit (default: the one weftd would read)")
        ->type_name("FILE")
        ->check(cli::needs("a file", not_empty));
    scan->add_option("--home", a.home, "the state directory to audit (default $WEFT_HOME)")
        ->type_name("DIR")
        ->check(cli::needs("a directory", not_empty));
    auto* ex = command(
        g, "explain", "what a check looks for and how to fix what it found",
        {"security explain ID | --all [--markdown]", "explain ID | --all [--markdown]",
         "--all lists every check; with --markdown as the tables of docs/guides/security.md.\n"
         "\nExamples:\n  weftctl security explain SKL-029\n  weftctl security explain --all --markdown"},
        [this] { return cmd_security_explain(_inv.globals, _inv.security); },
        [this] {
          auto& s = _inv.security;
          if (s.id.empty() == !s.all) cli::usage("security explain needs a check ID or --all (not both)");
          if (s.markdown && !s.all) cli::usage("--markdown goes with --all");
        });
    ex->add_option("ID", a.id, "a check id, e.g. SKL-029")->type_name("ID");
    ex->add_flag("--all", a.all, "every check");
    ex->add_flag("--markdown", a.markdown, "with --all: Markdown tables by family");
    auto* mon = command(
        g, "monitor", "the security monitor: per-agent counters, quarantined and throttled agents, recent alerts",
        {"security monitor [--recent N]", "",
         "Asks the running weft: the bus for the agents it holds in quarantine or throttles (their\n"
         "rate and end), the monitor (weft-monitor,\n"
         "[security.monitor] enabled = true) for each agent's tool calls and denials in the last minute,\n"
         "its usual calls per minute, its LLM cost in the last hour, and the most recent alerts.\n"
         "Exit code 1 when the monitor does not answer (the quarantines and throttles are still shown).\n"
         "\nExamples:\n  weftctl security monitor\n  weftctl security monitor --json --recent 100"},
        [this] { return cmd_security_monitor(_inv.globals, _inv.security); });
    mon->add_option("--recent", a.recent, "how many recent alerts (default 20, at most 100)")
        ->type_name("N")
        ->check(CLI::Range(0, 100));
    auto* rel = command(
        g, "release", "lift an agent's quarantine or throttle and start its tool processes again",
        {"security release AGENT", "",
         "The bus lets the agent's calls through again (a quarantine and a throttle both end, also in\n"
         "$WEFT_HOME/bus/quarantine.json), and weftd starts the agent's tool processes the\n"
         "quarantine stopped. Only an admin tool may release (the bus decides on its authenticated\n"
         "address); the witness chain records who did. Find out why it was quarantined first:\n"
         "weftctl security monitor.\n"
         "\nExamples:\n  weftctl security release main"},
        [this] { return cmd_security_release(_inv.globals, _inv.security); });
    rel->add_option("AGENT", a.agent, "the agent id")->required()->check(cli::needs("an agent id", not_empty));
  }

  void skill() {
    auto* g = group(&_root, "skill", "install, list and remove skills (scanned before they are installed)",
                    {"skill install|list|remove …", "skill install|list|remove …", skill_notes, skill_description});
    auto& a = _inv.skill;
    auto agent = [&a](CLI::App* c, const std::string& what) {
      c->add_option("--agent", a.agent, what)->type_name("ID")->check(cli::needs("an agent id", not_empty));
    };
    auto* install = command(
        g, "install", "scan a skill folder and copy it where agents find it",
        {"skill install PATH [--agent ID] [--severity LEVEL] [--replace] [--force --reason TEXT]", "",
         "PATH is a folder with a SKILL.md (frontmatter with a name and a description). It is copied\n"
         "as <skills dir>/<name>: links are copied as links and never followed (one leading out of\n"
         "the folder refuses the install), FIFOs and devices refuse it, and the copy is put in place\n"
         "in one rename, so agents see the old skill or the new one, never half of one.\n"
         "\n"
         "The copy is scanned before it is put in place. Findings at or above --severity (default\n"
         "[security] install_severity, else high) refuse the install: exit code 1, nothing copied.\n"
         "--force installs it anyway and needs --reason; weftd must be running, because the memory\n"
         "service records the forced install in the witness chain first (the ctl address, the OS\n"
         "user, the skill's name and content hash, the findings' ids, the reason). No record, no\n"
         "install. A clean install needs no record.\n"
         "\n"
         "Examples:\n  weftctl skill install ~/Downloads/weather-skill\n"
         "  weftctl skill install ./notes --agent main --replace\n"
         "  weftctl skill install ./vendor-setup --force --reason \"reviewed the installer; ticket OPS-12\"\n\n" +
             std::string(skill_notes)},
        [this] { return cmd_skill_install(_inv.globals, _inv.skill); },
        [this] {
          auto& s = _inv.skill;
          if (s.force && s.reason.empty())
            cli::usage("--force needs --reason TEXT: why it is installed despite its findings (the witness chain "
                       "records it)");
          if (!s.reason.empty() && !s.force) cli::usage("--reason goes with --force");
        });
    install->add_option("PATH", a.path, "the skill folder")->required()->type_name("PATH")->check(cli::needs("a folder", not_empty));
    agent(install, "install into this agent's <workspace>/skills (default: $WEFT_HOME/skills, shared)");
    install->add_option("--severity", a.severity, "refuse findings this bad or worse (default: the config's, else high)")
        ->type_name("LEVEL")
        ->check(cli::one_of({"info", "low", "medium", "high", "critical"}));
    install->add_flag("--replace", a.replace, "overwrite an installed skill of the same name");
    install->add_flag("--force", a.force, "install despite findings (needs --reason; recorded)");
    install->add_option("--reason", a.reason, "why it is forced, for the witness chain")
        ->type_name("TEXT")
        ->check(cli::needs("1 to 1000 characters", [](const std::string& v) {
          return !v.empty() && v.size() <= 1000 && v.find_first_not_of(" \t") != std::string::npos;
        }));
    auto* list = command(g, "list", "the installed skills: name, where, folder",
                         {"skill list [--agent ID]", "",
                          "Without --agent: $WEFT_SKILLS_DIR (built-in), $WEFT_HOME/skills (shared) and every agent's\n"
                          "<workspace>/skills. With --agent: what that agent sees, a skill of one name in a later\n"
                          "place overriding an earlier one (marked overridden).\n\n" +
                              std::string(skill_notes)},
                         [this] { return cmd_skill_list(_inv.globals, _inv.skill); });
    agent(list, "only what this agent sees");
    auto* remove = command(g, "remove", "delete an installed skill",
                           {"skill remove NAME [--agent ID]", "",
                            "Removes the skill named NAME from $WEFT_HOME/skills, or with --agent from the agent's\n"
                            "<workspace>/skills. Built-in skills ($WEFT_SKILLS_DIR) are not removed.\n\n"
                            "Example:\n  weftctl skill remove weather-pro"},
                           [this] { return cmd_skill_remove(_inv.globals, _inv.skill); });
    remove->add_option("NAME", a.name, "the skill's name, as in skill list")->required()->type_name("NAME")->check(cli::needs("a skill name", not_empty));
    agent(remove, "remove it from this agent's <workspace>/skills");
  }

  void plugin() {
    static const std::string notes =
        "An agent's plugins are folders in <home>/plugins/<agent> (plugin.toml beside its .wasm); the\n"
        "agent runs them when its [agents.<id>.tools] families lists \"plugins\" (weft-plugin-host,\n"
        "service tool-plugins-<id>, reads them at start). install, remove, enable and disable change\n"
        "that folder and restart tool-plugins-<id> when weftd runs it; otherwise the change is read\n"
        "when it next starts. The format, the host and its checks: docs/guides/plugins.md.";
    auto* g = group(&_root, "plugin", "build, install and manage agents' WASM plugins",
                    {"plugin list|info|explain|install|remove|enable|disable|build …",
                     "plugin list|info|explain|install|remove|enable|disable|build …", notes,
                     "WASM plugins where weft-plugin-host finds them: <home>/plugins/<agent>. Read and\n"
                     "checked with the manifest reader and module checks the host uses; weftd need not run."});
    auto& a = _inv.plugin;
    auto agent = [&a](CLI::App* c, const std::string& what) {
      return c->add_option("--agent", a.agent, what)->type_name("ID")->check(cli::needs("an agent id", not_empty));
    };
    auto name = [&a](CLI::App* c) {
      c->add_option("NAME", a.name, "the plugin's folder name (its manifest's name)")
          ->required()
          ->type_name("NAME")
          ->check(cli::needs("a plugin name", not_empty));
    };
    auto* list = command(g, "list", "every agent's plugins: name, version, agent, tools (or why invalid or disabled)",
                         {"plugin list [--agent ID]", "", "Example:\n  weftctl plugin list --agent main\n\n" + notes},
                         [this] { return cmd_plugin_list(_inv.globals, _inv.plugin); });
    agent(list, "only this agent's plugins");
    auto* info = command(g, "info", "a plugin's manifest: tools, capabilities (unsupported ones marked), permissions, limits",
                         {"plugin info NAME [--agent ID]", "",
                          "A capability this build does not run (voice) is listed as not supported; a plugin the\n"
                          "admin disabled says so, with the reason.\n\n"
                          "Example:\n  weftctl plugin info c-wordcount\n\n" + notes},
                         [this] { return cmd_plugin_info(_inv.globals, _inv.plugin); });
    name(info);
    agent(info, "the agent whose plugin it is (needed when several have one of that name)");
    auto* explain = command(g, "explain", "the effective profile the host applies for the agent",
                            {"plugin explain NAME [--agent ID]", "",
                             "The profile derived from the manifest and the agent's policy (libs/plugin's explain()):\n"
                             "host functions granted and refused, paths, network, limits.\n\n"
                             "Example:\n  weftctl plugin explain rust-hash --agent main\n\n" + notes},
                            [this] { return cmd_plugin_explain(_inv.globals, _inv.plugin); });
    name(explain);
    agent(explain, "the agent whose plugin it is (needed when several have one of that name)");

    auto* install = command(
        g, "install", "check a plugin folder as the host would and copy it into an agent's plugins",
        {"plugin install SOURCE --agent ID [--severity LEVEL] [--replace] [--force --reason TEXT]", "",
         "SOURCE is a plugin folder: plugin.toml beside its entry .wasm. Before anything is put in\n"
         "place it is checked as weft-plugin-host checks it: the manifest (errors at file:line:column),\n"
         "the module loaded and validated, its imports and exports against the ABI and the host\n"
         "functions the agent's policy grants; a plugin the host would refuse is refused here with the\n"
         "host's reason. Copied: plugin.toml, the entry and top-level notes (README*, LICENSE*, COPYING*,\n"
         "NOTICE*, CHANGELOG*, AUTHORS*, SECURITY*, up to 1 MiB each), nothing else; a symlink at the top\n"
         "of SOURCE or on the entry's path is an error (links are never followed). The copy goes to a\n"
         "hidden folder in <home>/plugins/<agent> (the host skips those), is synced, checked, then renamed\n"
         "to <home>/plugins/<agent>/<name> in one step; --replace swaps out one installed under that name\n"
         "(a disabled one stays disabled). Prints the tools and the effective profile: host functions\n"
         "granted and refused, files, network, limits — what you grant by installing it.\n"
         "\n"
         "The copy is also scanned as weftctl security scan scans a folder: its notes and manifest by\n"
         "the skill checks (the descriptions read as the prose the model reads), and host functions it\n"
         "asks for but never imports (SKL-079). Findings at or above --severity (default [security]\n"
         "install_severity, else high) refuse the install: exit code 1, nothing copied. --force installs\n"
         "it anyway and needs --reason; weftd must be running: the memory service records the forced\n"
         "install in the witness chain first (PluginInstalled: the ctl address, the OS user, the plugin,\n"
         "agent, version and content hash, the findings' ids, the reason). No record, no install.\n"
         "\n"
         "Then tool-plugins-<agent> is restarted when weftd runs it. An agent whose families do not list\n"
         "\"plugins\" gets the plugin with a warning: it will not run it until they do.\n"
         "\n"
         "Examples:\n  weftctl plugin install ./build/examples/plugins/c-wordcount --agent main\n"
         "  weftctl plugin install ~/src/my-plugin --agent main --replace\n"
         "  weftctl plugin install ./vendor-plugin --agent main --force --reason \"reviewed; ticket OPS-12\"\n\n" +
             notes},
        [this] { return cmd_plugin_install(_inv.globals, _inv.plugin); },
        [this] {
          auto& p = _inv.plugin;
          if (p.force && p.reason.empty())
            cli::usage("--force needs --reason TEXT: why it is installed despite its findings (the witness chain "
                       "records it)");
          if (!p.reason.empty() && !p.force) cli::usage("--reason goes with --force");
        });
    install->add_option("SOURCE", a.path, "the plugin folder (plugin.toml and its entry .wasm)")
        ->required()
        ->type_name("SOURCE")
        ->check(cli::needs("a folder", not_empty));
    agent(install, "the agent to install it for")->required();
    install->add_flag("--replace", a.replace, "swap out an installed plugin of the same name");
    install->add_option("--severity", a.severity, "refuse findings this bad or worse (default: the config's, else high)")
        ->type_name("LEVEL")
        ->check(cli::one_of({"info", "low", "medium", "high", "critical"}));
    install->add_flag("--force", a.force, "install despite findings (needs --reason; recorded)");
    install->add_option("--reason", a.reason, "why it is forced, for the witness chain")
        ->type_name("TEXT")
        ->check(cli::needs("1 to 1000 characters", [](const std::string& v) {
          return !v.empty() && v.size() <= 1000 && v.find_first_not_of(" \t") != std::string::npos;
        }));

    auto* remove = command(g, "remove", "delete an agent's plugin (its data is kept unless --purge)",
                           {"plugin remove NAME --agent ID [--purge]", "",
                            "The folder is renamed to a hidden name first (the host no longer sees it), then deleted,\n"
                            "and tool-plugins-<agent> restarted when weftd runs it. The plugin's own data\n"
                            "(<workspace>/.plugin-data/<name>: its key-value store) is kept, so installing it again\n"
                            "finds it; --purge deletes it too.\n\n"
                            "Example:\n  weftctl plugin remove c-wordcount --agent main --purge\n\n" + notes},
                           [this] { return cmd_plugin_remove(_inv.globals, _inv.plugin); });
    name(remove);
    agent(remove, "the agent whose plugin it is")->required();
    remove->add_flag("--purge", a.purge, "also delete the plugin's data in <workspace>/.plugin-data/<name>");

    auto* disable = command(g, "disable", "keep the host from loading a plugin, without removing it",
                            {"plugin disable NAME --agent ID [--reason TEXT]", "",
                             "Writes a DISABLED marker (the reason and when) in the plugin's folder; weft-plugin-host\n"
                             "loads nothing of a folder with one and its plugins_status says \"disabled by the admin:\n"
                             "<reason>\". tool-plugins-<agent> is restarted when weftd runs it. plugin list and info\n"
                             "show it as disabled; plugin enable undoes it.\n\n"
                             "Example:\n  weftctl plugin disable c-wordcount --agent main --reason \"answers wrongly; "
                             "ticket OPS-7\"\n\n" + notes},
                            [this] { return cmd_plugin_disable(_inv.globals, _inv.plugin); });
    name(disable);
    agent(disable, "the agent whose plugin it is")->required();
    disable->add_option("--reason", a.reason, "why, kept in the marker and shown by the host and plugin info")
        ->type_name("TEXT")
        ->check(cli::needs("1 to 1000 characters", [](const std::string& v) {
          return !v.empty() && v.size() <= 1000 && v.find_first_not_of(" \t") != std::string::npos;
        }));
    auto* enable = command(g, "enable", "let the host load a disabled plugin again",
                           {"plugin enable NAME --agent ID", "",
                            "Deletes the plugin's DISABLED marker, says whether the host would load it, and restarts\n"
                            "tool-plugins-<agent> when weftd runs it. A plugin that is not disabled is left as it is.\n\n"
                            "Example:\n  weftctl plugin enable c-wordcount --agent main\n\n" + notes},
                           [this] { return cmd_plugin_enable(_inv.globals, _inv.plugin); });
    name(enable);
    agent(enable, "the agent whose plugin it is")->required();

    auto* build = command(
        g, "build", "compile a plugin's C or Rust source to its .wasm and check it as the host would",
        {"plugin build DIR [-o OUT.wasm] [--agent ID]", "",
         "DIR holds plugin.toml and the source: *.c files (C) or src/lib.rs (Rust). The commands are\n"
         "those of docs/guides/plugins.md, with Debian's toolchains:\n"
         "  C:    clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -I <sdk>/c DIR/*.c -o OUT\n"
         "        (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)\n"
         "  Rust: rustc … --crate-type rlib --crate-name weft_plugin <sdk>/rust/weft-plugin/src/lib.rs, then\n"
         "        rustc … --crate-type cdylib --extern weft_plugin=… DIR/src/lib.rs -o OUT\n"
         "        (apt-get install rustc libstd-rust-dev-wasm32)\n"
         "OUT is the manifest's entry in DIR unless -o. The SDK is $WEFT_SDK_DIR, else the source tree's\n"
         "sdk/ when this weftctl runs from its build tree, else the installed <datadir>/weft/sdk\n"
         "(/usr/share/weft/sdk). A compiler's output is shown when it fails.\n"
         "\n"
         "Then the module is checked as weft-plugin-host checks it (manifest, validation, imports and\n"
         "exports against the granted host functions): with --agent against that agent's policy (and its\n"
         "effective profile printed), else against what the host grants every agent. Exit code 1 when it\n"
         "does not build or the host would refuse it.\n"
         "\n"
         "Examples:\n  weftctl plugin build examples/plugins/c-wordcount -o /tmp/c-wordcount/c_wordcount.wasm\n"
         "  weftctl plugin build ~/src/my-plugin --agent main\n\n" + notes},
        [this] { return cmd_plugin_build(_inv.globals, _inv.plugin); });
    build->add_option("DIR", a.path, "the plugin's source folder (with plugin.toml)")
        ->required()
        ->type_name("DIR")
        ->check(cli::needs("a folder", not_empty));
    build->add_option("-o,--output", a.out, "where the .wasm goes (default: the manifest's entry in DIR)")
        ->type_name("OUT.wasm")
        ->check(cli::needs("a file name", not_empty));
    agent(build, "check it against this agent's policy and print its effective profile");
  }

  void mcp_add_check() {
    auto& a = _inv.mcp_add;
    for (auto& kv : _env) a.env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    for (auto& kv : _headers) {
      auto value = kv.substr(kv.find(':') + 1);
      value.erase(0, value.find_first_not_of(' '));
      a.headers[kv.substr(0, kv.find(':'))] = value;
    }
    if (a.command.empty()) cli::usage("mcp add needs a COMMAND or URL after the NAME");
    if (a.command.size() == 1 && is_url(a.command[0])) {
      if (!a.env.empty() || !a.cwd.empty()) cli::usage("mcp add: --env and --cwd are for a command, not a URL");
    } else if (!a.headers.empty()) {
      cli::usage("mcp add: --header is for a URL, not a command");
    }
  }

  void completion() {
    auto* c = command(
        &_root, "completion", "print a shell completion script",
        {"completion bash", "",
         "Load it in the current shell:\n  source <(weftctl completion bash)\n"
         "or for every shell: weftctl completion bash > /usr/share/bash-completion/completions/weftctl"},
        [this] {
          std::cout << cli::bash_completion(_root, {_fmt.program(), _fmt.program() == "weft" ? "weftctl" : "weft"});
          return 0;
        });
    c->add_option("SHELL", _inv.shell, "the shell (bash)")->required()->check(cli::one_of({"bash"}));
  }
};

command_line::command_line(invocation& inv, std::string program)
    : _app(std::make_unique<CLI::App>(top_description, program)), _fmt(std::make_shared<cli::help_formatter>(program)) {
  _app->formatter(_fmt);
  _app->require_subcommand(1);
  _app->fallthrough();  // options of the top (--json, --timeout, …) also after the command
  // An option given twice: the last one counts, as it always did (repeatable ones keep all).
  _app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  _fmt->describe(_app.get(), {"[OPTIONS] COMMAND [ARGS]", "", top_notes, ""});
  _tree = std::make_unique<command_tree>(*_app, *_fmt, inv, _trailing);
  _tree->build();
}

command_line::~command_line() = default;

std::optional<int> command_line::parse(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  return cli::parse(*_app, std::move(args), _trailing, out, err);
}

std::string command_line::help(const std::string& path) const {
  const CLI::App* a = _app.get();
  std::istringstream words(path);
  for (std::string w; words >> w;) a = a->get_subcommand(w);
  return _fmt->make_help(a, "", CLI::AppFormatMode::Normal);
}

}  // namespace weft::ctl
