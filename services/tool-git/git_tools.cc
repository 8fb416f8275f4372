#include "git_tools.hh"

#include <git2.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::tools::git {

namespace {

// ---- libgit2 handles ----------------------------------------------------------------------

template <class T, void (*Free)(T*)>
struct freer {
  void operator()(T* p) const { Free(p); }
};
using repo_ptr = std::unique_ptr<git_repository, freer<git_repository, git_repository_free>>;
using object_ptr = std::unique_ptr<git_object, freer<git_object, git_object_free>>;
using commit_ptr = std::unique_ptr<git_commit, freer<git_commit, git_commit_free>>;
using tree_ptr = std::unique_ptr<git_tree, freer<git_tree, git_tree_free>>;
using diff_ptr = std::unique_ptr<git_diff, freer<git_diff, git_diff_free>>;
using stats_ptr = std::unique_ptr<git_diff_stats, freer<git_diff_stats, git_diff_stats_free>>;
using status_ptr = std::unique_ptr<git_status_list, freer<git_status_list, git_status_list_free>>;
using walk_ptr = std::unique_ptr<git_revwalk, freer<git_revwalk, git_revwalk_free>>;
using blame_ptr = std::unique_ptr<git_blame, freer<git_blame, git_blame_free>>;
using ref_ptr = std::unique_ptr<git_reference, freer<git_reference, git_reference_free>>;
using index_ptr = std::unique_ptr<git_index, freer<git_index, git_index_free>>;
using sig_ptr = std::unique_ptr<git_signature, freer<git_signature, git_signature_free>>;
using blob_ptr = std::unique_ptr<git_blob, freer<git_blob, git_blob_free>>;
using branch_iter_ptr = std::unique_ptr<git_branch_iterator, freer<git_branch_iterator, git_branch_iterator_free>>;
using remote_ptr = std::unique_ptr<git_remote, freer<git_remote, git_remote_free>>;
using annotated_ptr = std::unique_ptr<git_annotated_commit, freer<git_annotated_commit, git_annotated_commit_free>>;

struct buf {
  git_buf b = GIT_BUF_INIT;
  ~buf() { git_buf_dispose(&b); }
  std::string str() const { return b.ptr ? std::string(b.ptr, b.size) : std::string(); }
};

/// "Failed to <what>: <libgit2's message>" as a Tool.v1 error (`code`: Failed unless given).
error failed_git(std::string_view what, tool::error_code code = tool::error_code::failed) {
  const git_error* e = git_error_last();
  return tool::make(code, "Failed to {}: {}", what, e && e->message ? e->message : "unknown libgit2 error");
}

std::string oid_hex(const git_oid* id) {
  char s[GIT_OID_HEXSZ + 1];
  git_oid_tostr(s, sizeof s, id);
  return s;
}

/// The repository named by args.repo (default: the workspace itself), beneath the
/// workspace; discovery stops at the workspace's parent, so a workspace that is not a
/// repository never finds one around it.
result<repo_ptr> open_repo(const workspace& ws, const json& args) {
  auto repo = optional_string_arg(args, "repo");
  if (!repo) return repo.take_error();
  auto rel = ws.relative(repo->value_or("."), "open the repository");
  if (!rel) return rel.take_error();
  auto path = rel->empty() ? ws.root() : ws.root() + "/" + *rel;
  auto ceiling = ws.root().substr(0, ws.root().rfind('/'));
  if (ceiling.empty()) ceiling = "/";
  git_repository* r = nullptr;
  if (git_repository_open_ext(&r, path.c_str(), 0, ceiling.c_str()) != 0)
    return failed_git(fmt::format("open a git repository at '{}'", repo->value_or(".")),
                     tool::error_code::bad_arguments);
  repo_ptr out(r);
  // A repository found above `repo` must still be inside the workspace.
  const char* wd = git_repository_workdir(r);
  std::string top = wd ? wd : git_repository_path(r);
  if (top.rfind(ws.root(), 0) != 0) return ws.denied(repo->value_or("."), "open the repository");
  return out;
}

/// The workspace-relative path `p` as a path inside the repository (for blame, pathspecs).
result<std::string> repo_path(const workspace& ws, git_repository* r, const std::string& p) {
  auto rel = ws.relative(p, "use");
  if (!rel) return rel.take_error();
  std::string full = ws.root() + "/" + *rel;
  std::string wd = git_repository_workdir(r) ? git_repository_workdir(r) : "";
  if (wd.empty() || full.rfind(wd, 0) != 0)
    return tool::make(tool::error_code::bad_arguments, "'{}' is not inside the repository", p);
  return full.substr(wd.size());
}

result<commit_ptr> commit_of(git_repository* r, const std::string& rev) {
  git_object* o = nullptr;
  if (git_revparse_single(&o, r, rev.c_str()) != 0)
    return failed_git(fmt::format("find revision '{}'", rev), tool::error_code::bad_arguments);
  object_ptr obj(o);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, o, GIT_OBJECT_COMMIT) != 0)
    return failed_git(fmt::format("find a commit for '{}'", rev), tool::error_code::bad_arguments);
  return commit_ptr(reinterpret_cast<git_commit*>(peeled));
}

/// Text cut at `max` bytes (at a line end when there is one), with a note saying so.
std::string capped(std::string text, std::size_t max, bool& cut) {
  cut = text.size() > max;
  if (!cut) return text;
  auto end = text.rfind('\n', max);
  auto total = text.size();
  text.resize(end == std::string::npos ? max : end + 1);
  text += fmt::format("[… cut: {} of {} bytes shown; narrow it with a path or a smaller range]\n", text.size(), total);
  return text;
}

tool::result text_result(std::string text, json structured, bool cut = false) {
  tool::result r;
  r.content = std::move(text);
  r.truncated = cut;
  r.structured = structured.dump();
  return r;
}

