#pragma once
// Real mail servers for tests, on 127.0.0.1: Debian's dovecot (IMAP, a passwd-file of
// users, Maildir storage of its own) and an SMTP server on Python's aiosmtpd
// (tests/fakes/smtp_server.py) that keeps what it is given as files.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <weft/base/command.hh>

#include "tests/radicale.hh"  // free_port
#include "tests/temp_dir.hh"

namespace weft::test {

inline bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

inline std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// dovecot serving IMAP on 127.0.0.1 for `users` (name, password), with Drafts, Sent and
/// Archive marked by special use. With `userinfo_url` it also takes XOAUTH2 and OAUTHBEARER,
/// asking that URL whom a bearer token is for (its passdb oauth2, introspection by
/// "Authorization: Bearer"). As root its mail processes run as nobody; otherwise as the
/// test's own user.
struct dovecot {
  temp_dir dir{"weft-dovecot"};
  pid_t pid = -1;
  int port = 0;
  bool up = false;

  explicit dovecot(const std::vector<std::pair<std::string, std::string>>& users, const std::string& userinfo_url = {}) {
    auto exe = find_executable("dovecot", "/usr/sbin:/usr/bin:/usr/local/sbin");
    if (!exe) return;
    port = free_port();
    auto d = dir.path.string();
    std::filesystem::create_directories(dir.path / "mail");
    std::filesystem::create_directories(dir.path / "run");
    std::filesystem::create_directories(dir.path / "state");
    std::string user, group;
    if (::geteuid() == 0) {
      user = "nobody";
      group = "nogroup";
      ::chmod(d.c_str(), 0755);
      struct passwd* pw = ::getpwnam("nobody");
      if (pw && ::chown((dir.path / "mail").c_str(), pw->pw_uid, pw->pw_gid) != 0) return;
    } else {
      struct passwd* pw = ::getpwuid(::geteuid());
      user = pw ? pw->pw_name : "";
      group = std::to_string(::getegid());
    }
    {
      std::ofstream u(dir.path / "users");
      for (auto& [name, pw] : users) u << name << ":{PLAIN}" << pw << "::::::\n";
    }
    std::ofstream c(dir.path / "dovecot.conf");
    c << "base_dir = " << d << "/run\nstate_dir = " << d << "/state\nlog_path = " << d << "/dovecot.log\n"
      << "protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login"
      << (userinfo_url.empty() ? "" : " xoauth2 oauthbearer") << "\n"
      << "mail_location = maildir:" << d << "/mail/%u\nfirst_valid_uid = 1\n";
    if (::geteuid() != 0)
      c << "default_internal_user = " << user << "\ndefault_internal_group = " << group << "\ndefault_login_user = " << user << "\n";
    if (!userinfo_url.empty()) {
      std::ofstream o(dir.path / "oauth2.conf.ext");
      o << "introspection_mode = auth\nintrospection_url = " << userinfo_url << "\nusername_attribute = email\n";
      c << "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = " << d << "/oauth2.conf.ext\n}\n";
    }
    c << "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u " << d << "/users\n}\n"
      << "userdb {\n  driver = static\n  args = uid=" << user << " gid=" << group << " home=" << d << "/mail/%u\n}\n"
      << "namespace inbox {\n  inbox = yes\n"
      << "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = create\n  }\n"
      << "  mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }\n"
      << "  mailbox Archive {\n    special_use = \\Archive\n    auto = create\n  }\n}\n"
      << "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = " << port
      << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n  chroot =\n}\n"
      << "service anvil {\n  chroot =\n}\n";
    c.close();
    pid = ::fork();
    if (pid == 0) {
      auto conf = (dir.path / "dovecot.conf").string();
      ::execl(exe->c_str(), exe->c_str(), "-F", "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !up; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      up = port_open(port);
    }
    if (!up) MESSAGE("dovecot did not start: " << slurp_file(dir.path / "dovecot.log"));
  }
  ~dovecot() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string url() const { return "imap://127.0.0.1:" + std::to_string(port); }
  std::string log() const { return slurp_file(dir.path / "dovecot.log"); }

  /// Puts a message into a user's mailbox (IMAP APPEND, as a mail server delivering would).
  void deliver(const std::string& user, const std::string& password, const std::string& box, const std::string& raw) const {
    CURL* c = curl_easy_init();
    REQUIRE(c);
    struct src {
      const std::string* s;
      std::size_t at = 0;
    } in{&raw};
    auto read = +[](char* p, std::size_t size, std::size_t n, void* ud) -> std::size_t {
      auto* r = static_cast<src*>(ud);
      std::size_t k = std::min(size * n, r->s->size() - r->at);
      std::copy_n(r->s->data() + r->at, k, p);
      r->at += k;
      return k;
    };
    auto u = url() + "/" + box;
    curl_easy_setopt(c, CURLOPT_URL, u.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password.c_str());
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read);
    curl_easy_setopt(c, CURLOPT_READDATA, &in);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(raw.size()));
    auto r = curl_easy_perform(c);
    REQUIRE_MESSAGE(r == CURLE_OK, curl_easy_strerror(r));
    // libcurl's APPEND marks the message \Seen; a delivered one is unread.
    curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "STORE 1:* -FLAGS.SILENT (\\Seen)");
    std::string sink;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t s, std::size_t n, void*) { return s * n; });
    r = curl_easy_perform(c);
    curl_easy_cleanup(c);
    REQUIRE_MESSAGE(r == CURLE_OK, curl_easy_strerror(r));
  }
};

/// tests/fakes/smtp_server.py (aiosmtpd) on 127.0.0.1: AUTH PLAIN/LOGIN for one user and
/// XOAUTH2 with the fake IdP's access tokens ("at-…", minus those listed in `rejected`);
/// each message received becomes <n>.eml with <n>.json (envelope, login) in `dir`/inbox.
struct smtp_server {
  temp_dir dir{"weft-smtp"};
  pid_t pid = -1;
  int port = 0;
  bool up = false;

  smtp_server(const std::string& user, const std::string& password) {
    auto py = find_executable("python3", "/usr/bin:/usr/local/bin");
    if (!py) return;
    port = free_port();
    std::filesystem::create_directories(dir.path / "inbox");
    pid = ::fork();
    if (pid == 0) {
      auto script = std::string(WEFT_SOURCE_ROOT) + "/tests/fakes/smtp_server.py";
      auto p = std::to_string(port);
      auto box = (dir.path / "inbox").string();
      auto rejected = (dir.path / "rejected").string();
      ::execl(py->c_str(), py->c_str(), script.c_str(), "--port", p.c_str(), "--dir", box.c_str(), "--user", user.c_str(),
              "--password", password.c_str(), "--rejected", rejected.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !up; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      up = port_open(port);
    }
  }
  ~smtp_server() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port); }
  /// The messages received so far, oldest first: (RFC 5322 text, envelope JSON text).
  std::vector<std::pair<std::string, std::string>> received() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 1;; ++i) {
      auto eml = dir.path / "inbox" / (std::to_string(i) + ".eml");
      auto env = dir.path / "inbox" / (std::to_string(i) + ".json");
      if (!std::filesystem::exists(env)) break;
      out.emplace_back(slurp_file(eml), slurp_file(env));
    }
    return out;
  }
  void reject(const std::string& token) const {
    std::ofstream f(dir.path / "rejected", std::ios::app);
    f << token << "\n";
  }
};

}  // namespace weft::test
