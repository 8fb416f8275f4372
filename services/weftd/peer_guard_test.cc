#include "peer_guard.hh"

#include <doctest/doctest.h>

#include <unistd.h>

#include <map>

using namespace weft;
using namespace weft::weftd;

namespace {

/// A process table: pid → (namespaces, parent).
struct fake_procs {
  struct entry {
    namespace_ids ns;
    pid_t parent = 1;
  };
  std::map<pid_t, entry> table;
  std::map<pid_t, std::string_view> unreadable;  // pid → errc code
  process_view view() const {
    return {[this](pid_t pid) -> result<namespace_ids> {
              if (auto u = unreadable.find(pid); u != unreadable.end()) return fail(u->second, "cannot read {}", pid);
              auto it = table.find(pid);
              if (it == table.end()) return fail(errc::not_found, "no process {}", pid);
              return it->second.ns;
            },
            [this](pid_t pid) -> pid_t {
              auto it = table.find(pid);
              return it == table.end() ? 0 : it->second.parent;
            }};
  }
};

constexpr namespace_ids host{100, 200};
constexpr uid_t weft_uid = 990;

}  // namespace

TEST_CASE("parse_zap_address: the last three fields are uid, gid, pid") {
  auto c = parse_zap_address("localhost:990:991:4242");
  REQUIRE(c);
  CHECK(c->uid == 990);
  CHECK(c->gid == 991);
  CHECK(c->pid == 4242);
  CHECK(parse_zap_address(":0:0:0"));
  CHECK_FALSE(parse_zap_address("localhost"));
  CHECK_FALSE(parse_zap_address("1:2"));
  CHECK_FALSE(parse_zap_address("a:b:c:d"));
  CHECK_FALSE(parse_zap_address("x:1:2:-3"));
}

TEST_CASE("refusal: the admin's weftctl is admitted; a tool, its namespaces and its descendants are not") {
  fake_procs p;
  // weftd (10) started tool-shell-a (20, own namespaces 101/201) and agent-a (30, the host's).
  p.table[10] = {host, 1};
  p.table[20] = {{101, 201}, 10};
  p.table[30] = {host, 10};
  p.table[40] = {host, 5};            // weftctl in the admin's shell (5)
  p.table[5] = {host, 1};
  p.table[50] = {{101, 201}, 20};     // a command of tool-shell-a
  p.table[60] = {{102, 201}, 50};     // … in another network namespace (it cannot make one, but)
  p.table[70] = {{555, 666}, 1};      // a process in a container of its own, not weftd's
  std::vector<sandboxed_child> tools = {{"tool-shell-a", 20, {101, 201}}, {"tool-fs-a", 21, {103, 203}}};

  CHECK_FALSE(refusal({40, weft_uid, weft_uid}, tools, weft_uid, p.view()));
  CHECK_FALSE(refusal({30, weft_uid, weft_uid}, tools, weft_uid, p.view()));
  CHECK_FALSE(refusal({70, weft_uid, weft_uid}, tools, weft_uid, p.view()));
  CHECK_FALSE(refusal({0, 0, 0}, tools, weft_uid, p.view()));  // beyond weftd's PID namespace

  auto r = refusal({20, weft_uid, weft_uid}, tools, weft_uid, p.view());
  REQUIRE(r);
  CHECK(*r == "it is the sandboxed tool process 'tool-shell-a'");
  r = refusal({50, weft_uid, weft_uid}, tools, weft_uid, p.view());
  REQUIRE(r);
  CHECK(*r == "it runs in the network namespace of the sandboxed tool process 'tool-shell-a' (pid 20)");
  r = refusal({60, weft_uid, weft_uid}, tools, weft_uid, p.view());
  REQUIRE(r);
  CHECK(*r == "it runs in the PID namespace of the sandboxed tool process 'tool-shell-a' (pid 20)");
}

TEST_CASE("refusal: without namespaces, a descendant of a tool process is refused by its parents") {
  fake_procs p;
  p.table[10] = {host, 1};
  p.table[20] = {host, 10};   // tool-shell-a where no namespace was possible
  p.table[50] = {host, 20};   // sh
  p.table[51] = {host, 50};   // python3
  p.table[40] = {host, 1};    // weftctl
  std::vector<sandboxed_child> tools = {{"tool-shell-a", 20, {}}};
  auto r = refusal({51, weft_uid, weft_uid}, tools, weft_uid, p.view());
  REQUIRE(r);
  CHECK(*r == "it was started by the sandboxed tool process 'tool-shell-a' (pid 20)");
  CHECK_FALSE(refusal({40, weft_uid, weft_uid}, tools, weft_uid, p.view()));

  // A chain that never ends is refused rather than followed forever.
  fake_procs loop;
  loop.table[80] = {host, 81};
  loop.table[81] = {host, 80};
  CHECK(refusal({80, weft_uid, weft_uid}, tools, weft_uid, loop.view()));
}

TEST_CASE("refusal: a peer that cannot be looked at is refused when it is weftd's user") {
  fake_procs p;
  p.unreadable[40] = errc::io;
  p.unreadable[41] = errc::io;
  std::vector<sandboxed_child> tools = {{"tool-shell-a", 20, {101, 201}}};
  CHECK(refusal({40, weft_uid, weft_uid}, tools, weft_uid, p.view()));
  CHECK_FALSE(refusal({41, 0, 0}, tools, weft_uid, p.view()));  // root's weftctl: no tool of weftd's
  auto gone = refusal({99, weft_uid, weft_uid}, tools, weft_uid, p.view());
  REQUIRE(gone);
  CHECK(*gone == "it exited before weftd could look at it");
}

TEST_CASE("namespaces_of and proc_processes read this process") {
  auto self = namespaces_of(::getpid());
  REQUIRE(self);
  CHECK(self->net != 0);
  CHECK(self->pid != 0);
  CHECK(proc_processes().parent(::getpid()) == ::getppid());
  auto gone = namespaces_of(0x3fffffff);
  REQUIRE_FALSE(gone);
  CHECK(gone.err().code == errc::not_found);
}
