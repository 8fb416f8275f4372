#include "forge.hh"

#include <weft/http/fetch.hh>

#include <algorithm>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::tools::forge {

namespace {

struct reply {
  long status = 0;
  std::string body;
};

/// One request to the forge's API (http::fetch, on the tool's worker thread); errors are
/// Tool.v1 Failed naming the forge.
result<reply> request(const forge& f, const std::string& method, const std::string& path, const json* body) {
  http::fetch_request q;
  q.method = method;
  q.url = f.api + path;
  q.headers = {"Accept: application/json", "User-Agent: weft-tool-forge"};
  if (body) {
    q.headers.push_back("Content-Type: application/json");
    q.body = body->dump();
  }
  if (!f.token.empty())
    q.headers.push_back(f.k == kind::github  ? "Authorization: Bearer " + f.token
                        : f.k == kind::gitea ? "Authorization: token " + f.token
                                             : "PRIVATE-TOKEN: " + f.token);
  q.timeout = f.timeout;
  q.max_body = 8u << 20;
  auto r = http::fetch(q);
  if (!r) return tool::make(tool::error_code::failed, "Failed to reach forge '{}' at {} ({})", f.name, f.api, r.err().message);
  return reply{r->status, std::move(r->body)};
}

/// The forge's JSON answer, or an error that says what the forge said.
result<json> call(const forge& f, const std::string& method, const std::string& path, const json* body,
                  std::string_view what) {
  auto r = request(f, method, path, body);
  if (!r) return r.take_error();
  auto j = json::parse(r->body, nullptr, false);
  if (r->status >= 200 && r->status < 300 && !j.is_discarded()) return j;
  std::string said = j.is_object() && j.contains("message") ? (j["message"].is_string() ? j["message"].get<std::string>()
                                                                                        : j["message"].dump())
                                                            : r->body.substr(0, 300);
  auto code = r->status == 401 || r->status == 403 ? tool::error_code::denied
              : r->status == 404 || r->status == 422 || r->status == 400 ? tool::error_code::bad_arguments
                                                                          : tool::error_code::failed;
  std::string hint = r->status == 401 ? " (check [tools.forges." + f.name + "] token)" : "";
  return tool::make(code, "Failed to {} on forge '{}': HTTP {}: {}{}", what, f.name, r->status, said, hint);
}

result<const forge*> forge_of(const std::map<std::string, forge>& forges, const json& args) {
  auto name = string_arg(args, "forge");
  if (!name) return name.take_error();
  auto it = forges.find(*name);
  if (it == forges.end()) {
    std::vector<std::string> names;
    for (auto& [n, f] : forges) names.push_back(n);
    return tool::make(tool::error_code::bad_arguments, "there is no forge '{}'; configured: {}", *name,
                      names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
  }
  return &it->second;
}

/// "owner/name" (letters, digits, '.', '-', '_'; GitLab may nest groups: a/b/c).
result<std::string> repo_of(const json& args, const forge& f) {
  auto repo = string_arg(args, "repo");
  if (!repo) return repo.take_error();
  bool ok = repo->find('/') != std::string::npos && repo->front() != '/' && repo->back() != '/' &&
            repo->find("..") == std::string::npos &&
            std::all_of(repo->begin(), repo->end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '-' || c == '_'; });
  if (ok && f.k != kind::gitlab && std::count(repo->begin(), repo->end(), '/') != 1) ok = false;
  if (!ok) return tool::make(tool::error_code::bad_arguments, "'{}' is not a repository name like owner/name", *repo);
  return *repo;
}

/// The forge and repository a call names.
struct target {
  const forge* f;
  std::string repo;
  std::uint64_t number = 0;  ///< with_number
};
result<target> target_of(const std::map<std::string, forge>& forges, const json& args, bool with_number) {
  auto f = forge_of(forges, args);
  if (!f) return f.take_error();
  auto repo = repo_of(args, **f);
  if (!repo) return repo.take_error();
  target t{*f, std::move(*repo)};
  if (with_number) {
    auto number = optional_uint_arg(args, "number");
    if (!number) return number.take_error();
    if (!number->has_value()) return tool::make(tool::error_code::bad_arguments, "missing 'number'");
    t.number = **number;
  }
  return t;
}

/// GitLab's project id: the path with '/' escaped.
std::string gitlab_project(const std::string& repo) {
  std::string out;
  for (char c : repo) out += c == '/' ? std::string("%2F") : std::string(1, c);
  return out;
}

/// Fields of a forge's answer, checked (json::value() would throw on a field of another type,
/// and the answer is outside input): a string or "", a non-negative number or 0.
std::string text_field(const json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::uint64_t number_field(const json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}
const json& object_field(const json& j, const char* key) {
  static const json none = json::object();
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_object() ? *it : none;
}

json pr_json(const forge& f, const json& p) {
  if (f.k == kind::gitlab)
    return {{"number", number_field(p, "iid")},          {"title", text_field(p, "title")},
            {"url", text_field(p, "web_url")},            {"state", text_field(p, "state")},
            {"head", text_field(p, "source_branch")},     {"base", text_field(p, "target_branch")}};
  return {{"number", number_field(p, "number")},
          {"title", text_field(p, "title")},
          {"url", text_field(p, "html_url")},
          {"state", text_field(p, "state")},
          {"head", text_field(object_field(p, "head"), "ref")},
          {"base", text_field(object_field(p, "base"), "ref")}};
}

}  // namespace

result<tool::result> pr_open(const std::map<std::string, forge>& forges, const json& args) {
  auto t = target_of(forges, args, false);
  if (!t) return t.take_error();
  auto head = string_arg(args, "head");
  if (!head) return head.take_error();
  auto base = string_arg(args, "base");
  if (!base) return base.take_error();
  auto title = string_arg(args, "title");
  if (!title) return title.take_error();
  auto body = optional_string_arg(args, "body");
  if (!body) return body.take_error();
  result<json> j = json();
  if (t->f->k == kind::gitlab) {
    json b{{"source_branch", *head}, {"target_branch", *base}, {"title", *title}, {"description", body->value_or("")}};
    j = call(*t->f, "POST", "/projects/" + gitlab_project(t->repo) + "/merge_requests", &b, "open a merge request");
  } else {
    json b{{"head", *head}, {"base", *base}, {"title", *title}, {"body", body->value_or("")}};
    j = call(*t->f, "POST", "/repos/" + t->repo + "/pulls", &b, "open a pull request");
  }
  if (!j) return j.take_error();
  auto p = pr_json(*t->f, *j);
  return answer(fmt::format("opened #{} on {}: {}\n", p["number"].get<long long>(), t->f->name, p["url"].get<std::string>()),
              p);
}

result<tool::result> pr_list(const std::map<std::string, forge>& forges, const json& args) {
  auto t = target_of(forges, args, false);
  if (!t) return t.take_error();
  auto state = optional_string_arg(args, "state");
  if (!state) return state.take_error();
  auto st = state->value_or("open");
  if (st != "open" && st != "closed" && st != "all")
    return tool::make(tool::error_code::bad_arguments, "state '{}' is not one of open, closed, all", st);
  result<json> j = json();
  if (t->f->k == kind::gitlab)
    j = call(*t->f, "GET", "/projects/" + gitlab_project(t->repo) + "/merge_requests?state=" + (st == "open" ? "opened" : st),
             nullptr, "list merge requests");
  else
    j = call(*t->f, "GET", "/repos/" + t->repo + "/pulls?state=" + st, nullptr, "list pull requests");
  if (!j) return j.take_error();
  json out = json::array();
  std::string text;
  if (j->is_array())
    for (auto& p : *j) {
      auto pj = pr_json(*t->f, p);
      text += fmt::format("#{} {} ({} → {}) {}\n", pj["number"].get<long long>(), pj["title"].get<std::string>(),
                          pj["head"].get<std::string>(), pj["base"].get<std::string>(), pj["url"].get<std::string>());
      out.push_back(std::move(pj));
    }
  return answer(text.empty() ? "no pull requests\n" : text, {{"pull_requests", std::move(out)}});
}

result<tool::result> pr_comment(const std::map<std::string, forge>& forges, const json& args) {
  auto t = target_of(forges, args, true);
  if (!t) return t.take_error();
  auto text = string_arg(args, "body");
  if (!text) return text.take_error();
  json b{{"body", *text}};
  auto path = t->f->k == kind::gitlab
                  ? fmt::format("/projects/{}/merge_requests/{}/notes", gitlab_project(t->repo), t->number)
                  : fmt::format("/repos/{}/issues/{}/comments", t->repo, t->number);
  auto j = call(*t->f, "POST", path, &b, "comment");
  if (!j) return j.take_error();
  return answer(fmt::format("commented on #{}\n", t->number), {{"number", t->number}, {"url", text_field(*j, "html_url")}});
}

result<tool::result> pr_status(const std::map<std::string, forge>& forges, const json& args) {
  auto t = target_of(forges, args, true);
  if (!t) return t.take_error();
  auto path = t->f->k == kind::gitlab ? fmt::format("/projects/{}/merge_requests/{}", gitlab_project(t->repo), t->number)
                                      : fmt::format("/repos/{}/pulls/{}", t->repo, t->number);
  auto j = call(*t->f, "GET", path, nullptr, "read the pull request");
  if (!j) return j.take_error();
  auto p = pr_json(*t->f, *j);
  auto merged_at = j->is_object() ? j->find("merged") : j->end();
  bool merged = t->f->k == kind::gitlab ? text_field(*j, "state") == "merged"
                                        : merged_at != j->end() && merged_at->is_boolean() && merged_at->get<bool>();
  json mergeable = t->f->k == kind::gitlab ? json(text_field(*j, "merge_status") == "can_be_merged")
                   : j->contains("mergeable")  ? (*j)["mergeable"]
                                               : json(nullptr);
  p["merged"] = merged;
  p["mergeable"] = mergeable;
  return answer(fmt::format("#{} {}: {}{}\n", t->number, p["state"].get<std::string>(),
                          merged ? "merged" : "not merged",
                          mergeable.is_boolean() ? (mergeable.get<bool>() ? ", can be merged" : ", has conflicts") : ""),
              p);
}

namespace {

/// An http(s) URL taken apart for comparing origins: scheme, host (lower case), port, path.
struct url_parts {
  std::string scheme, host, port, path;
};

/// nullopt for anything but http(s)://host[:port][/path] — user information ("user@") included,
/// since "https://forge.example@evil.example/" is evil.example's.
std::optional<url_parts> parse_url(std::string_view url) {
  url_parts u;
  if (url.rfind("https://", 0) == 0) u.scheme = "https";
  else if (url.rfind("http://", 0) == 0) u.scheme = "http";
  else return std::nullopt;
  auto rest = url.substr(u.scheme.size() + 3);
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    if (u.port.empty() || !std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
  }
  if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
  u.host = std::string(authority);
  std::transform(u.host.begin(), u.host.end(), u.host.begin(), [](unsigned char c) { return std::tolower(c); });
  return u;
}

/// Whether `url` is under `prefix`: the same scheme, host and port, and the path beneath the
/// prefix's at a segment boundary.
bool covers(const url_parts& prefix, const url_parts& url) {
  if (prefix.scheme != url.scheme || prefix.host != url.host || prefix.port != url.port) return false;
  auto base = prefix.path;
  if (base.empty() || base.back() != '/') base += '/';
  return url.path.rfind(base, 0) == 0 || url.path + "/" == base;
}

}  // namespace

std::vector<std::string> git_prefixes(const forge& f) {
  if (!f.git.empty()) return f.git;
  auto u = parse_url(f.api);
  if (!u) return {};
  // GitHub's API has a host of its own; the others serve git where their API is.
  auto host = u->host == "api.github.com" ? std::string("github.com") : u->host;
  bool default_port = u->port == (u->scheme == "https" ? "443" : "80");
  return {u->scheme + "://" + host + (default_port ? "" : ":" + u->port) + "/"};
}

result<tool::result> git_credential(const std::map<std::string, forge>& forges, const std::set<std::string>& agents,
                                    const json& args, const std::string& caller) {
  auto url = string_arg(args, "url");
  if (!url) return url.take_error();
  // Only a git tool process, as the bus authenticated it: tool/git/<agent>.
  if (caller.rfind("tool/git/", 0) != 0 || caller.size() == 9 || caller.find('/', 9) != std::string::npos)
    return tool::make(tool::error_code::denied, "Failed to give git credentials to '{}': only the git tools get them",
                      caller.empty() ? "an unknown caller" : caller);
  auto agent = caller.substr(9);
  if (!agents.count(agent))
    return tool::make(tool::error_code::denied,
                      "Failed to give git credentials for '{}': agent '{}' does not list the forge family", *url, agent);
  auto target = parse_url(*url);
  if (!target)
    return tool::make(tool::error_code::bad_arguments,
                      "Failed to give git credentials for '{}': only http(s) remotes without user information take forge tokens",
                      *url);
  const forge* best = nullptr;
  std::size_t best_len = 0;
  for (auto& [name, f] : forges)
    for (auto& p : git_prefixes(f)) {
      auto pp = parse_url(p);
      if (pp && covers(*pp, *target) && pp->path.size() >= best_len) best = &f, best_len = pp->path.size();
    }
  if (!best)
    return tool::make(tool::error_code::failed,
                      "No forge of [tools.forges] covers '{}' (their git URLs: set git = [\"https://host/\"] on the forge)", *url);
  if (best->token.empty())
    return tool::make(tool::error_code::failed, "Forge '{}' covers '{}' but has no token", best->name, *url);
  std::string user = !best->git_user.empty() ? best->git_user : best->k == kind::github ? "x-access-token" : "oauth2";
  tool::result r;
  r.content = fmt::format("a token of forge '{}' for {}", best->name, *url);  // the secret only in structured
  r.structured = json{{"forge", best->name}, {"username", user}, {"password", best->token}}.dump();
  return r;
}

std::vector<tool_def> forge_tools(std::map<std::string, forge> forges, std::set<std::string> git_agents) {
  auto shared = std::make_shared<const std::map<std::string, forge>>(std::move(forges));
  auto bind = [shared](auto fn) {
    return [shared, fn](const json& a, const call_context&) { return fn(*shared, a); };
  };
  constexpr std::string_view common =
      R"("forge":{"type":"string","description":"A forge of [tools.forges]"},"repo":{"type":"string","description":"owner/name"})";
  auto schema = [&](std::string_view props, std::string_view required) {
    return fmt::format(R"({{"type":"object","properties":{{{},{}}},"required":["forge","repo"{}]}})", common, props,
                       required);
  };
  std::vector<tool_def> out;
  out.push_back({{"pr_open", "Open a pull request (GitLab: a merge request) from branch head into base; returns its number and URL.",
                  schema(R"("head":{"type":"string"},"base":{"type":"string"},"title":{"type":"string"},"body":{"type":"string"})",
                         R"(,"head","base","title")"),
                  ""},
                 bind(pr_open)});
  out.push_back({{"pr_list", "List pull requests: number, title, branches, URL.",
                  schema(R"("state":{"type":"string","enum":["open","closed","all"]})", ""), ""},
                 bind(pr_list)});
  out.push_back({{"pr_comment", "Comment on a pull request.",
                  schema(R"("number":{"type":"integer"},"body":{"type":"string"})", R"(,"number","body")"), ""},
                 bind(pr_comment)});
  out.push_back({{"pr_status", "Whether a pull request is open, merged, and can be merged.",
                  schema(R"("number":{"type":"integer"})", R"(,"number")"), ""},
                 bind(pr_status)});
  // Not for models: the git tools of the agents with the forge family ask it per call.
  tool_def cred{{"git_credential", "The token for an https git remote a forge covers (for weft's git tools only).",
                 R"({"type":"object","properties":{"url":{"type":"string"}},"required":["url"]})", ""},
                [shared, agents = std::move(git_agents)](const json& a, const call_context& ctx) {
                  return git_credential(*shared, agents, a, ctx.caller);
                }};
  cred.hidden = true;
  out.push_back(std::move(cred));
  return out;
}

}  // namespace weft::tools::forge
