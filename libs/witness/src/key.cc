#include "key.hh"

#include <weft/base/io.hh>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::witness::detail {

secret_key::~secret_key() { sodium_memzero(bytes.data(), bytes.size()); }


static status make_dir(const std::filesystem::path& dir, unsigned mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(errc::io, "Failed to create directory '{}': {}", dir.string(), ec.message());
  if (::chmod(dir.c_str(), mode) != 0)
    return fail(errc::io, "Failed to set the mode of '{}': {}", dir.string(), std::strerror(errno));
  return {};
}

status load_or_create_key(const std::filesystem::path& key_file, const std::filesystem::path& public_file,
                          secret_key& out, bool& generated) {
  generated = false;
  auto name = key_file.string();
  struct stat st{};
  if (::stat(key_file.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(errc::io, "Failed to read witness key '{}': {}", name, std::strerror(errno));
    auto dir = key_file.parent_path().empty() ? std::filesystem::path(".") : key_file.parent_path();
    if (auto s = make_dir(dir, 0700); !s) return s;
    crypto_sign_keypair(out.pk.data(), out.bytes.data());
    std::string_view raw(reinterpret_cast<const char*>(out.bytes.data()), out.bytes.size());
    if (auto s = write_file_atomic(key_file, raw, 0600); !s)
      return fail(errc::io, "Failed to create witness key '{}': {}", name, s.err().message);
    generated = true;
  } else {
    if (!S_ISREG(st.st_mode)) return fail(errc::invalid_argument, "Failed to read witness key '{}': not a regular file", name);
    if ((st.st_mode & 077) != 0)
      return fail(errc::invalid_argument,
                  "Failed to read witness key '{}': its mode {:04o} lets other users read it; expected 0600 "
                  "(chmod 600 '{}')", name, st.st_mode & 07777, name);
    if (st.st_size != static_cast<off_t>(out.bytes.size()))
      return fail(errc::invalid_argument, "Failed to read witness key '{}': it is {} bytes, expected {} (not a witness key)",
                  name, static_cast<long long>(st.st_size), out.bytes.size());
    auto raw = read_file(key_file, out.bytes.size());
    if (!raw) return fail(errc::io, "Failed to read witness key '{}': {}", name, raw.err().message);
    if (raw->size() != out.bytes.size())
      return fail(errc::invalid_argument, "Failed to read witness key '{}': it is {} bytes, expected {}", name,
                  raw->size(), out.bytes.size());
    std::memcpy(out.bytes.data(), raw->data(), out.bytes.size());
    sodium_memzero(raw->data(), raw->size());
    // libsodium's secret key is seed ‖ public key: re-derive to catch a damaged file.
    secret_key check;
    crypto_sign_seed_keypair(out.pk.data(), check.bytes.data(), out.bytes.data());
    if (sodium_memcmp(check.bytes.data(), out.bytes.data(), out.bytes.size()) != 0)
      return fail(errc::invalid_argument, "Failed to read witness key '{}': the key is damaged (its public half does not "
                  "match its seed)", name);
  }

  auto pub_dir = public_file.parent_path().empty() ? std::filesystem::path(".") : public_file.parent_path();
  if (auto s = make_dir(pub_dir, 0750); !s) return s;
  auto text = public_key_text(out.pk);
  auto existing = read_file(public_file, 4096);
  if (!existing) {
    if (!existing.err().is(errc::domain, errc::not_found))
      return fail(errc::io, "Failed to read public key '{}': {}", public_file.string(), existing.err().message);
    if (auto s = write_file_atomic(public_file, text, 0644); !s) return s;
    return {};
  }
  auto pk = read_public_key(public_file);
  if (!pk) return pk.take_error();
  if (*pk != out.pk)
    return fail(errc::invalid_argument,
                "Failed to open the witness chain: public key '{}' (key id {}) does not match the signing key '{}' "
                "(key id {}); restore the right public key or move the chain aside",
                public_file.string(), to_hex(id_of(*pk)), name, to_hex(id_of(out.pk)));
  return {};
}

}  // namespace weft::witness::detail
