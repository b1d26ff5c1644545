#include "deploy/k8s_names.h"

#include "util/hash.h"

namespace derived::deploy {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsKeyChar(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_';
}

// `base` cut to leave room for "-" + the hash, without a trailing separator.
std::string WithHash(std::string base, std::string_view hashed_text, size_t max,
                     std::string_view separators) {
  std::string suffix = "-" + ShortHash(hashed_text);
  if (base.size() + suffix.size() > max) base.resize(max - suffix.size());
  while (!base.empty() && separators.find(base.back()) != std::string_view::npos) base.pop_back();
  return base + suffix;
}

}  // namespace

std::string ShortHash(std::string_view text) { return ContentHash(text).substr(0, 8); }

std::string DnsWords(std::string_view text) {
  std::string out;
  for (char c : text) {
    char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (IsLowerAlnum(lower)) {
      out += lower;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string DnsLabelFor(std::string_view prefix, std::string_view text, bool hashed) {
  std::string words = DnsWords(text);
  std::string base = words.empty() ? std::string(prefix) : std::string(prefix) + "-" + words;
  if (!hashed && base.size() <= kMaxLabelLength && !words.empty()) return base;
  return WithHash(base, text, kMaxLabelLength, "-");
}

std::map<std::string, std::string> TableDeploymentNames(const std::vector<std::string>& tables) {
  std::map<std::string, std::vector<std::string>> by_name;
  for (const auto& t : tables) by_name[DnsLabelFor("derived", t)].push_back(t);
  std::map<std::string, std::string> out;
  for (const auto& [name, group] : by_name) {
    for (const auto& t : group)
      out[t] = group.size() == 1 ? name : DnsLabelFor("derived", t, /*hashed=*/true);
  }
  return out;
}

std::map<std::string, std::string> ConfigMapKeys(const std::vector<std::string>& paths) {
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& p : paths) {
    std::string key;
    for (char c : p) key += c == '/' ? '.' : IsKeyChar(c) ? c : '_';
    by_key[key].push_back(p);
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, group] : by_key) {
    for (const auto& p : group) {
      bool plain = group.size() == 1 && IsConfigMapKey(key);
      out[p] = plain ? key : WithHash(key, p, kMaxSubdomainLength, "");
    }
  }
  return out;
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelLength || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back()))
    return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > kMaxSubdomainLength) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsDnsLabel(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsConfigMapKey(std::string_view s) {
  if (s.empty() || s.size() > kMaxSubdomainLength || s == "." || s == "..") return false;
  for (char c : s) {
    if (!IsKeyChar(c)) return false;
  }
  return true;
}

}  // namespace derived::deploy
