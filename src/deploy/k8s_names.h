// Names Kubernetes accepts, made from Derived's: DNS-1123 labels for Deployments, valid
// ConfigMap keys for project files. Each mapping is stable (the same input gives the same
// name on every run and machine) and one-to-one over the set it is given.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace derived::deploy {

inline constexpr size_t kMaxLabelLength = 63;       // DNS-1123 label, label value
inline constexpr size_t kMaxSubdomainLength = 253;  // DNS-1123 subdomain, ConfigMap key

// `text` lowercased, every run of characters outside [a-z0-9] made one '-', no '-' at
// either end ("core.Daily_orders" -> "core-daily-orders"); may be empty.
std::string DnsWords(std::string_view text);

// `prefix` + "-" + DnsWords(text), at most kMaxLabelLength characters: a longer one is cut
// and ends in "-" and 8 hex digits of the hash of `text`, as it does with `hashed`.
std::string DnsLabelFor(std::string_view prefix, std::string_view text, bool hashed = false);

// The Deployment name of each table (qualified names): "derived-core-daily-orders".
// Tables whose names would collide all take the hash suffix, so none depends on which
// other tables exist beyond those it collides with.
std::map<std::string, std::string> TableDeploymentNames(const std::vector<std::string>& tables);

// The ConfigMap key of each project-relative path: the path with '/' as '.' and any other
// character outside [-._a-zA-Z0-9] as '_'; paths whose keys would collide, and keys that
// are invalid or too long, take a hash suffix.
std::map<std::string, std::string> ConfigMapKeys(const std::vector<std::string>& paths);

// The rules of the Kubernetes API (k8s.io/apimachinery/pkg/util/validation).
bool IsDnsLabel(std::string_view s);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63
bool IsDnsSubdomain(std::string_view s);  // dot-separated DNS labels, at most 253
bool IsConfigMapKey(std::string_view s);  // [-._a-zA-Z0-9]+, not "." or "..", at most 253

// 8 hex digits of the content hash of `text`.
std::string ShortHash(std::string_view text);

}  // namespace derived::deploy