std::string status_code(unsigned s, bool index) {
  if (index) {
    if (s & GIT_STATUS_INDEX_NEW) return "added";
    if (s & GIT_STATUS_INDEX_MODIFIED) return "modified";
    if (s & GIT_STATUS_INDEX_DELETED) return "deleted";
    if (s & GIT_STATUS_INDEX_RENAMED) return "renamed";
    if (s & GIT_STATUS_INDEX_TYPECHANGE) return "typechange";
  } else {
    if (s & GIT_STATUS_WT_NEW) return "untracked";
    if (s & GIT_STATUS_WT_MODIFIED) return "modified";
    if (s & GIT_STATUS_WT_DELETED) return "deleted";
    if (s & GIT_STATUS_WT_RENAMED) return "renamed";
    if (s & GIT_STATUS_WT_TYPECHANGE) return "typechange";
  }
  return "";
}

std::string current_branch(git_repository* r) {
  git_reference* h = nullptr;
  int rc = git_repository_head(&h, r);
  if (rc == GIT_EUNBORNBRANCH) {
    git_reference* sym = nullptr;
    if (git_reference_lookup(&sym, r, "HEAD") == 0) {
      ref_ptr s(sym);
      if (const char* t = git_reference_symbolic_target(sym)) {
        std::string name = t;
        if (name.rfind("refs/heads/", 0) == 0) name = name.substr(11);
        return name + " (no commits yet)";
      }
    }
    return "(no commits yet)";
  }
  if (rc != 0) return "(unknown)";
  ref_ptr head(h);
  if (git_repository_head_detached(r) == 1) return "(detached at " + oid_hex(git_reference_target(h)).substr(0, 7) + ")";
  return git_reference_shorthand(h);
}

/// A diff as a patch (at most `max` bytes kept: the rest is not even built) and its stats.
struct patch_text {
  std::string text;
  std::size_t max;
  bool cut = false;
};
constexpr int patch_full = 1;  // the print callback's "stop": the patch reached its cap

result<std::pair<std::string, json>> patch_of(git_diff* d, std::size_t max, bool& cut) {
  patch_text out{{}, max};
  auto cb = [](const git_diff_delta*, const git_diff_hunk*, const git_diff_line* l, void* payload) -> int {
    auto& p = *static_cast<patch_text*>(payload);
    if (p.text.size() > p.max) {
      p.cut = true;
      return patch_full;
    }
    if (l->origin == GIT_DIFF_LINE_ADDITION || l->origin == GIT_DIFF_LINE_DELETION || l->origin == GIT_DIFF_LINE_CONTEXT)
      p.text += l->origin;
    p.text.append(l->content, l->content_len);
    return 0;
  };
  int rc = git_diff_print(d, GIT_DIFF_FORMAT_PATCH, cb, &out);
  if (rc != 0 && rc != patch_full) return failed_git("format the diff");
  git_diff_stats* s = nullptr;
  if (git_diff_get_stats(&s, d) != 0) return failed_git("count the diff");
  stats_ptr stats(s);
  json files = json::array();
  for (std::size_t i = 0; i < git_diff_num_deltas(d); ++i) {
    auto* delta = git_diff_get_delta(d, i);
    files.push_back({{"path", delta->new_file.path},
                     {"old_path", delta->old_file.path},
                     {"status", std::string(1, git_diff_status_char(delta->status))},
                     {"binary", (delta->flags & GIT_DIFF_FLAG_BINARY) != 0}});
  }
  json st{{"files_changed", git_diff_stats_files_changed(s)},
          {"insertions", git_diff_stats_insertions(s)},
          {"deletions", git_diff_stats_deletions(s)},
          {"files", std::move(files)}};
  cut = out.cut;
  return std::pair{std::move(out.text), std::move(st)};
}

/// Diff options every git tool uses: files over `max_file` are compared as binary (no line
/// diff of a 100 MB file), `pathspec` (may be null) limits the diff.
git_diff_options diff_options(std::size_t max_file, char** pathspec) {
  git_diff_options o = GIT_DIFF_OPTIONS_INIT;
  o.max_size = static_cast<git_off_t>(max_file);
  if (pathspec) o.pathspec = {pathspec, 1};
  return o;
}

result<tree_ptr> tree_of(git_commit* c) {
  git_tree* t = nullptr;
  if (git_commit_tree(&t, c) != 0) return failed_git("read a commit's tree");
  return tree_ptr(t);
}

/// The diff a commit made: its tree against its first parent's (none for a root commit).
result<diff_ptr> commit_diff(git_repository* r, git_commit* c, const git_diff_options& o) {
  auto tree = tree_of(c);
  if (!tree) return tree.take_error();
  tree_ptr parent_tree;
  if (git_commit_parentcount(c) > 0) {
    git_commit* p = nullptr;
    if (git_commit_parent(&p, c, 0) != 0) return failed_git("read a parent commit");
    commit_ptr pp(p);
    auto pt = tree_of(p);
    if (!pt) return pt.take_error();
    parent_tree = std::move(*pt);
  }
  git_diff* d = nullptr;
  if (git_diff_tree_to_tree(&d, r, parent_tree.get(), tree->get(), &o) != 0) return failed_git("diff a commit");
  return diff_ptr(d);
}

/// The short name of the branch HEAD is on (an error when HEAD is unborn or detached).
result<std::string> head_branch(git_repository* r) {
  git_reference* h = nullptr;
  if (git_repository_head(&h, r) != 0) return failed_git("find the current branch");
  ref_ptr head(h);
  return std::string(git_reference_shorthand(h));
}

std::string signature_text(const git_signature* s) {
  return fmt::format("{} <{}>", s->name ? s->name : "", s->email ? s->email : "");
}

json commit_json(const git_commit* c) {
  auto* a = git_commit_author(c);
  return json{{"id", oid_hex(git_commit_id(c))},
              {"author", a->name ? a->name : ""},
              {"email", a->email ? a->email : ""},
              {"time", a->when.time},
              {"summary", git_commit_summary(const_cast<git_commit*>(c)) ? git_commit_summary(const_cast<git_commit*>(c)) : ""},
              {"parents", git_commit_parentcount(c)}};
}


