#include "fs_tools.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <weft/base/io.hh>

namespace weft::tools {

namespace {

tool::result failed(std::string text) { return tool::result{std::move(text), /*is_error=*/true, false}; }

result<unique_fd> open_regular(const workspace& ws, const std::string& path, std::string_view verb, struct stat& st) {
  auto fd = ws.open_beneath(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, verb);
  if (!fd) return fd.take_error();
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail(errc::invalid_argument, "Failed to {} '{}': {}", verb, path,
                S_ISDIR(st.st_mode) ? "it is a directory (use list_dir)" : "not a regular file");
  return fd;
}

/// Replaces `path` whole (weft::write_file_atomic_at: readers see the old or the new
/// content, and it lasts a crash). An existing file keeps its permissions; a new one gets
/// `new_mode`. The parent directories are created when `create`.
status replace_file(const workspace& ws, const std::string& path, std::string_view content, bool create,
                    unsigned new_mode, std::string_view verb) {
  auto parent = ws.open_parent(path, create, verb);
  if (!parent) return parent.take_error();
  unsigned mode = new_mode;
  struct stat st;
  if (::fstatat(parent->dir.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(errc::invalid_argument, "Failed to {} '{}': it is a directory", verb, path);
    if (S_ISREG(st.st_mode)) mode = st.st_mode & 07777;
  }
  if (auto s = write_file_atomic_at(parent->dir.get(), parent->name, content, mode); !s)
    return fail(errc::io, "Failed to {} '{}': {}", verb, path, s.err().message);
  return {};
}

}  // namespace

result<tool::result> read_file(const workspace& ws, const json& args, const fs_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto offset = optional_uint_arg(args, "offset");
  if (!offset) return offset.take_error();
  auto limit = optional_uint_arg(args, "limit");
  if (!limit) return limit.take_error();
  struct stat st;
  auto fd = open_regular(ws, *path, "read", st);
  if (!fd) return ran_and_failed(fd.take_error());
  std::uint64_t first = offset->value_or(1);  // 1-based line number
  if (first == 0) first = 1;
  std::uint64_t count = limit->value_or(UINT64_MAX);
  // Lines before `first` are skipped as they stream by; what is kept is bounded by the cap.
  std::string out;
  bool truncated = false;
  std::uint64_t line = 1;
  std::uint64_t kept_lines = 0;
  char buf[65536];
  bool checked_binary = false;
  for (bool done = false; !done;) {
    auto n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(fmt::format("Failed to read '{}': {}", *path, std::strerror(errno)));
    }
    if (n == 0) break;
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    if (!checked_binary) {
      checked_binary = true;
      if (chunk.substr(0, 8192).find('\0') != std::string_view::npos)
        return failed(fmt::format("Failed to read '{}': it is a binary file ({} bytes)", *path, st.st_size));
    }
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      auto piece = chunk.substr(0, nl == std::string_view::npos ? chunk.size() : nl + 1);
      chunk.remove_prefix(piece.size());
      if (line >= first && kept_lines < count) {
        if (out.size() + piece.size() > lim.max_read_bytes) {
          out.append(piece.substr(0, lim.max_read_bytes - out.size()));
          truncated = true;
          done = true;
          break;
        }
        out.append(piece);
      }
      if (nl != std::string_view::npos) {
        if (line >= first) ++kept_lines;
        ++line;
        if (kept_lines >= count) {
          done = true;
          break;
        }
      }
    }
  }
  if (truncated)
    out += fmt::format("\n[… truncated at {} bytes; the file has {} bytes. Read on with offset (a line number) and limit]",
                       lim.max_read_bytes, st.st_size);
  else if (line < first && first > 1)
    return failed(fmt::format("Failed to read '{}': offset {} is past the end ({} lines)", *path, first, line));
  return tool::result{std::move(out), false, truncated};
}

result<tool::result> write_file(const workspace& ws, const json& args, const fs_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto content = string_arg(args, "content");
  if (!content) return content.take_error();
  if (content->size() > lim.max_write_bytes)
    return failed(fmt::format("Failed to write '{}': {} bytes is more than the limit of {}", *path, content->size(),
                              lim.max_write_bytes));
  if (auto s = replace_file(ws, *path, *content, /*create=*/true, /*new_mode=*/0644, "write"); !s)
    return ran_and_failed(s.take_error());
  return tool::result{fmt::format("Wrote {} bytes to '{}'", content->size(), *path), false, false};
}

