#include "html_text.hh"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

namespace weft::tools {

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  auto lower_starts = [&](std::size_t i, std::string_view what) {
    if (i + what.size() > html.size()) return false;
    for (std::size_t k = 0; k < what.size(); ++k)
      if (std::tolower(static_cast<unsigned char>(html[i + k])) != what[k]) return false;
    return true;
  };
  auto find_ci = [&](std::size_t from, std::string_view what) {
    for (std::size_t i = from; i + what.size() <= html.size(); ++i)
      if (lower_starts(i, what)) return i;
    return std::string_view::npos;
  };
  static constexpr std::string_view blocks[] = {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4",
                                                "h5", "h6", "section", "article", "header", "footer", "pre", "table",
                                                "blockquote", "title", "hr"};
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      if (lower_starts(i, "<!--")) {
        auto end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      bool skipped = false;
      for (std::string_view tag : {std::string_view("script"), std::string_view("style"), std::string_view("noscript")}) {
        if (lower_starts(i + 1, tag)) {
          auto close = find_ci(i, fmt::format("</{}", tag));
          auto end = close == std::string_view::npos ? std::string_view::npos : html.find('>', close);
          i = end == std::string_view::npos ? html.size() : end + 1;
          skipped = true;
          break;
        }
      }
      if (skipped) continue;
      auto end = html.find('>', i);
      std::size_t name_at = i + 1 + (i + 1 < html.size() && html[i + 1] == '/' ? 1 : 0);
      std::size_t name_end = name_at;
      while (name_end < html.size() && std::isalnum(static_cast<unsigned char>(html[name_end]))) ++name_end;
      std::string name(html.substr(name_at, name_end - name_at));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      bool block = std::find(std::begin(blocks), std::end(blocks), name) != std::end(blocks);
      out += block ? '\n' : ' ';
      i = end == std::string_view::npos ? html.size() : end + 1;
      continue;
    }
    if (c == '&') {
      auto semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) {
        std::string_view ent = html.substr(i + 1, semi - i - 1);
        std::string rep;
        if (ent == "amp") rep = "&";
        else if (ent == "lt") rep = "<";
        else if (ent == "gt") rep = ">";
        else if (ent == "quot") rep = "\"";
        else if (ent == "apos" || ent == "#39") rep = "'";
        else if (ent == "nbsp") rep = " ";
        else if (ent.size() > 1 && ent[0] == '#') {
          unsigned long cp = ent[1] == 'x' || ent[1] == 'X' ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                                            : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
          if (cp > 0 && cp < 0x80) rep = static_cast<char>(cp);
          else if (cp < 0x800) rep = {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
          else if (cp < 0x10000)
            rep = {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                   static_cast<char>(0x80 | (cp & 0x3f))};
          else if (cp < 0x110000)
            rep = {static_cast<char>(0xf0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
                   static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), static_cast<char>(0x80 | (cp & 0x3f))};
        }
        if (!rep.empty()) {
          out += rep;
          i = semi + 1;
          continue;
        }
      }
    }
    out += c;
    ++i;
  }
  // Collapse: runs of spaces/tabs to one space, trailing spaces dropped, at most one blank line.
  std::string text;
  text.reserve(out.size());
  int newlines = 0;
  bool space = false;
  for (char ch : out) {
    if (ch == '\r') continue;
    if (ch == '\n') {
      space = false;
      if (!text.empty() && newlines < 2) text += '\n';
      ++newlines;
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v') {
      space = true;
      continue;
    }
    if (space && newlines == 0 && !text.empty()) text += ' ';
    space = false;
    newlines = 0;
    text += ch;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace weft::tools