/// A remote's URL as the tools allow it: a network URL (https://, ssh://, git@host:path) as
/// it is, or a local repository, which must be beneath the workspace (a workspace-relative
/// path, or an absolute path or file:// URL inside it). Returns what libgit2 is given.
result<std::string> allowed_url(const workspace& ws, const std::string& url, std::string_view verb) {
  bool network = url.find("://") != std::string::npos && url.rfind("file://", 0) != 0;
  bool scp_like = url.find("://") == std::string::npos && url.find('@') != std::string::npos &&
                  url.find(':') != std::string::npos;
  if (network || scp_like) return url;
  std::string path = url.rfind("file://", 0) == 0 ? url.substr(7) : url;
  auto rel = ws.relative(path, verb);
  if (!rel) return rel.take_error();
  return rel->empty() ? ws.root() : ws.root() + "/" + *rel;
}

/// The remote named `name` (default origin), its URL checked as allowed_url() does.
result<remote_ptr> remote_of(const workspace& ws, git_repository* r, const std::string& name, std::string_view verb) {
  git_remote* rm = nullptr;
  if (git_remote_lookup(&rm, r, name.c_str()) != 0)
    return failed_git(fmt::format("find remote '{}'", name), tool::error_code::bad_arguments);
  remote_ptr remote(rm);
  const char* url = git_remote_url(rm);
  if (auto ok = allowed_url(ws, url ? url : "", verb); !ok) return ok.take_error();
  // A push goes to pushurl when the repository sets one: it is checked the same way.
  if (const char* push = git_remote_pushurl(rm); push && *push)
    if (auto ok = allowed_url(ws, push, verb); !ok) return ok.take_error();
  return remote;
}

/// What the remote callbacks of one fetch, clone or push see.
struct remote_call {
  const git_limits* lim;
  int asked = 0;          ///< credential requests so far (a second one means the first was refused)
  std::string rejected;   ///< a push's refused ref
};

/// Credentials for the remote, asked for per call (git_limits::credentials): a user name
/// and token for http(s); nothing else (no SSH keys, no helpers, nothing from the user's
/// configuration). A second request in one call means the remote refused the first.
int credentials_for(git_credential** out, const char* url, const char*, unsigned allowed, void* payload) {
  auto& call = *static_cast<remote_call*>(payload);
  std::string where = url ? url : "the remote";
  auto refuse = [&](std::string why) {
    git_error_set_str(GIT_ERROR_NET, why.c_str());
    return GIT_EUSER;
  };
  if (call.asked++ > 0) return refuse(fmt::format("'{}' refused the credentials weft gave", where));
  if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
    return refuse(fmt::format("'{}' asks for an SSH key; weft's git tools give only https tokens (of [tools.forges])", where));
  if (!call.lim->credentials)
    return refuse(fmt::format("'{}' asks for credentials and this git tool has no way to get them", where));
  auto c = call.lim->credentials(where);
  if (!c) return refuse(fmt::format("'{}' asks for credentials: {}", where, c.err().message));
  int rc = git_credential_userpass_plaintext_new(out, c->username.c_str(), c->password.c_str());
  // The token lives on only in libgit2's credential, which it frees after this request.
  std::fill(c->password.begin(), c->password.end(), '\0');
  return rc;
}

/// The callbacks, proxy and redirect rule every remote operation gets. No redirects: the
/// credential callback is told the configured URL, so a redirect elsewhere would get the
/// token meant for the configured host.
template <class Options>
void remote_options(Options& o, remote_call& call) {
  auto& cb = o.callbacks;
  auto& proxy = o.proxy_opts;
  o.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
  cb.credentials = credentials_for;
  cb.payload = &call;
  if (!call.lim->proxy.empty()) {
    proxy.type = GIT_PROXY_SPECIFIED;
    proxy.url = call.lim->proxy.c_str();
  }
}
}  // namespace

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // No global or XDG config: the tool process is not the user (its sandbox cannot read
    // ~/.gitconfig, and must not take the user's identity or credential helpers from it).
    // The repository's own config and /etc/gitconfig apply.
    for (int level : {GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_PROGRAMDATA})
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
  });
}

result<tool::result> status(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  git_status_options o = GIT_STATUS_OPTIONS_INIT;
  o.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  // UPDATE_INDEX, as git status does: entries whose stat data is stale (files written in the
  // second the index was) are hashed once and refreshed, not on every later call.
  o.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
            GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX | GIT_STATUS_OPT_SORT_CASE_SENSITIVELY | GIT_STATUS_OPT_UPDATE_INDEX;
  git_status_list* l = nullptr;
  if (git_status_list_new(&l, r->get(), &o) != 0) return failed_git("read the status");
  status_ptr list(l);
  auto branch_name = current_branch(r->get());
  json entries = json::array();
  std::string text = fmt::format("On branch {}\n", branch_name);
  auto n = git_status_list_entrycount(l);
  for (std::size_t i = 0; i < n && i < lim.max_status_entries; ++i) {
    auto* e = git_status_byindex(l, i);
    const char* path = e->index_to_workdir ? e->index_to_workdir->new_file.path
                       : e->head_to_index  ? e->head_to_index->new_file.path
                                           : "";
    auto staged = status_code(e->status, true), unstaged = status_code(e->status, false);
    if (staged.empty() && unstaged.empty()) continue;
    entries.push_back({{"path", path}, {"staged", staged}, {"unstaged", unstaged}});
    text += fmt::format("  {:<10} {:<10} {}\n", staged.empty() ? "-" : staged, unstaged.empty() ? "-" : unstaged, path);
  }
  if (entries.empty()) text += "nothing to commit, working tree clean\n";
  if (n > lim.max_status_entries) text += fmt::format("[… {} more entries not shown]\n", n - lim.max_status_entries);
  return text_result(std::move(text), {{"branch", branch_name}, {"entries", std::move(entries)}}, n > lim.max_status_entries);
}