result<tool::result> edit_file(const workspace& ws, const json& args, const fs_limits& lim) {
  auto path = string_arg(args, "path");
  if (!path) return path.take_error();
  auto old_text = string_arg(args, "old_text");
  if (!old_text) return old_text.take_error();
  auto new_text = string_arg(args, "new_text");
  if (!new_text) return new_text.take_error();
  auto all = optional_bool_arg(args, "replace_all");
  if (!all) return all.take_error();
  if (old_text->empty())
    return tool::make(tool::error_code::bad_arguments, "old_text must not be empty (use write_file to create a file)");
  struct stat st;
  auto fd = open_regular(ws, *path, "edit", st);
  if (!fd) return ran_and_failed(fd.take_error());
  auto read = read_to_end(fd->get(), lim.max_edit_bytes);
  fd->reset();
  if (!read && read.err().code == errc::invalid_argument)
    return failed(fmt::format("Failed to edit '{}': larger than the limit of {} bytes", *path, lim.max_edit_bytes));
  if (!read) return failed(fmt::format("Failed to read '{}': {}", *path, read.err().message));
  std::string text = std::move(*read);
  std::vector<std::size_t> at;
  for (auto p = text.find(*old_text); p != std::string::npos; p = text.find(*old_text, p + old_text->size()))
    at.push_back(p);
  if (at.empty())
    return failed(fmt::format("Failed to edit '{}': old_text was not found. It must match the file exactly, "
                              "whitespace and line breaks included; read the file again to see its current text",
                              *path));
  if (at.size() > 1 && !all->value_or(false))
    return failed(fmt::format("Failed to edit '{}': old_text occurs {} times. Include more surrounding text to make it "
                              "unique, or set replace_all to replace every occurrence",
                              *path, at.size()));
  std::string out;
  out.reserve(text.size() + at.size() * new_text->size());
  std::size_t prev = 0;
  for (auto p : at) {
    out.append(text, prev, p - prev);
    out.append(*new_text);
    prev = p + old_text->size();
  }
  out.append(text, prev);
  if (auto s = replace_file(ws, *path, out, /*create=*/false, st.st_mode & 07777, "edit"); !s)
    return ran_and_failed(s.take_error());
  return tool::result{fmt::format("Replaced {} occurrence{} in '{}'", at.size(), at.size() == 1 ? "" : "s", *path),
                      false, false};
}

result<tool::result> list_dir(const workspace& ws, const json& args, const fs_limits& lim) {
  auto path = optional_string_arg(args, "path");
  if (!path) return path.take_error();
  std::string shown = path->value_or(".");
  auto fd = ws.open_beneath(shown, O_RDONLY | O_DIRECTORY, "list");
  if (!fd) return ran_and_failed(fd.take_error());
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd->get()), ::closedir);
  if (!dir) return failed(fmt::format("Failed to list '{}': {}", shown, std::strerror(errno)));
  fd->release();  // the DIR owns it now
  DIR* d = dir.get();
  struct entry {
    std::string name;
    std::string line;
  };
  std::vector<entry> entries;
  bool truncated = false;
  std::size_t total = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    ++total;
    // Keep the first max_entries by name: bounded memory however big the directory.
    struct stat st;
    std::string line;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      line = fmt::format("?     {}", name);
    else if (S_ISDIR(st.st_mode))
      line = fmt::format("dir   {}/", name);
    else if (S_ISREG(st.st_mode))
      line = fmt::format("file  {}  ({} bytes)", name, st.st_size);
    else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      auto n = ::readlinkat(::dirfd(d), e->d_name, target, sizeof target - 1);
      line = fmt::format("link  {} -> {}", name, n > 0 ? std::string_view(target, static_cast<std::size_t>(n)) : "?");
    } else
      line = fmt::format("other {}", name);
    entries.push_back({std::string(name), std::move(line)});
    if (entries.size() > lim.max_entries) {
      std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.name < b.name; });
      entries.pop_back();
      truncated = true;
    }
  }
  dir.reset();
  std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::string out;
  for (auto& e : entries) out += e.line + "\n";
  if (entries.empty()) out = fmt::format("'{}' is empty\n", shown);
  if (truncated) out += fmt::format("[… {} more entries not shown]\n", total - entries.size());
  return tool::result{std::move(out), false, truncated};
}

std::vector<tool_def> fs_tools(const workspace& ws, fs_limits lim) {
  auto bind = [&ws, lim](auto fn) {
    return [&ws, lim, fn](const json& args, const call_context&) { return fn(ws, args, lim); };
  };
  std::vector<tool_def> out;
  out.push_back({{"read_file",
                  fmt::format("Read a text file from the workspace. Output is cut at {} KiB; use offset (first line, "
                              "1-based) and limit (number of lines) to read parts of a large file.",
                              lim.max_read_bytes / 1024),
                  R"json({"type":"object","properties":{"path":{"type":"string","description":"File path, relative to the workspace or absolute inside it"},"offset":{"type":"integer","minimum":1,"description":"First line to return (1-based)"},"limit":{"type":"integer","minimum":1,"description":"Number of lines to return"}},"required":["path"],"additionalProperties":false})json"},
                 bind(read_file)});
  out.push_back({{"write_file",
                  "Create or replace a text file in the workspace (parent directories are created). The write is "
                  "atomic: readers see the old or the new content, never a mix.",
                  R"json({"type":"object","properties":{"path":{"type":"string","description":"File path, relative to the workspace or absolute inside it"},"content":{"type":"string","description":"The complete new content"}},"required":["path","content"],"additionalProperties":false})json"},
                 bind(write_file)});
  out.push_back({{"edit_file",
                  "Replace exact text in a file. old_text must match exactly once unless replace_all is true; "
                  "include enough surrounding text to make it unique.",
                  R"json({"type":"object","properties":{"path":{"type":"string"},"old_text":{"type":"string","minLength":1,"description":"Text to find, exactly as in the file"},"new_text":{"type":"string","description":"Replacement text"},"replace_all":{"type":"boolean","default":false,"description":"Replace every occurrence"}},"required":["path","old_text","new_text"],"additionalProperties":false})json"},
                 bind(edit_file)});
  out.push_back({{"list_dir",
                  fmt::format("List a directory of the workspace (default: its top), sorted by name, with type and "
                              "size; at most {} entries.",
                              lim.max_entries),
                  R"json({"type":"object","properties":{"path":{"type":"string","description":"Directory, relative to the workspace or absolute inside it; default the workspace"}},"additionalProperties":false})json"},
                 bind(list_dir)});
  return out;
}

}  // namespace weft::tools
