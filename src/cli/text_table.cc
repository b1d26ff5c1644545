#include "cli/text_table.h"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

namespace derived::cli {

void PrintTextTable(std::ostream& out, const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print(header);
  for (const auto& r : rows) print(r);
}

std::string HumanDuration(int64_t s) {
  bool neg = s < 0;
  if (neg) s = -s;
  std::string out;
  if (s < 60) {
    out = fmt::format("{}s", s);
  } else if (s < 3600) {
    out = fmt::format("{}m", s / 60);
  } else if (s < 86400) {
    out = s % 3600 / 60 ? fmt::format("{}h {}m", s / 3600, s % 3600 / 60) : fmt::format("{}h", s / 3600);
  } else {
    out = s % 86400 / 3600 ? fmt::format("{}d {}h", s / 86400, s % 86400 / 3600) : fmt::format("{}d", s / 86400);
  }
  return neg ? "-" + out : out;
}

}  // namespace derived::cli