result<tool::result> log(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto rev = optional_string_arg(args, "rev");
  auto count = optional_uint_arg(args, "max_count");
  auto author = optional_string_arg(args, "author");
  auto grep = optional_string_arg(args, "grep");
  auto path = optional_string_arg(args, "path");
  auto skip = optional_uint_arg(args, "skip");
  if (!skip) return skip.take_error();
  if (!rev) return rev.take_error();
  if (!count) return count.take_error();
  if (!author) return author.take_error();
  if (!grep) return grep.take_error();
  if (!path) return path.take_error();
  auto max = std::min<std::size_t>(count->value_or(20), lim.max_log);
  auto start = commit_of(r->get(), rev->value_or("HEAD"));
  if (!start) return start.take_error();
  std::string in_repo;
  if (path->has_value()) {
    auto p = repo_path(ws, r->get(), **path);
    if (!p) return p.take_error();
    in_repo = *p;
  }
  git_revwalk* w = nullptr;
  if (git_revwalk_new(&w, r->get()) != 0) return failed_git("walk the history");
  walk_ptr walk(w);
  git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);  // git log's order
  git_revwalk_push(w, git_commit_id(start->get()));
  json commits = json::array();
  std::string text;
  git_oid id;
  std::uint64_t to_skip = skip->value_or(0), matched = 0;
  bool more = false;
  while (git_revwalk_next(&id, w) == 0) {
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, r->get(), &id) != 0) return failed_git("read a commit");
    commit_ptr cp(c);
    auto* a = git_commit_author(c);
    if (author->has_value() && std::string(a->name).find(**author) == std::string::npos &&
        std::string(a->email).find(**author) == std::string::npos)
      continue;
    const char* msg = git_commit_message(c);
    if (grep->has_value() && (!msg || std::string(msg).find(**grep) == std::string::npos)) continue;
    if (!in_repo.empty()) {
      // Only commits that changed the path (against their first parent, or added it).
      char* spec = in_repo.data();
      auto d = commit_diff(r->get(), c, diff_options(lim.max_diff_file_bytes, &spec));
      if (!d) return d.take_error();
      if (git_diff_num_deltas(d->get()) == 0) continue;
    }
    if (matched++ < to_skip) continue;
    if (commits.size() == max) {
      more = true;  // one more matches: say there is a next page
      break;
    }
    auto j = commit_json(c);
    text += fmt::format("{} {} {} — {}\n", j["id"].get<std::string>().substr(0, 12), a->name ? a->name : "",
                        j["time"].get<long long>(), j["summary"].get<std::string>());
    commits.push_back(std::move(j));
  }
  if (commits.empty()) text = "no commits match\n";
  if (more) text += fmt::format("[… more commits: call again with skip = {}]\n", to_skip + commits.size());
  json out{{"commits", std::move(commits)}, {"more", more}};
  if (more) out["next_skip"] = to_skip + max;
  return text_result(std::move(text), std::move(out));
}

result<tool::result> diff(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto from = optional_string_arg(args, "from");
  if (!from) return from.take_error();
  auto to = optional_string_arg(args, "to");
  if (!to) return to.take_error();
  auto cached = optional_bool_arg(args, "cached");
  if (!cached) return cached.take_error();
  auto path = optional_string_arg(args, "path");
  if (!path) return path.take_error();
  std::string in_repo;
  char* spec = nullptr;
  if (path->has_value()) {
    auto p = repo_path(ws, r->get(), **path);
    if (!p) return p.take_error();
    in_repo = *p;
    spec = in_repo.data();
  }
  auto o = diff_options(lim.max_diff_file_bytes, spec ? &spec : nullptr);
  git_diff* d = nullptr;
  int rc = 0;
  if (from->has_value()) {
    // Between two commits (to: default HEAD), or from a commit to the working tree (to = "").
    auto a = commit_of(r->get(), **from);
    if (!a) return a.take_error();
    auto ta = tree_of(a->get());
    if (!ta) return ta.take_error();
    if (to->has_value() && !(*to)->empty()) {
      auto b = commit_of(r->get(), **to);
      if (!b) return b.take_error();
      auto tb = tree_of(b->get());
      if (!tb) return tb.take_error();
      rc = git_diff_tree_to_tree(&d, r->get(), ta->get(), tb->get(), &o);
    } else {
      rc = git_diff_tree_to_workdir_with_index(&d, r->get(), ta->get(), &o);
    }
  } else if (cached->value_or(false)) {
    tree_ptr head_tree;
    if (auto h = commit_of(r->get(), "HEAD")) {
      auto t = tree_of(h->get());
      if (!t) return t.take_error();
      head_tree = std::move(*t);
    }
    rc = git_diff_tree_to_index(&d, r->get(), head_tree.get(), nullptr, &o);
  } else {
    // As git diff: tracked files only (git_status names the untracked ones).
    rc = git_diff_index_to_workdir(&d, r->get(), nullptr, &o);
  }
  if (rc != 0) return failed_git("compute the diff");
  diff_ptr dp(d);
  bool cut = false;
  auto p = patch_of(d, lim.max_output_bytes, cut);
  if (!p) return p.take_error();
  bool capped_more = false;
  auto text = p->first.empty() ? std::string("no differences\n") : capped(std::move(p->first), lim.max_output_bytes, capped_more);
  if (cut && !capped_more) text += "[… cut: the patch is longer; narrow it with a path or a smaller range]\n";
  return text_result(std::move(text), std::move(p->second), cut || capped_more);
}

result<tool::result> show(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto rev = optional_string_arg(args, "rev");
  if (!rev) return rev.take_error();
  auto c = commit_of(r->get(), rev->value_or("HEAD"));
  if (!c) return c.take_error();
  auto d = commit_diff(r->get(), c->get(), diff_options(lim.max_diff_file_bytes, nullptr));
  if (!d) return d.take_error();
  bool patch_cut = false;
  auto p = patch_of(d->get(), lim.max_output_bytes, patch_cut);
  if (!p) return p.take_error();
  auto j = commit_json(c->get());
  auto* a = git_commit_author(c->get());
  std::string text = fmt::format("commit {}\nAuthor: {}\nDate:   {}\n\n{}\n\n", j["id"].get<std::string>(),
                                 signature_text(a), a->when.time, git_commit_message(c->get()) ? git_commit_message(c->get()) : "");
  text += p->first;
  bool cut = false;
  text = capped(std::move(text), lim.max_output_bytes, cut);
  if (patch_cut && !cut) text += "[… cut: the patch is longer]\n";
  cut = cut || patch_cut;
  j["diff"] = std::move(p->second);
  return text_result(std::move(text), std::move(j), cut);
}

