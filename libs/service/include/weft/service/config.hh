#pragma once
/// weft's configuration (clawft.toml), so that every process reads the same settings and a
/// mistake is reported before anything starts: parsed with toml++, validated completely,
/// every problem reported at once with file:line:column, `${ENV}` substituted in strings.
/// The reference of every key is docs/config.md.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <weft/base/result.hh>
#include <weft/sandbox/spec.hh>

namespace weft::service {

/// What weftd does when a service exits: restart it always, only after a failure
/// (non-zero exit or a signal), or never.
enum class restart_policy : std::uint8_t { always = 0, on_failure = 1, never = 2 };

/// The verdict of an ACL rule, and the bus's verdict when no rule matches.
enum class acl_action : std::uint8_t { allow = 0, deny = 1 };

/// One [[bus.acl]] rule, so the bus can refuse requests between addresses. Patterns are
/// globs where '*' matches any run of characters, '/' included.
struct acl_rule {
  std::string from = "*";
  std::string to = "*";
  std::vector<std::string> types = {"*"};
  acl_action action = acl_action::deny;  ///< required in the file; no default there
  std::string where;  ///< "file:line:col" of the rule, for audit messages
  bool operator==(const acl_rule&) const = default;
};

/// [agents.<id>.tools]: which tools the agent may call; enforced by the bus (deny wins).
struct tool_policy {
  std::vector<std::string> allow = {"*"};  ///< tool-name globs
  std::vector<std::string> deny;           ///< tool-name globs
  std::vector<std::string> families = {"fs", "shell", "web", "mcp", "delegate"};  ///< tool processes the agent uses
  std::string where;
  bool operator==(const tool_policy&) const = default;
};

/// [bus]: the broker's limits and access control.
struct bus_settings {
  std::uint64_t max_message_bytes = 1048576;
  std::uint32_t queue_depth = 1000;
  acl_action default_policy = acl_action::allow;
  std::vector<acl_rule> acl;  ///< in file order
  /// Each agent's [agents.<id>.tools], by agent id: filled by the config loader from
  /// [agents], enforced by the bus on requests from agent/<id> to tool/… addresses.
  std::map<std::string, tool_policy> agent_tools;
  bool operator==(const bus_settings&) const = default;
};

/// [supervisor]: how long weftd waits for its children and how it restarts them.
struct supervisor_settings {
  std::uint32_t ready_timeout_ms = 10000;
  std::uint32_t heartbeat_interval_ms = 1000;
  std::uint32_t heartbeat_timeout_ms = 10000;
  std::uint32_t stop_timeout_ms = 10000;
  std::uint32_t restart_backoff_initial_ms = 100;
  std::uint32_t restart_backoff_max_ms = 30000;
  std::uint32_t restart_intensity = 5;
  std::uint32_t restart_window_s = 60;
  bool operator==(const supervisor_settings&) const = default;
};

/// What weftd confines a child to before exec (libs/sandbox's plain description).
using sandbox_spec = sandbox::spec;

struct config;

/// What of the config a derived service reads itself (it re-reads the file weftd passes
/// it), so a reload restarts it when that changed and for nothing else in the file: a
/// provider added restarts llm, not the agents. The parts are named in config_derived.cc
/// ("providers", "llm", "agent:<id>", "channels.web", …).
struct service_inputs {
  std::vector<std::string> parts;
  std::shared_ptr<const config> from;  ///< the config they were read from, file positions cleared
  /// The same parts with the same values in both configs (no parts: equal).
  bool operator==(const service_inputs& o) const;
};

/// One [services.<name>] table: a process weftd starts, watches and restarts.
struct service_spec {
  std::string name;
  std::string exec;
  std::vector<std::string> args;
  std::string address;  ///< bus address; defaults to the name
  std::vector<std::string> after = {"bus"};
  std::map<std::string, std::string> env;
  restart_policy restart = restart_policy::always;
  bool enabled = true;
  sandbox_spec sandbox;
  /// weftd sends SIGHUP to the running service after every reload that keeps it, so it can
  /// re-read its part of the config in place (tool-mcp: servers added or removed).
  bool reload_signal = false;
  /// The parts of the config the service reads (derived services; none for [services.*]).
  service_inputs reads;
  std::string where;  ///< "file:line:col" of the table
  /// Compares everything but `where`, so a table that only moved in the file is not a
  /// changed service on reload.
  bool operator==(const service_spec& o) const;
};

/// API style of a provider: how requests and streams are shaped on the wire.
enum class api_style : std::uint8_t { openai = 0, anthropic = 1 };

/// One [providers.<name>] table, merged over the built-in provider table (provider_table())
/// so `[providers.openai]` with nothing in it is enough when $OPENAI_API_KEY is set.
struct provider_settings {
  std::string name;                ///< table key: openai, anthropic, …, or any custom name
  api_style style = api_style::openai;
  std::string base_url;            ///< e.g. https://api.openai.com/v1 (the /chat/completions etc. are appended)
  std::string api_key_env;         ///< environment variable holding the key; empty: no key (local servers)
  std::string api_key;             ///< resolved key (from api_key = "${VAR}" or api_key_env); never logged
  std::string model;               ///< default model
  std::string embedding_model;     ///< default embedding model; empty: provider has none
  std::string api_version;         ///< Azure: api-version query parameter
  std::map<std::string, std::string> headers;  ///< extra HTTP headers
  bool enabled = true;             ///< false when the key is required but missing (a warning says so)
  std::string where;
  bool operator==(const provider_settings&) const = default;
};

/// One [[llm.tiers]] entry: tiered model routing by context size and cost.
struct llm_tier {
  std::string name;
  std::string provider;            ///< a [providers.<name>] key
  std::string model;               ///< empty: the provider's default model
  std::uint32_t max_context_tokens = 128000;
  double input_cost_per_mtok = 0;  ///< USD per million input tokens
  double output_cost_per_mtok = 0; ///< USD per million output tokens
  std::string where;
  bool operator==(const llm_tier&) const = default;
};

/// [llm]: the llm service.
struct llm_settings {
  std::string default_provider;    ///< empty: the first enabled provider
  std::string default_tier;        ///< empty: the first tier, or none
  std::vector<llm_tier> tiers;
  std::uint32_t timeout_ms = 120000;      ///< whole request, stream included
  std::uint32_t connect_timeout_ms = 10000;
  std::uint32_t retries = 3;              ///< after the first attempt, on 429/5xx/connect errors
  std::uint32_t retry_min_wait_ms = 500;  ///< floor of the wait between attempts
  std::uint32_t max_concurrent = 64;      ///< HTTP requests in flight
  std::string embedding_provider;         ///< empty: default_provider
  std::string embedding_model;            ///< empty: the provider's embedding_model
  bool operator==(const llm_settings&) const = default;
};

/// [agents.<id>.tools] network: what the agent's shell tool may reach. Either way the
/// agent's tool processes run in a network namespace of their own, where 127.0.0.1 is not
/// the host's: `none` has nothing else; `public_internet` ("public" in the file) reaches
/// public addresses through the egress proxy (services/egress), which refuses loopback,
/// private, link-local and the host's own addresses after DNS.
enum class tool_network : std::uint8_t { none = 0, public_internet = 1 };

/// One [agents.<id>] table.
struct agent_settings {
  std::string id;                  ///< table key; 1 to 48 of a-z, 0-9 and '-' (it becomes agent-<id>, agent/<id>)
  std::string name;                ///< display name; empty: the id
  std::string tier;                ///< [[llm.tiers]] name; empty: [llm] default_tier
  std::string model;               ///< provider/model override; empty: from the tier
  std::string workspace;           ///< empty: $WEFT_HOME/agents/<id>
  std::uint32_t max_iterations = 10;      ///< model calls per turn (the turn budget)
  std::uint32_t tool_timeout_ms = 30000;  ///< per tool call
  std::uint32_t max_tokens = 0;           ///< output cap per model call; 0: provider default
  double budget_usd = 0;                  ///< cost budget per day; 0: unlimited
  tool_policy tools;
  /// [agents.<id>.tools] network. Kept here rather than in tool_policy, which the bus holds:
  /// changing it restarts the shell tool, not the bus.
  tool_network network = tool_network::none;
  std::string where;
  bool operator==(const agent_settings&) const = default;
};

/// [channels.telegram].
struct telegram_settings {
  bool enabled = true;
  std::string token;               ///< bot token (use "${TELEGRAM_TOKEN}")
  std::string api_base = "https://api.telegram.org";
  std::string mode = "polling";    ///< polling | webhook
  std::uint32_t poll_timeout_s = 30;
  std::string webhook_listen = "127.0.0.1:8443";  ///< host:port the webhook receiver binds
  std::string webhook_url;         ///< public URL given to setWebhook
  std::string webhook_secret;      ///< X-Telegram-Bot-Api-Secret-Token
  /// A turn still running this long after its first streamed step gets a progress message,
  /// edited as steps come (at most once a second); 0: never.
  std::uint32_t progress_after_ms = 3000;
  std::string where;
  bool operator==(const telegram_settings&) const = default;
};

/// [channels.web].
struct web_settings {
  bool enabled = true;
  std::string listen = "127.0.0.1:8780";  ///< port 0: any free port (printed and written to $WEFT_RUNTIME_DIR/web.port)
  std::string auth_token;          ///< empty: no token (only allowed on loopback)
  std::string where;
  bool operator==(const web_settings&) const = default;
};

struct channels_settings {
  std::optional<telegram_settings> telegram;
  std::optional<web_settings> web;
  bool operator==(const channels_settings&) const = default;
};

/// One [[agent_routes]] entry: messages from `channel` whose identifiers equal every
/// key of `match` go to `agent`. The most specific route (most keys) wins; ties go to the
/// first in the file.
struct agent_route {
  std::string channel;             ///< channel name, or "*"
  std::map<std::string, std::string> match;  ///< user_id, phone, workspace_id, chat_id, guild_id, …
  std::string agent;
  std::string where;
  bool operator==(const agent_route&) const = default;
};

/// [routing]: what the router does when no route matches.
struct routing_settings {
  std::string default_agent;       ///< empty: the only agent, or "main" if present; else NoRoute
  bool operator==(const routing_settings&) const = default;
};

/// [delegation]: Claude Code as a delegate (docs/guides/delegation.md).
struct delegation_rule {
  std::string pattern;             ///< ECMAScript regex, validated at load
  std::string target;              ///< flow | local | agent:<id>
  std::string where;
  bool operator==(const delegation_rule&) const = default;
};
/// How a delegated run authenticates to the Anthropic API.
enum class delegate_auth {
  weft,   ///< through llm's Messages endpoint with a per-run token (the key stays in llm)
  login,  ///< Claude Code's own login, kept in config_dir
};
struct delegation_settings {
  bool claude_enabled = true;      ///< each agent with the "delegate" family gets delegate_to_claude
  bool claude_flow_enabled = false;
  std::string claude_path;         ///< "": `claude` on weftd's PATH
  delegate_auth auth = delegate_auth::weft;
  std::string config_dir;          ///< login: Claude Code's config directory; "": <workspace>/.weft/claude
  std::uint32_t timeout_ms = 600000;  ///< one delegated run
  std::uint32_t max_turns = 50;    ///< Claude Code's --max-turns
  std::vector<std::string> excluded_tools;  ///< Claude Code tools no delegated run gets
  std::vector<std::string> ask;    ///< Claude Code tools a run must ask the person for, at each use
  std::uint32_t ask_timeout_ms = 120000;  ///< how long such a question waits; no answer denies
  std::vector<delegation_rule> routing_rules;  ///< in file order
  bool operator==(const delegation_settings&) const = default;
};

/// One [[memory.shares]] entry: `readers` may search (not change) `owner`'s memory.
struct memory_share {
  std::string owner;
  std::vector<std::string> readers;
  std::string where;
  bool operator==(const memory_share&) const = default;
};

/// [memory]: the memory service (services/memory) and what agents do with it.
struct memory_settings {
  bool enabled = true;                     ///< run the memory service; agents index sessions
  double keyword_weight = 0.4;             ///< hybrid search: weight of normalised BM25
  double vector_weight = 0.6;              ///< hybrid search: weight of cosine similarity
  double recency_weight = 0.1;             ///< added score for new entries (0: off)
  double recency_half_life_days = 30;      ///< the recency bonus halves every this many days
  double mmr_lambda = 0.7;                 ///< MMR: relevance vs diversity (1: relevance only)
  std::uint32_t max_text_bytes = 65536;    ///< a longer Put is refused (TooLarge)
  std::uint32_t segment_mb = 64;           ///< segment files are sealed at this size
  std::uint32_t checkpoint_s = 300;        ///< vector index checkpoint interval
  std::uint32_t summarise_after_messages = 80;  ///< a session longer than this is summarised (0: never)
  std::uint32_t summary_keep_messages = 30;     ///< messages kept verbatim after a summary
  std::uint32_t hot_days = 7;              ///< vectors untouched this long leave the hot tier
  std::uint32_t warm_days = 30;            ///< and after this long become cold (binary codes)
  std::uint32_t hot_min_hits = 3;          ///< an entry found this often in hot_days stays hot
  std::uint32_t ef_search = 64;            ///< HNSW search breadth: recall against time
  std::vector<memory_share> shares;        ///< explicit read sharing between agents
  bool operator==(const memory_settings&) const = default;
};

/// What the security monitor does when one of its rules fires.
/// alert: said (log, event, witness); throttle: said, and the bus lets through at most
/// throttle_calls_per_minute of the agent's tool calls for throttle_seconds; quarantine: said,
/// and the bus refuses all of the agent's traffic until a person releases it.
enum class monitor_action : std::uint8_t { alert = 1, quarantine = 2, throttle = 3 };

/// [security.monitor]: the security monitor (services/monitor) — per-agent counters over
/// the bus's events and what it does when a threshold is passed. A threshold of 0 turns its
/// rule off.
struct monitor_settings {
  bool enabled = false;                       ///< run weft-monitor (when there are agents)
  std::uint32_t tool_calls_per_minute = 120;  ///< more tool calls by one agent in 60 s: tool_burst
  monitor_action tool_burst_action = monitor_action::alert;
  std::uint32_t denials_per_minute = 20;      ///< more bus denials of one agent in 60 s: denial_burst
  monitor_action denial_burst_action = monitor_action::alert;
  double cost_per_hour_usd = 0;               ///< more LLM cost of one agent in an hour: cost_per_hour (0: off)
  monitor_action cost_action = monitor_action::alert;
  /// A tool call naming a path at or under one of these: sensitive_path. "$WEFT_HOME/…" is
  /// resolved by the monitor.
  std::vector<std::string> sensitive_paths = {"$WEFT_HOME/keys", "$WEFT_HOME/oauth2"};
  bool other_workspaces = true;               ///< another agent's workspace is sensitive too
  monitor_action sensitive_path_action = monitor_action::quarantine;
  /// A tool call naming a host (a URL argument) that is neither in known_hosts nor among the
  /// hosts the agent named in its first new_host_after_calls calls: new_host. An entry is a
  /// host, "*.example.com" (its subdomains) or "*" (every host: the rule is off).
  std::vector<std::string> known_hosts;
  std::uint32_t new_host_after_calls = 50;    ///< the calls whose hosts are the agent's own (0: only known_hosts)
  monitor_action new_host_action = monitor_action::alert;
  /// A shell call running one of `interpreters` (a command word: "python3" matches "python")
  /// at most exec_after_fetch_seconds (0: the rule is off) and exec_after_fetch_calls (0: any
  /// number) calls after a successful call that named a host: exec_after_fetch.
  std::uint32_t exec_after_fetch_seconds = 600;
  std::uint32_t exec_after_fetch_calls = 20;
  std::vector<std::string> interpreters = {"sh",     "bash", "dash", "zsh",  "ksh",  "fish", "python", "perl",
                                           "ruby",   "node", "nodejs", "deno", "bun", "php",  "lua",    "pwsh",
                                           "powershell", "osascript", "eval", "source", "."};
  monitor_action exec_after_fetch_action = monitor_action::alert;
  /// The "throttle" action: the agent's tool calls beyond this many in any 60 s are refused
  /// (Bus.v1 Throttled) for throttle_seconds, or until `weftctl security release`.
  std::uint32_t throttle_calls_per_minute = 10;
  std::uint32_t throttle_seconds = 300;
  /// notify = "<channel>:<chat id>" ("telegram:12345"): each alert, throttle and quarantine is
  /// also sent there as a short text (Chat.v1 Deliver to chan/<channel>); empty: not sent.
  std::string notify_channel;
  std::string notify_chat;
  std::string where;                          ///< "clawft.toml:12:1" of [security.monitor]; empty: defaults
  bool operator==(const monitor_settings&) const = default;
};

/// [security]: what this build reads of it ([security.monitor], install_severity); other keys are accepted
/// with a warning, for the features that are not built yet.
struct security_settings {
  monitor_settings monitor;
  /// [security] install_severity: `weftctl skill install` refuses scan findings this bad or
  /// worse unless forced (info, low, medium, high or critical).
  std::string install_severity = "high";
  bool operator==(const security_settings&) const = default;
};

/// [mcp]: weft as an MCP server (services/mcp, address agent/<agent>/mcp) for IDEs and
/// Claude Code, over Streamable HTTP and, through `weftctl mcp serve`, stdio.
struct mcp_serve_settings {
  bool enabled = true;
  std::string agent;                       ///< whose tools it offers; empty: routing.default_agent, else the first agent
  std::string listen = "127.0.0.1:8781";   ///< Streamable HTTP host:port; empty: no HTTP (stdio only)
  std::vector<std::string> allowed_origins;  ///< Origin values accepted besides http(s)://127.0.0.1|localhost[:port]
  bool require_token = true;               ///< HTTP needs `Authorization: Bearer <$WEFT_HOME/mcp/http.token>`
  std::vector<std::string> allow = {"*"};  ///< tool-name globs offered (on top of the agent's own policy)
  std::vector<std::string> deny;           ///< tool-name globs never offered
  std::uint32_t max_sessions = 32;         ///< open sessions (HTTP and stdio) at once
  std::string where;
  bool operator==(const mcp_serve_settings&) const = default;
};

/// One [tools.mcp_servers.<name>]: an MCP server the client host (tool-mcp) connects to.
/// Exactly one of `command` (stdio) and `url` (Streamable HTTP) is set.
struct mcp_server_entry {
  std::string name;                           ///< table key: 1–32 of a-z, 0-9, '-'; tools are <name>__<tool>
  std::string command;                        ///< stdio: program (looked up in the entry's PATH)
  std::vector<std::string> args;
  std::map<std::string, std::string> env;     ///< the child's whole environment besides PATH and HOME (never weft's own)
  std::string cwd;                            ///< empty: $WEFT_HOME/mcp/<name>
  std::string url;                            ///< http(s)://…: Streamable HTTP endpoint
  std::map<std::string, std::string> headers; ///< extra HTTP headers (e.g. Authorization)
  bool enabled = true;
  std::uint32_t call_timeout_ms = 60000;      ///< a tools/call without its own limit
  std::uint32_t connect_timeout_ms = 30000;   ///< start + initialize + tools/list must finish within this
  std::string era = "auto";                   ///< auto (probe with server/discover), legacy, modern (2026-07-28)
  std::string where;
  bool operator==(const mcp_server_entry&) const = default;

