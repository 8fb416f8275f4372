// Integration: weftd's spawn with a sandbox, on real processes. A child confined to one
// directory cannot read a file outside it even through a shell it starts (Landlock is
// inherited), the same command unconfined can (so the check can fail), seccomp refuses
// unshare, the child learns what applied from $WEFT_SANDBOX, and a sandbox that cannot be
// built is a spawn error, not an unconfined child.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include <weft/sandbox/sandbox.hh>

#include "services/weftd/spawn.hh"
#include "tests/temp_dir.hh"

using namespace weft;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& p) {
  std::stringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

/// Runs `/bin/sh -c script` through weftd::spawn and returns its wait status.
int run_shell(const std::string& script, const service::sandbox_spec& sb) {
  weftd::spawn_request r;
  r.exec = "/bin/sh";
  r.args = {"-c", script};
  r.env = weftd::base_environment();
  r.sandbox = sb;
  auto sp = weftd::spawn(r);
  REQUIRE_MESSAGE(sp, (sp ? "" : sp.err().message));
  sp->notify_fd.reset();
  int ws = 0;
  REQUIRE(::waitpid(sp->pid, &ws, 0) == sp->pid);
  return ws;
}

service::sandbox_spec confined_to(const std::string& dir) {
  service::sandbox_spec sb;
  sb.enabled = true;
  sb.read_write = {dir};
  sb.read_only = {"/usr", "/lib", "/lib64", "/bin", "/etc", "/dev/null"};
  return sb;
}

}  // namespace

TEST_CASE("a sandboxed child cannot read outside its workspace, even through a shell") {
  if (sandbox::landlock_abi() == 0) {
    MESSAGE("Landlock is not available in this kernel: skipped");
    return;
  }
  weft::test::temp_dir inside{"weft-sbx-it"}, outside{"weft-sbx-it"};
  std::ofstream(inside.path.string() + "/mine.txt") << "mine";
  std::ofstream(outside.path.string() + "/theirs.txt") << "theirs";
  auto script = fmt::format(
      "cat {in}/mine.txt > {in}/copy; "
      "(cat {out}/theirs.txt) > {in}/leak 2> {in}/err; echo $? > {in}/rc; "
      "sh -c 'cat {out}/theirs.txt' >> {in}/leak 2>> {in}/err; "
      "echo \"$WEFT_SANDBOX\" > {in}/sandbox; "
      "unshare -U true 2>> {in}/unshare; echo $? > {in}/unshare_rc",
      fmt::arg("in", inside.path.string()), fmt::arg("out", outside.path.string()));

  int ws = run_shell(script, confined_to(inside.path.string()));
  CHECK(WIFEXITED(ws));
  CHECK(slurp(inside.path.string() + "/copy") == "mine");
  CHECK(slurp(inside.path.string() + "/leak").empty());
  CHECK(slurp(inside.path.string() + "/rc") != "0\n");
  CHECK(slurp(inside.path.string() + "/err").find("Permission denied") != std::string::npos);
  CHECK(slurp(inside.path.string() + "/sandbox").rfind(fmt::format("landlock={} seccomp=1", sandbox::landlock_abi()), 0) == 0);
  CHECK(slurp(inside.path.string() + "/unshare_rc") != "0\n");
  CHECK(slurp(inside.path.string() + "/unshare").find("Operation not permitted") != std::string::npos);

  // The same script unconfined reads the other directory: the check above can fail.
  fs::remove(inside.path.string() + "/leak");
  service::sandbox_spec none;
  ws = run_shell(script, none);
  CHECK(slurp(inside.path.string() + "/leak") == "theirstheirs");
  CHECK(slurp(inside.path.string() + "/rc") == "0\n");
}

TEST_CASE("a sandbox that cannot be built is a spawn error") {
  weftd::spawn_request r;
  r.exec = "/bin/true";
  r.env = weftd::base_environment();
  r.sandbox.enabled = true;
  r.sandbox.read_write = {"/proc/weft-cannot-create-this"};
  auto sp = weftd::spawn(r);
  if (sandbox::landlock_abi() == 0) return;  // no ruleset, no paths opened
  REQUIRE_FALSE(sp);
  CHECK(sp.err().message.find("Failed to sandbox '/bin/true'") == 0);
  CHECK(sp.err().message.find("/proc/weft-cannot-create-this") != std::string::npos);
}

TEST_CASE("unsandboxed spawn is unchanged: no WEFT_SANDBOX") {
  weft::test::temp_dir d{"weft-sbx-it"};
  service::sandbox_spec none;
  int ws = run_shell(fmt::format("echo \"[$WEFT_SANDBOX]\" > {}/sb", d.path.string()), none);
  CHECK(WIFEXITED(ws));
  CHECK(slurp(d.path.string() + "/sb") == "[]\n");
}