result<tool::result> blame(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto file = string_arg(args, "path");
  if (!file) return file.take_error();
  auto rev = optional_string_arg(args, "rev");
  if (!rev) return rev.take_error();
  auto in_repo = repo_path(ws, r->get(), *file);
  if (!in_repo) return in_repo.take_error();
  auto c = commit_of(r->get(), rev->value_or("HEAD"));
  if (!c) return c.take_error();
  git_blame_options o = GIT_BLAME_OPTIONS_INIT;
  git_oid_cpy(&o.newest_commit, git_commit_id(c->get()));
  git_blame* b = nullptr;
  if (git_blame_file(&b, r->get(), in_repo->c_str(), &o) != 0)
    return failed_git(fmt::format("blame '{}'", *file), tool::error_code::bad_arguments);
  blame_ptr bp(b);
  // The file's lines as of that commit.
  git_object* o2 = nullptr;
  auto spec = fmt::format("{}:{}", oid_hex(git_commit_id(c->get())), *in_repo);
  if (git_revparse_single(&o2, r->get(), spec.c_str()) != 0) return failed_git(fmt::format("read '{}'", *file));
  blob_ptr blob(reinterpret_cast<git_blob*>(o2));
  if (git_blob_is_binary(blob.get()))
    return tool::make(tool::error_code::bad_arguments, "'{}' is a binary file: there are no lines to blame", *file);
  std::string content(static_cast<const char*>(git_blob_rawcontent(blob.get())), git_blob_rawsize(blob.get()));
  std::vector<std::string_view> lines;
  for (std::size_t s = 0; s < content.size();) {
    auto e = content.find('\n', s);
    if (e == std::string::npos) e = content.size();
    lines.push_back(std::string_view(content).substr(s, e - s));
    s = e + 1;
  }
  json out = json::array();
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto* h = git_blame_get_hunk_byline(b, i + 1);
    if (!h) continue;
    auto id = oid_hex(&h->final_commit_id);
    auto who = h->final_signature && h->final_signature->name ? h->final_signature->name : "";
    out.push_back({{"line", i + 1}, {"commit", id}, {"author", who}});
    text += fmt::format("{} ({} {:>4}) {}\n", id.substr(0, 8), who, i + 1, lines[i]);
  }
  bool cut = false;
  text = capped(std::move(text), lim.max_output_bytes, cut);
  return text_result(std::move(text), {{"path", *file}, {"lines", std::move(out)}}, cut);
}

result<tool::result> branch(const workspace& ws, const json& args, const git_limits&) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto action = optional_string_arg(args, "action");
  if (!action) return action.take_error();
  auto name = optional_string_arg(args, "name");
  if (!name) return name.take_error();
  auto act = action->value_or("list");
  auto need_name = [&]() -> weft::status {
    if (!name->has_value() || (*name)->empty())
      return tool::make(tool::error_code::bad_arguments, "git_branch {} needs 'name'", act);
    return {};
  };
  if (act == "list") {
    git_branch_iterator* it = nullptr;
    if (git_branch_iterator_new(&it, r->get(), GIT_BRANCH_LOCAL) != 0) return failed_git("list the branches");
    branch_iter_ptr ip(it);
    git_reference* ref = nullptr;
    git_branch_t type;
    json names = json::array();
    std::string text, current;
    while (git_branch_next(&ref, &type, it) == 0) {
      ref_ptr rp(ref);
      const char* n = nullptr;
      git_branch_name(&n, ref);
      bool head = git_branch_is_head(ref) == 1;
      if (head) current = n;
      names.push_back(n);
      text += fmt::format("{} {}\n", head ? "*" : " ", n);
    }
    return text_result(text.empty() ? "no branches yet\n" : text, {{"branches", names}, {"current", current}});
  }
  if (auto s = need_name(); !s) return s.take_error();
  if (act == "create") {
    auto from = optional_string_arg(args, "from");
    if (!from) return from.take_error();
    auto c = commit_of(r->get(), from->value_or("HEAD"));
    if (!c) return c.take_error();
    git_reference* ref = nullptr;
    if (git_branch_create(&ref, r->get(), (*name)->c_str(), c->get(), 0) != 0)
      return failed_git(fmt::format("create branch '{}'", **name), tool::error_code::bad_arguments);
    ref_ptr rp(ref);
    return text_result(fmt::format("created branch '{}' at {}\n", **name, oid_hex(git_commit_id(c->get())).substr(0, 12)),
                       {{"branch", **name}, {"commit", oid_hex(git_commit_id(c->get()))}});
  }
  if (act == "switch") {
    git_reference* ref = nullptr;
    if (git_branch_lookup(&ref, r->get(), (*name)->c_str(), GIT_BRANCH_LOCAL) != 0)
      return failed_git(fmt::format("find branch '{}'", **name), tool::error_code::bad_arguments);
    ref_ptr rp(ref);
    git_object* target = nullptr;
    if (git_reference_peel(&target, ref, GIT_OBJECT_COMMIT) != 0) return failed_git("read the branch's commit");
    object_ptr tp(target);
    git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
    co.checkout_strategy = GIT_CHECKOUT_SAFE;  // local changes that would be lost stop it
    if (git_checkout_tree(r->get(), target, &co) != 0)
      return failed_git(fmt::format("switch to '{}' (commit or stash your changes first)", **name));
    if (git_repository_set_head(r->get(), git_reference_name(ref)) != 0) return failed_git("move HEAD");
    return text_result(fmt::format("switched to branch '{}'\n", **name), {{"branch", **name}});
  }
  if (act == "delete") {
    git_reference* ref = nullptr;
    if (git_branch_lookup(&ref, r->get(), (*name)->c_str(), GIT_BRANCH_LOCAL) != 0)
      return failed_git(fmt::format("find branch '{}'", **name), tool::error_code::bad_arguments);
    ref_ptr rp(ref);
    if (git_branch_delete(ref) != 0) return failed_git(fmt::format("delete branch '{}'", **name));
    return text_result(fmt::format("deleted branch '{}'\n", **name), {{"branch", **name}});
  }
  return tool::make(tool::error_code::bad_arguments, "git_branch action '{}' is not one of list, create, switch, delete",
                    act);
}

