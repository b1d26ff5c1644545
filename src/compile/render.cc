// Template globals for rendering a table's SQL, and excerpts of rendered SQL for errors.
#include <fmt/format.h>

#include "compile/stages.h"
#include "util/strings.h"

namespace derived::compile_internal {

tmpl::Value JsonToValue(const nlohmann::json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::null: return tmpl::Value();
    case nlohmann::json::value_t::boolean: return tmpl::Value(json.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return tmpl::Value(json.get<int64_t>());
    case nlohmann::json::value_t::number_float: return tmpl::Value(json.get<double>());
    case nlohmann::json::value_t::string: return tmpl::Value(json.get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<tmpl::Value> items;
      for (const auto& item : json) items.push_back(JsonToValue(item));
      return tmpl::Value::List(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<std::string, tmpl::Value>> items;
      for (const auto& [k, v] : json.items()) items.emplace_back(k, JsonToValue(v));
      return tmpl::Value::Dict(std::move(items));
    }
    default: return tmpl::Value();
  }
}

tmpl::Context MakeContext(const Project& project, const TableDef& table, Window window, bool initial_build) {
  tmpl::Context ctx;
  if (table.strategy == Strategy::kView) {
    // A view is never built for a window: it always shows all of its inputs.
    for (const char* name : {"window_start", "window_end", "is_initial_build"}) {
      ctx[name] = tmpl::Value::Undefined(fmt::format(
          "{} is not defined for a view: a view has no windows and is never built, it always shows all of its "
          "inputs (use strategy replace or append to filter on a window)",
          name));
    }
  } else {
    ctx["window_start"] = tmpl::Value(FormatSqlLiteral(window.start));
    ctx["window_end"] = tmpl::Value(FormatSqlLiteral(window.end));
    ctx["is_initial_build"] = tmpl::Value(initial_build);
  }
  ctx["this"] = tmpl::Value(table.qualified_name());
  // The engine the SQL runs on, for the few spots where engines spell things apart:
  // {% if target.engine == 'postgres' %} ... {% endif %}.
  ctx["target"] = tmpl::Value::Dict({{"engine", tmpl::Value(std::string(EngineName(project.warehouse.engine)))}});
  const nlohmann::json* vars = &project.vars;
  ctx["var"] = tmpl::Value::Callable(
      [vars](const std::vector<tmpl::Value>& args,
             const std::vector<std::pair<std::string, tmpl::Value>>& kwargs) -> Result<tmpl::Value> {
        if (!kwargs.empty()) return Error("var() takes no keyword arguments");
        if (args.empty() || args.size() > 2 || !args[0].is_string()) {
          return Error("var() takes a variable name and an optional default: var('name') or var('name', 'x')");
        }
        const std::string& name = args[0].as_string();
        auto it = vars->find(name);
        if (it != vars->end()) return JsonToValue(*it);
        if (args.size() == 2) return args[1];
        std::vector<std::string> known;
        for (const auto& [k, v] : vars->items()) known.push_back(k);
        return Error(fmt::format("var('{}') is not defined in derived.yaml vars{}", name, DidYouMean(name, known)));
      });
  return ctx;
}

std::string WithExcerpt(const std::string& message, const std::string& rendered, int line) {
  if (line <= 0) return message;
  std::vector<std::string> lines = Split(rendered, '\n');
  if (static_cast<size_t>(line) > lines.size()) return message;
  std::string text = lines[static_cast<size_t>(line) - 1];
  if (Trim(text).empty()) return message;
  return fmt::format("{}\n    | {}", message, text);
}

}  // namespace derived::compile_internal
