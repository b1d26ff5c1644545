// Column-aligned text tables for terminal output.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace derived::cli {

// Pads every column to its widest cell; the last column is not padded.
void PrintTextTable(std::ostream& out, const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows);

// "3h 20m", "2d 4h", "45s": a duration for humans.
std::string HumanDuration(int64_t seconds);

}  // namespace derived::cli