result<tool::result> add(const workspace& ws, const json& args, const git_limits&) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto it = args.find("paths");
  if (it == args.end() || !it->is_array() || it->empty())
    return tool::make(tool::error_code::bad_arguments, "'paths' must be a non-empty array of paths");
  std::vector<std::string> specs;
  for (auto& p : *it) {
    if (!p.is_string()) return tool::make(tool::error_code::bad_arguments, "'paths' must be an array of strings");
    auto in_repo = repo_path(ws, r->get(), p.get<std::string>());
    if (!in_repo) return in_repo.take_error();
    specs.push_back(in_repo->empty() ? "." : *in_repo);
  }
  std::vector<char*> ptrs;
  for (auto& s : specs) ptrs.push_back(s.data());
  git_strarray arr{ptrs.data(), ptrs.size()};
  git_index* i = nullptr;
  if (git_repository_index(&i, r->get()) != 0) return failed_git("open the index");
  index_ptr ip(i);
  if (git_index_add_all(i, &arr, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr) != 0 ||
      git_index_update_all(i, &arr, nullptr, nullptr) != 0)
    return failed_git("add to the index");
  if (git_index_write(i) != 0) return failed_git("write the index");
  return text_result(fmt::format("staged {}\n", fmt::join(specs, ", ")), {{"paths", specs}});
}

result<tool::result> commit(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto message = string_arg(args, "message");
  if (!message) return message.take_error();
  if (message->find_first_not_of(" \t\r\n") == std::string::npos)
    return tool::make(tool::error_code::bad_arguments, "'message' is empty");
  auto signoff = optional_bool_arg(args, "signoff");
  if (!signoff) return signoff.take_error();
  git_signature* s = nullptr;
  int rc = !lim.author_name.empty() ? git_signature_now(&s, lim.author_name.c_str(), lim.author_email.c_str())
                                    : git_signature_default(&s, r->get());
  if (rc != 0)
    return failed_git("find the commit author (set user.name and user.email in the repository, or [tools.git] author)",
                     tool::error_code::bad_arguments);
  sig_ptr sig(s);
  git_index* i = nullptr;
  if (git_repository_index(&i, r->get()) != 0) return failed_git("open the index");
  index_ptr ip(i);
  git_oid tree_id;
  if (git_index_write_tree(&tree_id, i) != 0) return failed_git("write the tree");
  git_tree* t = nullptr;
  if (git_tree_lookup(&t, r->get(), &tree_id) != 0) return failed_git("read the tree");
  tree_ptr tree(t);
  commit_ptr parent;
  if (auto h = commit_of(r->get(), "HEAD")) parent = std::move(*h);
  if (parent) {
    git_tree* pt = nullptr;
    if (git_commit_tree(&pt, parent.get()) == 0) {
      tree_ptr ptp(pt);
      if (git_oid_equal(git_tree_id(pt), &tree_id))
        return tool::make(tool::error_code::bad_arguments, "nothing to commit: the index is the same as HEAD (git_add first)");
    }
  }
  std::string msg = *message;
  if (msg.back() != '\n') msg += '\n';
  if (signoff->value_or(false)) msg += fmt::format("\nSigned-off-by: {}\n", signature_text(s));
  const git_commit* parents[1] = {parent.get()};
  git_oid id;
  if (git_commit_create(&id, r->get(), "HEAD", s, s, nullptr, msg.c_str(), t, parent ? 1 : 0, parents) != 0)
    return failed_git("commit");
  auto branch_name = current_branch(r->get());
  return text_result(fmt::format("[{} {}] {}\n", branch_name, oid_hex(&id).substr(0, 7), msg.substr(0, msg.find('\n'))),
                     {{"commit", oid_hex(&id)}, {"branch", branch_name}});
}

result<tool::result> clone(const workspace& ws, const json& args, const git_limits& lim) {
  auto url = string_arg(args, "url");
  if (!url) return url.take_error();
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto source = allowed_url(ws, *url, "clone from");
  if (!source) return source.take_error();
  auto rel = ws.relative(*path, "clone into");
  if (!rel) return rel.take_error();
  if (rel->empty()) return tool::make(tool::error_code::bad_arguments, "'path' must name a new directory in the workspace");
  auto dest = ws.root() + "/" + *rel;
  git_clone_options o = GIT_CLONE_OPTIONS_INIT;
  remote_call call{&lim};
  remote_options(o.fetch_opts, call);
  git_repository* r = nullptr;
  if (git_clone(&r, source->c_str(), dest.c_str(), &o) != 0)
    return failed_git(fmt::format("clone '{}' into '{}'", *url, *path));
  repo_ptr repo(r);
  return text_result(fmt::format("cloned '{}' into '{}' (branch {})\n", *url, *path, current_branch(r)),
                     {{"path", *path}, {"branch", current_branch(r)}});
}

