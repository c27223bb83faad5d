// TomlReader: typed, range-checked access to a parsed TOML table that collects every problem as
// "SOURCE: key: problem" instead of stopping at the first, and flags unknown keys (a typo must
// never silently fall back to a default). Shared by the daemon config and plugin manifests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "common/error.h"

namespace corral::supervisor {

class TomlReader {
 public:
  explicit TomlReader(std::string source) : source_(std::move(source)) {}

  // Parses text; a syntax error is recorded as a problem (with line and column) and nullopt.
  std::optional<toml::table> parse(std::string_view text);

  void problem(std::string_view key, std::string_view what);
  // Records a problem for every key of `table` not in `known`; prefix names the table ("restart").
  void reject_unknown(const toml::table& table, std::string_view prefix,
                      std::initializer_list<std::string_view> known);

  std::optional<std::string> string(const toml::table& t, std::string_view prefix,
                                    std::string_view key);
  std::optional<int64_t> integer(const toml::table& t, std::string_view prefix,
                                 std::string_view key, int64_t min, int64_t max);
  std::optional<bool> boolean(const toml::table& t, std::string_view prefix, std::string_view key);
  std::optional<std::vector<std::string>> strings(const toml::table& t, std::string_view prefix,
                                                  std::string_view key, size_t max_items);
  // A sub-table; a non-table value under that key is a problem.
  const toml::table* table(const toml::table& t, std::string_view key);

  [[nodiscard]] bool ok() const { return problems_.empty(); }
  [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }
  [[nodiscard]] const std::string& source() const { return source_; }
  // All problems joined by newlines, as one kInvalidArgument Error.
  [[nodiscard]] Error error() const;

 private:
  static std::string full_key(std::string_view prefix, std::string_view key);

  std::string source_;
  std::vector<std::string> problems_;
};

}  // namespace corral::supervisor