  /// Whether `v` is a value `era` may take.
  static bool valid_era(std::string_view v) { return v == "auto" || v == "legacy" || v == "modern"; }
};

/// [tools]: settings of tool processes that are not per agent.
/// [tools.git]: the git tools of every agent that lists the "git" family.
struct git_settings {
  std::string author;  ///< "Name <email>" of the agents' commits; "": each repository's user.name/user.email
  std::string where;
  bool operator==(const git_settings&) const = default;
};

/// [tools.cargo]: the cargo tools of every agent that lists the "cargo" family.
struct cargo_settings {
  std::string cargo;                 ///< the cargo executable; "": `cargo` on weftd's PATH
  std::uint32_t timeout_ms = 600000; ///< the longest one cargo run may take
  std::string where;
  bool operator==(const cargo_settings&) const = default;
};

/// [tools.code]: the code tools of every agent that lists the "code" family.
struct code_settings {
  std::uint64_t max_file_bytes = 4 * 1024 * 1024;  ///< larger files are not parsed
  std::uint32_t lsp_idle_ms = 300000;              ///< an unused language server is stopped after this
  /// [tools.code.lsp]: by language (c, cpp, python, javascript, typescript, tsx, rust, go),
  /// the server's command; its program absolute or found on weftd's PATH. Unset: clangd
  /// for c and cpp when it is installed. An empty list turns a language's server off.
  std::map<std::string, std::vector<std::string>> lsp;
  bool lsp_given = false;  ///< [tools.code.lsp] was in the file (no defaults then)
  std::string where;
  bool operator==(const code_settings&) const = default;
};

/// [tools.forges.<name>]: a forge whose pull requests agents with the "forge" family use.
struct forge_settings {
  std::string name;
  std::string kind;    ///< github | gitea | gitlab
  std::string api;     ///< the REST API's base URL
  std::string token;   ///< usually "${VAR}": only tool-forge gets the variable
  /// URL prefixes of the git remotes the token also pushes and fetches over https for the
  /// git tools of agents with the forge family; empty: derived from api (the API's host,
  /// without a leading "api.": https://api.github.com → https://github.com/).
  std::vector<std::string> git;
  std::string git_user;  ///< the user name sent with the token; "": per kind (x-access-token, oauth2)
  std::string where;
  bool operator==(const forge_settings&) const = default;
};

/// [tools.calendar.accounts.<name>]: a calendar account of the calendar tools.
struct calendar_account_settings {
  std::string name;
  std::string kind = "caldav";   ///< caldav | google | graph (tokens from [oauth2]) | ics (local files)
  std::string url;               ///< caldav: the home collection; google, graph: the API (default the provider's)
  std::string oauth2_account;    ///< google, graph: the broker's account ([oauth2.grants] must give it to the agents)
  std::string path;              ///< ics: an absolute path, a directory of .ics files (one calendar each) or one file
  std::string username, password;  ///< password usually "${VAR}": only tool-calendar gets it
  std::vector<std::string> agents;  ///< the agents whose calendar tools may use it
  std::string where;
  bool operator==(const calendar_account_settings&) const = default;
};

/// [tools.calendar]: the calendar tools (tool-calendar, one shared process).
struct calendar_settings {
  std::string timezone = "UTC";  ///< IANA zone times are read and shown in unless a call names one
  std::map<std::string, calendar_account_settings> accounts;
  std::string where;
  bool operator==(const calendar_settings&) const = default;
};

/// [tools.email.accounts.<name>]: a mail account of the email tools.
struct email_account_settings {
  std::string name;
  std::string kind = "imap";     ///< imap (with smtp for sending) | gmail | graph (tokens from [oauth2])
  std::string imap_url, smtp_url;  ///< imap: imaps://host[:port], smtps:// or smtp:// (STARTTLS); plain only to this machine
  std::string url;               ///< gmail, graph: the API (default the provider's)
  std::string username, password;  ///< imap; password usually "${VAR}": only tool-email gets it
  std::string oauth2_account;    ///< gmail, graph, and imap with XOAUTH2 instead of a password
  std::vector<std::string> scopes;  ///< asked of the broker; default per kind
  std::string address;           ///< From: of what the agents write ("Name <a@b>")
  std::vector<std::string> agents;   ///< whose email tools may use it
  std::vector<std::string> senders;  ///< of those, who may send (the others save drafts)
  bool save_sent = true;         ///< imap: file a copy of what SMTP sent in the \Sent folder
  std::string where;
  bool operator==(const email_account_settings&) const = default;
};

/// [tools.email]: the email tools (tool-email, one shared process).
struct email_settings {
  unsigned send_per_hour = 20;  ///< messages an agent may send per hour (all accounts)
  std::map<std::string, email_account_settings> accounts;
  std::string where;
  bool operator==(const email_settings&) const = default;
};

/// [tools.web_search]: the web_search tool of tool-web (one shared process); without the
/// table tool-web offers web_fetch alone.
struct web_search_settings {
  bool configured = false;           ///< the table is in the file
  std::string provider = "searxng";  ///< searxng | brave | tavily | json
  /// searxng: the instance's root (required); brave, tavily: the API's root (default the
  /// public one); json: a URL template with {query} and optionally {count} (required).
  std::string base_url;
  std::string api_key;                    ///< usually "${VAR}": only tool-web gets the variable
  std::string results_path = "/results";  ///< json: JSON pointer to the list of results
  unsigned max_results = 5;               ///< results per call at most (1 … 20), and the default count
  std::uint32_t timeout_ms = 10000;       ///< one provider request (1000 … 120000)
  bool allow_private = false;             ///< the provider may be at a loopback or private address
  std::string where;
  bool operator==(const web_search_settings&) const = default;
};

struct tools_settings {
  std::map<std::string, mcp_server_entry> mcp_servers;  ///< by name
  git_settings git;
  cargo_settings cargo;
  code_settings code;
  calendar_settings calendar;
  email_settings email;
  std::map<std::string, forge_settings> forges;  ///< by name
  web_search_settings web_search;
  bool operator==(const tools_settings&) const = default;
};

/// [oauth2.providers.<name>]: an identity provider the broker logs accounts in with.
struct oauth2_provider_settings {
  std::string name;
  std::string kind;           ///< google | microsoft | github | slack | oidc
  std::string client_id;
  std::string client_secret;  ///< usually "${VAR}": only the oauth2 service gets the variable
  /// Endpoint overrides (empty: the kind's own; oidc: from the issuer's discovery document).
  std::string auth_url, token_url, device_url, revoke_url;
  std::string issuer;          ///< oidc: https://issuer (its /.well-known/openid-configuration)
  std::string tenant;          ///< microsoft: common, organizations, consumers or a tenant id
  std::vector<std::string> scopes;  ///< default scopes of a login; empty: the kind's
  std::string where;
  bool operator==(const oauth2_provider_settings&) const = default;
};

/// [oauth2]: the OAuth2 broker (weft-oauth2), the only process with client secrets and
/// refresh tokens.
struct oauth2_settings {
  bool configured = false;     ///< [oauth2] is in the file (the broker runs)
  std::string store = "encrypted";  ///< encrypted | memory
  std::string key_file;        ///< "": $WEFT_HOME/oauth2/store.key (without a systemd credential)
  std::uint32_t memory_ttl_s = 3600;  ///< memory store: tokens are forgotten after this
  std::uint16_t redirect_port = 0;    ///< the loopback flow's listener on 127.0.0.1 (0: any free port)
  std::map<std::string, oauth2_provider_settings> providers;  ///< by name
  /// [oauth2.grants.<agent>]: account → the scopes the agent's tools may ask for.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> grants;
  std::string where;
  bool operator==(const oauth2_settings&) const = default;
};

/// config::source when no file was read.
inline constexpr std::string_view builtin_config_source = "(built-in default)";

/// The whole validated configuration.
struct config {
  std::string source{builtin_config_source};  ///< file path, or builtin_config_source
  std::string home;          ///< [weft] home; empty: resolved by service::home_dir
  std::string runtime_dir;   ///< [weft] runtime_dir; empty: resolved by service::runtime_dir
  std::string log = "info";  ///< [weft] log, e.g. "debug,bus=trace"
  bus_settings bus;
  supervisor_settings supervisor;
  std::vector<service_spec> services;  ///< in file order; the bus is not one of them
  std::map<std::string, provider_settings> providers;
  llm_settings llm;
  std::map<std::string, agent_settings> agents;  ///< by id
  channels_settings channels;
  std::vector<agent_route> agent_routes;  ///< in file order
  routing_settings routing;
  delegation_settings delegation;
  memory_settings memory;
  std::optional<mcp_serve_settings> mcp;  ///< [mcp]; the built-in default config has one
  tools_settings tools;
  oauth2_settings oauth2;
  security_settings security;
  /// Environment variables services need from weftd's environment, by service name: the
  /// `${VAR}`s of the sections a service owns (llm: [providers] and key variables,
  /// chan-telegram/chan-web: [channels], tool-mcp: [tools]), and under "*" those of every
  /// other section but [services], which every service gets. A service re-reads the config
  /// without the others' secrets (service::load_service_config is lenient about unset
  /// variables).
  std::map<std::string, std::vector<std::string>> secret_vars;
  std::vector<std::string> warnings;   ///< "file:line:col: warning: …", in file order
  bool operator==(const config&) const = default;
};

/// Parses and validates config text so a bad file is refused as a whole; `source_name`
/// names it in messages. On failure the error (domain "weft", code "Config") lists every
/// problem, one "file:line:col: error: …" per line, sorted by position.
/// `lenient_env`: an unset `${VAR}` without fallback is substituted as empty instead of being
/// an error — for services re-reading the file weftd already checked, which are given only
/// their own sections' variables (config::secret_vars).
result<config> parse_config(std::string_view text, std::string_view source_name, bool lenient_env = false);

/// Reads and parses a file. An unreadable file is the error (domain "weft", code "Io")
/// "Failed to read config '<path>': <reason>".
result<config> load_config(const std::string& path, bool lenient_env = false);

/// The configuration used when there is no file: one agent `main` with the core tools, the
/// web chat on 127.0.0.1, the llm service with every built-in provider whose key is in the
/// environment (none: weft still starts and answers how to configure one).
config default_config();

/// The built-in provider table: name, style, base URL, key variable, default model.
const std::vector<provider_settings>& provider_table();

/// Services derived from the config, started by weftd beside [services.*]: llm, router,
/// agent-<id> (address agent/<id>), egress (for agents with network = "public"),
/// tool-fs-<id>/tool-shell-<id> (tool/fs/<id>,
/// tool/shell/<id>), tool-web, chan-telegram, chan-web — each only when something needs
/// it (no [agents]: none of them). `locate` maps a program name (weft-llm, weft-agent, …)
/// to its path. A [services.<name>] of the same name replaces the derived one: it is left
/// out of the result. The result is in a valid start order (each `after` comes earlier).
std::vector<service_spec> derived_services(const config& c,
                                           const std::function<std::string(std::string_view)>& locate);

/// The Claude Code executable delegated runs use: [delegation] claude_path as given, else
/// `claude` on this process's PATH (weftd's, which its services inherit); "" when there is
/// none — then no agent has the delegate family (the config loader drops it, so a stack
/// without Claude Code runs no delegate process; installing it and `weftctl reload` adds them).
std::string claude_executable(const delegation_settings& d);

/// The bus addresses of the tool processes agent `id` uses, in `p.families` order: tool/<f>
/// for the shared families (web, mcp), tool/<f>/<id> for the per-agent ones (fs, shell).
std::vector<std::string> tool_process_addresses(const tool_policy& p, std::string_view id);

/// Adds to `s.env` the variables of config::secret_vars[s.name] that are set in this
/// process's environment (weftd's): a service gets the secrets of its own sections only.
/// derived_services does it for what it derives; weftd does it for [services.<name>] too.
void add_secret_env(const config& c, service_spec& s);

/// The agent id a per-agent address belongs to: "work" for agent/work, tool/fs/work and
/// tool/fs/work/read_file; nullopt otherwise.
std::optional<std::string> agent_of_address(std::string_view address);

/// load_config(path), or default_config() when `path` is empty (no file was found).
result<config> load_config_or_default(const std::string& path, bool lenient_env = false);

/// Which config file to use, the same way in every tool: `explicit_path` if given, else
/// $WEFT_CONFIG (both returned even when missing, so the caller reports it), else the first
/// existing of $WEFT_HOME/clawft.toml, $HOME/.clawft/clawft.toml, /etc/weft/clawft.toml;
/// nullopt if none exists.
std::optional<std::string> find_config(std::string_view explicit_path);

/// Where a new config file goes so that find_config (and weftd's reload) picks it up first:
/// $WEFT_HOME/clawft.toml, else $HOME/.clawft/clawft.toml, else /etc/weft/clawft.toml.
std::string new_config_path();

}  // namespace weft::service