result<tool::result> fetch(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto name = optional_string_arg(args, "remote");
  if (!name) return name.take_error();
  auto remote = remote_of(ws, r->get(), name->value_or("origin"), "fetch from");
  if (!remote) return remote.take_error();
  git_fetch_options o = GIT_FETCH_OPTIONS_INIT;
  remote_call call{&lim};
  remote_options(o, call);
  if (git_remote_fetch(remote->get(), nullptr, &o, nullptr) != 0)
    return failed_git(fmt::format("fetch from '{}'", name->value_or("origin")));
  auto* st = git_remote_stats(remote->get());
  return text_result(fmt::format("fetched from '{}': {} objects\n", name->value_or("origin"), st->received_objects),
                     {{"remote", name->value_or("origin")}, {"objects", st->received_objects}});
}

result<tool::result> pull(const workspace& ws, const json& args, const git_limits& lim) {
  auto fetched = fetch(ws, args, lim);
  if (!fetched) return fetched.take_error();
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto name = optional_string_arg(args, "remote");
  auto remote_name = name ? name->value_or("origin") : std::string("origin");
  git_reference* h = nullptr;
  if (git_repository_head(&h, r->get()) != 0) return failed_git("find the current branch");
  ref_ptr head(h);
  std::string branch_name = git_reference_shorthand(h);
  auto upstream_name = fmt::format("refs/remotes/{}/{}", remote_name, branch_name);
  git_reference* u = nullptr;
  if (git_reference_lookup(&u, r->get(), upstream_name.c_str()) != 0)
    return tool::make(tool::error_code::bad_arguments, "'{}' has no branch '{}' to pull", remote_name, branch_name);
  ref_ptr upstream(u);
  git_annotated_commit* ac = nullptr;
  if (git_annotated_commit_from_ref(&ac, r->get(), u) != 0) return failed_git("read the fetched branch");
  annotated_ptr their(ac);
  git_merge_analysis_t analysis;
  git_merge_preference_t pref;
  const git_annotated_commit* heads[1] = {ac};
  if (git_merge_analysis(&analysis, &pref, r->get(), heads, 1) != 0) return failed_git("compare with the fetched branch");
  auto target = oid_hex(git_annotated_commit_id(ac));
  if (analysis & GIT_MERGE_ANALYSIS_UP_TO_DATE)
    return text_result(fmt::format("'{}' is up to date with '{}/{}'\n", branch_name, remote_name, branch_name),
                       {{"branch", branch_name}, {"commit", target}, {"fast_forward", false}});
  if (!(analysis & GIT_MERGE_ANALYSIS_FASTFORWARD))
    return tool::make(tool::error_code::failed,
                      "Failed to pull into '{}': it and '{}/{}' have diverged (not a fast-forward); merge or rebase "
                      "them first",
                      branch_name, remote_name, branch_name);
  git_object* t = nullptr;
  if (git_object_lookup(&t, r->get(), git_annotated_commit_id(ac), GIT_OBJECT_COMMIT) != 0)
    return failed_git("read the fetched commit");
  object_ptr tp(t);
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_SAFE;
  if (git_checkout_tree(r->get(), t, &co) != 0) return failed_git("update the working tree (commit or stash local changes first)");
  git_reference* moved = nullptr;
  if (git_reference_set_target(&moved, h, git_annotated_commit_id(ac), "weft: pull (fast-forward)") != 0)
    return failed_git("move the branch");
  ref_ptr mp(moved);
  return text_result(fmt::format("fast-forwarded '{}' to {}\n", branch_name, target.substr(0, 12)),
                     {{"branch", branch_name}, {"commit", target}, {"fast_forward", true}});
}

result<tool::result> push(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto name = optional_string_arg(args, "remote");
  if (!name) return name.take_error();
  auto br = optional_string_arg(args, "branch");
  if (!br) return br.take_error();
  std::string branch_name;
  if (br->has_value()) {
    branch_name = **br;
  } else {
    auto b = head_branch(r->get());
    if (!b) return b.take_error();
    branch_name = *b;
  }
  auto remote = remote_of(ws, r->get(), name->value_or("origin"), "push to");
  if (!remote) return remote.take_error();
  auto spec = fmt::format("refs/heads/{0}:refs/heads/{0}", branch_name);
  char* specs[1] = {spec.data()};
  git_strarray arr{specs, 1};
  git_push_options o = GIT_PUSH_OPTIONS_INIT;
  remote_call call{&lim};
  remote_options(o, call);
  // A rejected update (not a fast-forward on the remote) is reported per ref.
  o.callbacks.push_update_reference = [](const char* ref, const char* status, void* payload) -> int {
    if (status) static_cast<remote_call*>(payload)->rejected = fmt::format("{}: {}", ref, status);
    return 0;
  };
  auto& rejected = call.rejected;
  if (git_remote_push(remote->get(), &arr, &o) != 0)
    return failed_git(fmt::format("push '{}' to '{}'", branch_name, name->value_or("origin")));
  if (!rejected.empty())
    return tool::make(tool::error_code::failed, "Failed to push '{}' to '{}': the remote refused {}", branch_name,
                      name->value_or("origin"), rejected);
  return text_result(fmt::format("pushed '{}' to '{}'\n", branch_name, name->value_or("origin")),
                     {{"branch", branch_name}, {"remote", name->value_or("origin")}});
}

