#include "sql/embed.h"

#include <algorithm>

namespace derived::sql {

Embedding Embedding::Alone() { return Embedding(); }

Embedding Embedding::Describe() {
  Embedding e;
  e.kind_ = Kind::kDescribe;
  return e;
}

Embedding Embedding::Subquery(std::string before, std::string alias, std::string after, std::string head,
                              StatementType type) {
  Embedding e;
  e.kind_ = Kind::kSubquery;
  e.before_ = std::move(before);
  e.alias_ = std::move(alias);
  e.after_ = std::move(after);
  e.head_ = std::move(head);
  e.type_ = type;
  return e;
}

std::string Embedding::Select(std::string_view query) const {
  switch (kind_) {
    case Kind::kAlone: return std::string(query);
    // On a line of its own, so an error's "LINE n" counts the query's lines.
    case Kind::kDescribe: return "DESCRIBE\n" + std::string(query);
    case Kind::kSubquery: break;
  }
  std::string out = before_;
  out += "(\n";
  out += query;
  out += "\n) AS ";
  out += alias_;
  out += after_;
  return out;
}

int Embedding::QueryLine() const {
  switch (kind_) {
    case Kind::kAlone: return 1;
    case Kind::kDescribe: return 2;
    case Kind::kSubquery: break;
  }
  return 2 + static_cast<int>(std::count(head_.begin(), head_.end(), '\n') +
                              std::count(before_.begin(), before_.end(), '\n'));
}

}  // namespace derived::sql
