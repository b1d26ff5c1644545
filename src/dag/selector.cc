#include "dag/selector.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

#include "util/strings.h"

namespace derived {
namespace {

constexpr int kNoOperator = -2;  // no '+' on that side; -1 means unlimited depth
constexpr std::string_view kSyntax =
    "expected dataset.table, table, dataset.*, tag:name, source:dataset.table or *, "
    "optionally with [N]+ before or +[N] after";

struct Term {
  std::string text;  // as written, for messages
  std::string body;  // lowercased method part, without graph operators
  int up_depth = kNoOperator;
  int down_depth = kNoOperator;
};

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// "" means unlimited (-1). Overlong numbers are an error rather than a silent clamp.
bool ParseDepth(std::string_view digits, int* depth) {
  if (digits.empty()) {
    *depth = -1;
    return true;
  }
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *depth);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

Result<Term> ParseTerm(std::string_view text) {
  Term term;
  term.text = std::string(text);
  auto invalid = [&](const std::string& why) {
    return Error("invalid selector term '" + term.text + "': " + why + "; " + std::string(kSyntax));
  };

  size_t begin = 0, end = text.size();
  size_t digits = 0;
  while (digits < end && IsDigit(text[digits])) ++digits;
  // Leading digits are part of a name ("2024_sales") unless a '+' follows them.
  if (digits < end && text[digits] == '+') {
    if (!ParseDepth(text.substr(0, digits), &term.up_depth)) return invalid("depth is too large");
    begin = digits + 1;
  }
  size_t tail = end;
  while (tail > begin && IsDigit(text[tail - 1])) --tail;
  if (tail > begin && text[tail - 1] == '+') {
    if (!ParseDepth(text.substr(tail, end - tail), &term.down_depth)) return invalid("depth is too large");
    end = tail - 1;
  }
  if (begin >= end) return invalid("missing a name");
  std::string_view body = text.substr(begin, end - begin);
  if (body.find('+') != std::string_view::npos) return invalid("'+' may only come first or last");
  term.body = ToLower(body);
  return term;
}

std::vector<std::string> Unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

bool HasTag(const Node& n, std::string_view tag) {
  return std::any_of(n.tags.begin(), n.tags.end(), [&](const std::string& t) { return ToLower(t) == tag; });
}

// Nodes the method part of a term names. On no match, `closest` gets the nearest plausible
// spelling, if any.
std::vector<int> MatchBody(const Graph& g, std::string_view body, bool sources_only, std::string* closest) {
  std::vector<int> out;
  std::vector<std::string> candidates;
  const int n = static_cast<int>(g.size());
  for (int id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (sources_only && node.kind != NodeKind::kSource) continue;
    bool match = false;
    if (body == "*") {
      match = true;
    } else if (StartsWith(body, "tag:")) {
      match = HasTag(node, body.substr(4));
      for (const auto& t : node.tags) candidates.push_back("tag:" + ToLower(t));
    } else if (EndsWith(body, ".*")) {
      match = node.dataset == body.substr(0, body.size() - 2);
      candidates.push_back(node.dataset + ".*");
    } else if (body.find('.') != std::string_view::npos) {
      match = node.name == body;
      candidates.push_back(node.name);
    } else {
      match = node.table == body;
      candidates.push_back(node.table);
      candidates.push_back(node.name);
    }
    if (match) out.push_back(id);
  }
  if (out.empty()) *closest = ClosestMatch(body, Unique(std::move(candidates)));
  return out;
}

// Everything but graph operators: "source:" narrows to sources, other "x:" are unknown.
Result<std::vector<int>> MatchMethod(const Graph& g, const Term& term) {
  std::string_view body = term.body;
  bool sources_only = false;
  if (StartsWith(body, "source:")) {
    sources_only = true;
    body.remove_prefix(7);
    if (body.empty() || StartsWith(body, "tag:")) {
      return Error("invalid selector term '" + term.text +
                   "': expected source:dataset.table, source:table, source:dataset.* or source:*");
    }
  }
  size_t colon = body.find(':');
  if (colon != std::string_view::npos && !StartsWith(body, "tag:")) {
    std::string method(body.substr(0, colon));
    return Error("invalid selector term '" + term.text + "': unknown method '" + method + ":'" +
                 DidYouMean(method, {"tag", "source"}) + "; expected tag:name or source:dataset.table");
  }
  if (body == "tag:") {
    return Error("invalid selector term '" + term.text + "': missing a tag name after 'tag:'");
  }

  std::string closest;
  std::vector<int> matched = MatchBody(g, body, sources_only, &closest);
  if (matched.empty()) {
    std::string message = "selector '" + term.text + "' matches " + (sources_only ? "no source" : "nothing");
    if (!closest.empty()) {
      message += " (did you mean '" + std::string(sources_only ? "source:" : "") + closest + "'?)";
    }
    return Error(message);
  }
  return matched;
}

std::vector<std::string> SplitTerms(std::string_view selector) {
  std::vector<std::string> terms;
  std::string current;
  for (char c : selector) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      if (!current.empty()) terms.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) terms.push_back(std::move(current));
  return terms;
}

// Marks every node within `depth` edges (-1 = unlimited) of any seed. One breadth-first
// pass from all seeds at once, so "+*" on a large graph stays linear.
void Expand(const Graph& g, const std::vector<int>& seeds, int depth, bool upstream,
            std::vector<char>* selected) {
  std::vector<char> seen(g.size(), 0);
  std::vector<int> frontier = seeds;
  for (int id : seeds) seen[id] = 1;
  for (int d = 0; !frontier.empty() && (depth < 0 || d < depth); ++d) {
    std::vector<int> next;
    for (int v : frontier) {
      for (int w : upstream ? g.upstream(v) : g.downstream(v)) {
        if (seen[w]) continue;
        seen[w] = 1;
        (*selected)[w] = 1;
        next.push_back(w);
      }
    }
    frontier = std::move(next);
  }
}

}  // namespace

Result<std::vector<int>> Select(const Graph& graph, std::string_view selector) {
  std::vector<std::string> terms = SplitTerms(selector);
  if (terms.empty()) return Error("empty selector; " + std::string(kSyntax));

  std::vector<char> selected(graph.size(), 0);
  for (const std::string& text : terms) {
    Result<Term> term = ParseTerm(text);
    if (!term.ok()) return term.error();
    Result<std::vector<int>> matched = MatchMethod(graph, *term);
    if (!matched.ok()) return matched.error();
    for (int id : *matched) selected[id] = 1;
    if (term->up_depth != kNoOperator) {
      Expand(graph, *matched, term->up_depth, /*upstream=*/true, &selected);
    }
    if (term->down_depth != kNoOperator) {
      Expand(graph, *matched, term->down_depth, /*upstream=*/false, &selected);
    }
  }

  Result<std::vector<int>> topo = graph.TopologicalOrder();
  std::vector<int> order = topo.ok() ? std::move(*topo) : graph.IdsByName();
  std::vector<int> out;
  for (int id : order) {
    if (selected[id]) out.push_back(id);
  }
  return out;
}

}  // namespace derived