result<tool::result> tag(const workspace& ws, const json& args, const git_limits& lim) {
  auto r = open_repo(ws, args);
  if (!r) return r.take_error();
  auto action = optional_string_arg(args, "action");
  if (!action) return action.take_error();
  auto name = optional_string_arg(args, "name");
  if (!name) return name.take_error();
  auto act = action->value_or("list");
  if (act == "list") {
    git_strarray names{};
    if (git_tag_list(&names, r->get()) != 0) return failed_git("list the tags");
    json out = json::array();
    std::string text;
    for (std::size_t i = 0; i < names.count; ++i) {
      out.push_back(names.strings[i]);
      text += std::string(names.strings[i]) + "\n";
    }
    git_strarray_dispose(&names);
    return text_result(text.empty() ? "no tags\n" : text, {{"tags", out}});
  }
  if (!name->has_value() || (*name)->empty())
    return tool::make(tool::error_code::bad_arguments, "git_tag {} needs 'name'", act);
  if (act == "create") {
    auto rev = optional_string_arg(args, "rev");
    if (!rev) return rev.take_error();
    auto message = optional_string_arg(args, "message");
    if (!message) return message.take_error();
    auto c = commit_of(r->get(), rev->value_or("HEAD"));
    if (!c) return c.take_error();
    git_oid id;
    int rc = 0;
    if (message->has_value()) {
      git_signature* s = nullptr;
      int srv = !lim.author_name.empty() ? git_signature_now(&s, lim.author_name.c_str(), lim.author_email.c_str())
                                         : git_signature_default(&s, r->get());
      if (srv != 0) return failed_git("find the tagger (set [tools.git] author or the repository's user.name)",
                                      tool::error_code::bad_arguments);
      sig_ptr sig(s);
      rc = git_tag_create(&id, r->get(), (*name)->c_str(), reinterpret_cast<git_object*>(c->get()), s,
                          (*message)->c_str(), 0);
    } else {
      rc = git_tag_create_lightweight(&id, r->get(), (*name)->c_str(), reinterpret_cast<git_object*>(c->get()), 0);
    }
    if (rc != 0) return failed_git(fmt::format("create tag '{}'", **name), tool::error_code::bad_arguments);
    return text_result(fmt::format("tagged {} as '{}'\n", oid_hex(git_commit_id(c->get())).substr(0, 12), **name),
                       {{"tag", **name}, {"commit", oid_hex(git_commit_id(c->get()))}, {"annotated", message->has_value()}});
  }
  if (act == "delete") {
    if (git_tag_delete(r->get(), (*name)->c_str()) != 0)
      return failed_git(fmt::format("delete tag '{}'", **name), tool::error_code::bad_arguments);
    return text_result(fmt::format("deleted tag '{}'\n", **name), {{"tag", **name}});
  }
  return tool::make(tool::error_code::bad_arguments, "git_tag action '{}' is not one of list, create, delete", act);
}

std::vector<tool_def> git_tools(const workspace& ws, git_limits lim) {
  init();
  auto bind = [&ws, lim](auto fn) {
    return [&ws, lim, fn](const json& a, const call_context&) { return fn(ws, a, lim); };
  };
  constexpr std::string_view repo = R"J("repo":{"type":"string","description":"The repository's directory in the workspace (default: the workspace)"})J";
  auto schema = [&](std::string_view props, std::string_view required = "") {
    return fmt::format(R"({{"type":"object","properties":{{{}{}{}}}{}}})", repo, props.empty() ? "" : ",", props,
                       required.empty() ? "" : fmt::format(R"(,"required":[{}])", required));
  };
  std::vector<tool_def> out;
  out.push_back({{"git_status", "Show the working tree status: the branch, staged and unstaged changes, untracked files.",
                  schema(""), ""},
                 bind(status)});
  out.push_back({{"git_log", "List commits, newest first: id, author, time, summary. Filter by author, message text or path.",
                  schema(R"J("rev":{"type":"string","description":"Start here (default HEAD)"},"max_count":{"type":"integer","minimum":1},"skip":{"type":"integer","minimum":0,"description":"Matching commits to pass over first (the next page)"},"author":{"type":"string"},"grep":{"type":"string"},"path":{"type":"string"})J"),
                  ""},
                 bind(log)});
  out.push_back({{"git_diff",
                  "Show changes as a patch with stats: the working tree against the index (default), the index against "
                  "HEAD (cached), a commit against the working tree (from), or two commits (from, to).",
                  schema(R"("from":{"type":"string"},"to":{"type":"string"},"cached":{"type":"boolean"},"path":{"type":"string"})"),
                  ""},
                 bind(diff)});
  out.push_back({{"git_show", "Show a commit: its message and its patch against its first parent.",
                  schema(R"("rev":{"type":"string","description":"Default HEAD"})"), ""},
                 bind(show)});
  out.push_back({{"git_blame", "For each line of a file, the commit and author that last changed it.",
                  schema(R"("path":{"type":"string"},"rev":{"type":"string"})", R"("path")"), ""},
                 bind(blame)});
  out.push_back({{"git_branch", "List, create, switch to or delete local branches.",
                  schema(R"("action":{"type":"string","enum":["list","create","switch","delete"]},"name":{"type":"string"},"from":{"type":"string"})"),
                  ""},
                 bind(branch)});
  out.push_back({{"git_tag", "List, create (lightweight, or annotated with a message) or delete tags.",
                  schema(R"("action":{"type":"string","enum":["list","create","delete"]},"name":{"type":"string"},"rev":{"type":"string"},"message":{"type":"string"})"),
                  ""},
                 bind(tag)});
  out.push_back({{"git_add", "Stage files (new, changed or removed) for the next commit.",
                  schema(R"("paths":{"type":"array","items":{"type":"string"}})", R"("paths")"), ""},
                 bind(add)});
  out.push_back({{"git_clone", "Clone a repository into a new directory of the workspace.",
                  R"({"type":"object","properties":{"url":{"type":"string","description":"A repository in the workspace (path or file://), or a network URL"},"path":{"type":"string","description":"The new directory"}},"required":["url","path"]})",
                  ""},
                 [&ws, lim](const json& a, const call_context&) { return clone(ws, a, lim); }});
  out.push_back({{"git_fetch", "Fetch from a remote (default origin).", schema(R"("remote":{"type":"string"})"), ""},
                 bind(fetch)});
  out.push_back({{"git_pull", "Fetch and fast-forward the current branch; refuses when the branches have diverged.",
                  schema(R"("remote":{"type":"string"})"), ""},
                 bind(pull)});
  out.push_back({{"git_push", "Push a branch (default: the current one) to a remote (default origin).",
                  schema(R"("remote":{"type":"string"},"branch":{"type":"string"})"), ""},
                 bind(push)});
  out.push_back({{"git_commit", "Commit what is staged, on the current branch.",
                  schema(R"("message":{"type":"string"},"signoff":{"type":"boolean"})", R"("message")"), ""},
                 bind(commit)});
  return out;
}

}  // namespace weft::tools::git
