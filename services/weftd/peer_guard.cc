#include "peer_guard.hh"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string>

namespace weft::weftd {

namespace {

/// How far up the parent chain a peer is followed (a longer chain is refused: a tool's
/// commands could nest that deep only to hide).
constexpr int max_ancestry = 64;

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

const sandboxed_child* find_pid(std::span<const sandboxed_child> tools, pid_t pid) {
  for (auto& t : tools)
    if (t.pid == pid) return &t;
  return nullptr;
}

}  // namespace

result<namespace_ids> namespaces_of(pid_t pid) {
  namespace_ids ids;
  for (auto [name, out] : {std::pair{"net", &ids.net}, std::pair{"pid", &ids.pid}}) {
    auto path = fmt::format("/proc/{}/ns/{}", pid, name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      int e = errno;
      return fail(e == ENOENT || e == ESRCH ? errc::not_found : errc::io, "Failed to read '{}': {}", path,
                  std::strerror(e));
    }
    *out = st.st_ino;
  }
  return ids;
}

std::optional<peer_credentials> parse_zap_address(std::string_view address) {
  // The address itself may hold colons: the credentials are the last three fields.
  std::string_view fields[3];
  for (int i = 2; i >= 0; --i) {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    fields[i] = address.substr(colon + 1);
    address = address.substr(0, colon);
  }
  peer_credentials c;
  long long pid = 0;
  if (!parse_number(fields[0], c.uid) || !parse_number(fields[1], c.gid) || !parse_number(fields[2], pid) || pid < 0)
    return std::nullopt;
  c.pid = static_cast<pid_t>(pid);
  return c;
}

process_view proc_processes() {
  return {namespaces_of, [](pid_t pid) -> pid_t {
            // "pid (comm) state ppid …": comm may hold spaces and parentheses; the last ')' ends it.
            std::ifstream f(fmt::format("/proc/{}/stat", pid));
            std::string line;
            if (!std::getline(f, line)) return 0;
            auto close = line.rfind(')');
            if (close == std::string::npos) return 0;
            std::string_view rest = std::string_view(line).substr(close + 1);  // " S 1234 …"
            if (rest.size() < 4) return 0;
            rest.remove_prefix(3);
            pid_t ppid = 0;
            auto end = rest.find(' ');
            return parse_number(rest.substr(0, end), ppid) ? ppid : 0;
          }};
}

std::optional<std::string> refusal(const peer_credentials& peer, std::span<const sandboxed_child> tools,
                                   uid_t self_uid, const process_view& procs) {
  // Every tool process, and all it starts, lives in weftd's PID namespace or one below it:
  // a peer weftd cannot see is none of theirs.
  if (peer.pid == 0) return std::nullopt;
  if (auto* t = find_pid(tools, peer.pid)) return fmt::format("it is the sandboxed tool process '{}'", t->service);
  auto ns = procs.namespaces(peer.pid);
  if (!ns) {
    if (ns.err().code == errc::not_found) return "it exited before weftd could look at it";
    // weftd may read the namespaces of every process of its user it started (and of its
    // tools' user namespaces); another user's process is no tool of weftd's.
    if (peer.uid == self_uid) return fmt::format("its namespaces cannot be read ({})", ns.err().message);
    return std::nullopt;
  }
  for (auto& t : tools) {
    if (t.ns.net != 0 && ns->net == t.ns.net)
      return fmt::format("it runs in the network namespace of the sandboxed tool process '{}' (pid {})", t.service,
                         t.pid);
    if (t.ns.pid != 0 && ns->pid == t.ns.pid)
      return fmt::format("it runs in the PID namespace of the sandboxed tool process '{}' (pid {})", t.service, t.pid);
  }
  // Where no namespace was possible: a descendant of a tool process.
  pid_t p = peer.pid;
  for (int depth = 0; depth < max_ancestry; ++depth) {
    p = procs.parent(p);
    if (p <= 1) return std::nullopt;
    if (auto* t = find_pid(tools, p))
      return fmt::format("it was started by the sandboxed tool process '{}' (pid {})", t->service, t->pid);
  }
  return fmt::format("its chain of parents is longer than {}", max_ancestry);
}

}  // namespace weft::weftd
