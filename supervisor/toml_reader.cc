#include "supervisor/toml_reader.h"

#include <algorithm>
#include <sstream>

namespace corral::supervisor {

std::string TomlReader::full_key(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return std::string(prefix) + "." + std::string(key);
}

std::optional<toml::table> TomlReader::parse(std::string_view text) {
  try {
    return toml::parse(text, source_);
  } catch (const toml::parse_error& err) {
    std::ostringstream msg;
    msg << "line " << err.source().begin.line << ", column " << err.source().begin.column << ": "
        << err.description();
    problems_.push_back(source_ + ": " + msg.str());
    return std::nullopt;
  }
}

void TomlReader::problem(std::string_view key, std::string_view what) {
  problems_.push_back(source_ + ": " + std::string(key) + ": " + std::string(what));
}

void TomlReader::reject_unknown(const toml::table& table, std::string_view prefix,
                                std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : table) {
    if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
      problem(full_key(prefix, k.str()), "unknown key");
    }
  }
}

std::optional<std::string> TomlReader::string(const toml::table& t, std::string_view prefix,
                                              std::string_view key) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_string()) {
    problem(full_key(prefix, key), "must be a string");
    return std::nullopt;
  }
  std::string value = node->as_string()->get();
  if (value.find('\0') != std::string::npos) {
    problem(full_key(prefix, key), "must not contain NUL bytes");
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> TomlReader::integer(const toml::table& t, std::string_view prefix,
                                           std::string_view key, int64_t min, int64_t max) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_integer()) {
    problem(full_key(prefix, key), "must be an integer");
    return std::nullopt;
  }
  int64_t value = node->as_integer()->get();
  if (value < min || value > max) {
    problem(full_key(prefix, key), "must be between " + std::to_string(min) + " and " +
                                       std::to_string(max) + ", got " + std::to_string(value));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> TomlReader::boolean(const toml::table& t, std::string_view prefix,
                                        std::string_view key) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_boolean()) {
    problem(full_key(prefix, key), "must be true or false");
    return std::nullopt;
  }
  return node->as_boolean()->get();
}

std::optional<std::vector<std::string>> TomlReader::strings(const toml::table& t,
                                                            std::string_view prefix,
                                                            std::string_view key,
                                                            size_t max_items) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return std::nullopt;
  const toml::array* arr = node->as_array();
  if (arr == nullptr) {
    problem(full_key(prefix, key), "must be an array of strings");
    return std::nullopt;
  }
  if (arr->size() > max_items) {
    problem(full_key(prefix, key), "has " + std::to_string(arr->size()) + " items, at most " +
                                       std::to_string(max_items) + " are allowed");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* s = arr->get(i)->as_string();
    std::string item_key = full_key(prefix, key) + "[" + std::to_string(i) + "]";
    if (s == nullptr) {
      problem(item_key, "must be a string");
      return std::nullopt;
    }
    if (s->get().find('\0') != std::string::npos) {
      problem(item_key, "must not contain NUL bytes");
      return std::nullopt;
    }
    out.push_back(s->get());
  }
  return out;
}

const toml::table* TomlReader::table(const toml::table& t, std::string_view key) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    problem(key, "must be a table ([" + std::string(key) + "])");
    return nullptr;
  }
  return node->as_table();
}

Error TomlReader::error() const {
  std::string msg;
  for (const auto& p : problems_) {
    if (!msg.empty()) msg += "\n";
    msg += p;
  }
  return Error{Code::kInvalidArgument, 0, msg, __FILE__, __LINE__};
}

}  // namespace corral::supervisor
