#include "k8s_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <tuple>

namespace derived::testing {
namespace {

// --- apimachinery/pkg/util/validation ---------------------------------------------
const std::regex kDnsLabel("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
const std::regex kDnsSubdomain("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
const std::regex kQualifiedName("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$");
const std::regex kLabelValue("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$");
const std::regex kConfigMapKey("^[-._a-zA-Z0-9]+$");
const std::regex kEnvVarName("^[-._a-zA-Z][-._a-zA-Z0-9]*$");
const std::regex kIanaSvcName("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$");
// k8s.io/apimachinery/pkg/api/resource: <signedNumber><suffix>
const std::regex kQuantity(
    "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$");
const std::regex kBase64("^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$");

// What go-yaml (YAML 1.1, as Kubernetes decodes) makes of a plain scalar other than a string.
const std::regex kYamlBool(
    "^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$");
const std::regex kYamlNull("^(~|null|Null|NULL|)$");
const std::regex kYamlInt(
    "^[-+]?(0b[01_]+|0[0-7_]+|(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$");
const std::regex kYamlFloat(
    "^([-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*([eE][-+]?[0-9]+)|[-+]?\\.(inf|Inf|"
    "INF)|"
    "\\.(nan|NaN|NAN)|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*)$");
const std::regex kYamlTimestamp("^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$");

bool Matches(const std::string& s, const std::regex& re) { return std::regex_match(s, re); }

bool IsLabelKey(const std::string& key) {
  size_t slash = key.find('/');
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    if (prefix.empty() || prefix.size() > 253 || !Matches(prefix, kDnsSubdomain)) return false;
  }
  return !name.empty() && name.size() <= 63 && Matches(name, kQualifiedName);
}

bool IsIanaSvcName(const std::string& s) {
  return !s.empty() && s.size() <= 15 && Matches(s, kIanaSvcName) && s.find("--") == std::string::npos &&
         s.find_first_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos;
}

// A quantity's value, for comparing a request with its limit.
double QuantityValue(const std::string& q) {
  size_t end = q.find_first_not_of("+-0123456789.");
  double number = std::stod(q.substr(0, end));
  std::string suffix = end == std::string::npos ? "" : q.substr(end);
  static const std::map<std::string, double> kScale = {{"", 1},
                                                       {"n", 1e-9},
                                                       {"u", 1e-6},
                                                       {"m", 1e-3},
                                                       {"k", 1e3},
                                                       {"M", 1e6},
                                                       {"G", 1e9},
                                                       {"T", 1e12},
                                                       {"P", 1e15},
                                                       {"E", 1e18},
                                                       {"Ki", 1024.0},
                                                       {"Mi", 1048576.0},
                                                       {"Gi", 1073741824.0},
                                                       {"Ti", 1099511627776.0},
                                                       {"Pi", 1125899906842624.0},
                                                       {"Ei", 1152921504606846976.0}};
  if (auto it = kScale.find(suffix); it != kScale.end()) return number * it->second;
  return number * std::pow(10.0, std::stod(suffix.substr(1)));
}

class Checker {
 public:
  std::vector<std::string> problems;

  void Fail(const std::string& path, const std::string& what) { problems.push_back(path + ": " + what); }

  bool IsString(const YAML::Node& n) {
    if (!n.IsDefined() || !n.IsScalar()) return false;
    if (n.Tag() != "?") return true;  // quoted or a block scalar
    const std::string& s = n.Scalar();
    return !(Matches(s, kYamlBool) || Matches(s, kYamlNull) || Matches(s, kYamlInt) ||
             Matches(s, kYamlFloat) || Matches(s, kYamlTimestamp));
  }
  bool String(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined()) {
      Fail(path, "is missing");
      return false;
    }
    if (IsString(n)) return true;
    Fail(path,
         "must be a string" + (n.IsScalar() ? " (YAML reads '" + n.Scalar() + "' as another type)" : ""));
    return false;
  }
  bool NonEmptyString(const YAML::Node& n, const std::string& path) {
    if (!String(n, path)) return false;
    if (n.Scalar().empty()) Fail(path, "must not be empty");
    return !n.Scalar().empty();
  }
  bool Int(const YAML::Node& n, const std::string& path, long min, long max) {
    static const std::regex kDecimal("^-?[0-9]+$");
    if (!n.IsDefined() || !n.IsScalar() || n.Tag() != "?" || !Matches(n.Scalar(), kDecimal)) {
      Fail(path, "must be an integer");
      return false;
    }
    long v = std::stol(n.Scalar());
    if (v < min || v > max) Fail(path, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    return true;
  }
  void Bool(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || !n.IsScalar() || n.Tag() != "?" ||
        (n.Scalar() != "true" && n.Scalar() != "false")) {
      Fail(path, "must be a boolean");
    }
  }
  void OneOf(const YAML::Node& n, const std::string& path, const std::set<std::string>& values) {
    if (String(n, path) && !values.count(n.Scalar()))
      Fail(path, "'" + n.Scalar() + "' is not an allowed value");
  }

  // A mapping with only `allowed` fields, and every `required` one.
  bool Map(const YAML::Node& n, const std::string& path, const std::set<std::string>& allowed,
           const std::set<std::string>& required = {}) {
    if (!n.IsDefined() || !n.IsMap()) {
      Fail(path, "must be a mapping");
      return false;
    }
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || !allowed.count(kv.first.Scalar())) {
        Fail(path, "unknown field '" + (kv.first.IsScalar() ? kv.first.Scalar() : "?") + "'");
      }
    }
    for (const auto& r : required) {
      if (!n[r].IsDefined() || n[r].IsNull()) Fail(path + "." + r, "is required");
    }
    return true;
  }
  bool List(const YAML::Node& n, const std::string& path) {
    bool list = n.IsDefined() && n.IsSequence();
    if (!list) Fail(path, "must be a list");
    return list;
  }
  // A map of string keys to string values: labels, annotations, data.
  bool StringMap(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || !n.IsMap()) {
      Fail(path, "must be a mapping");
      return false;
    }
    for (const auto& kv : n) {
      String(kv.first, path + " key");
      String(kv.second, path + "." + kv.first.Scalar());
    }
    return true;
  }

  void Metadata(const YAML::Node& m, const std::string& path, bool name_required, bool name_is_label) {
    if (!Map(m, path, {"name", "namespace", "labels", "annotations", "generateName", "finalizers"},
             name_required ? std::set<std::string>{"name"} : std::set<std::string>{})) {
      return;
    }
    if (m["name"].IsDefined() && String(m["name"], path + ".name")) {
      const std::string& name = m["name"].Scalar();
      bool ok = name_is_label ? name.size() <= 63 && Matches(name, kDnsLabel)
                              : name.size() <= 253 && Matches(name, kDnsSubdomain);
      if (!ok)
        Fail(path + ".name", "'" + name + "' is not a DNS-1123 " + (name_is_label ? "label" : "subdomain"));
    }
    if (m["namespace"].IsDefined() && String(m["namespace"], path + ".namespace") &&
        !(m["namespace"].Scalar().size() <= 63 && Matches(m["namespace"].Scalar(), kDnsLabel))) {
      Fail(path + ".namespace", "is not a DNS-1123 label");
    }
    if (m["labels"].IsDefined() && StringMap(m["labels"], path + ".labels")) {
      for (const auto& kv : m["labels"]) {
        if (!IsLabelKey(kv.first.Scalar()))
          Fail(path + ".labels", "bad label key '" + kv.first.Scalar() + "'");
        if (kv.second.Scalar().size() > 63 || !Matches(kv.second.Scalar(), kLabelValue)) {
          Fail(path + ".labels." + kv.first.Scalar(), "bad label value '" + kv.second.Scalar() + "'");
        }
      }
    }
    if (m["annotations"].IsDefined() && StringMap(m["annotations"], path + ".annotations")) {
      size_t total = 0;
      for (const auto& kv : m["annotations"]) {
        if (!IsLabelKey(kv.first.Scalar()))
          Fail(path + ".annotations", "bad key '" + kv.first.Scalar() + "'");
        total += kv.first.Scalar().size() + kv.second.Scalar().size();
      }
      if (total > 256 * 1024) Fail(path + ".annotations", "more than 256 KiB");
    }
  }

  void ConfigMap(const YAML::Node& o) {
    Map(o, "ConfigMap", {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}, {"metadata"});
    Metadata(o["metadata"], "metadata", true, false);
    size_t total = 0;
    std::set<std::string> keys;
    for (const char* field : {"data", "binaryData"}) {
      YAML::Node d = o[field];
      if (!d.IsDefined() || !StringMap(d, field)) continue;
      for (const auto& kv : d) {
        const std::string& key = kv.first.Scalar();
        if (key.size() > 253 || key == "." || key == ".." || !Matches(key, kConfigMapKey)) {
          Fail(std::string(field), "invalid key '" + key + "'");
        }
        if (!keys.insert(key).second)
          Fail(std::string(field), "key '" + key + "' is in both data and binaryData");
        const std::string& value = kv.second.Scalar();
        if (std::string(field) == "binaryData") {
          if (!Matches(value, kBase64)) Fail("binaryData." + key, "is not base64");
          total += value.size() / 4 * 3 - (value.size() >= 1 && value.back() == '=') -
                   (value.size() >= 2 && value[value.size() - 2] == '=');
        } else {
          total += value.size();
        }
      }
    }
    if (o["immutable"].IsDefined()) Bool(o["immutable"], "immutable");
    if (total > 1024 * 1024)
      Fail("ConfigMap", "data and binaryData hold " + std::to_string(total) + " bytes, more than 1 MiB");
  }

  void Probe(const YAML::Node& p, const std::string& path, const std::set<std::string>& port_names,
             bool liveness) {
    if (!Map(p, path,
             {"httpGet", "tcpSocket", "exec", "grpc", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"})) {
      return;
    }
    int handlers = 0;
    for (const char* h : {"httpGet", "tcpSocket", "exec", "grpc"}) handlers += p[h].IsDefined();
    if (handlers != 1) Fail(path, "must have exactly one handler");
    if (YAML::Node h = p["httpGet"]; h.IsDefined()) {
      if (Map(h, path + ".httpGet", {"path", "port", "host", "scheme", "httpHeaders"}, {"port"})) {
        if (h["path"].IsDefined() && String(h["path"], path + ".httpGet.path") &&
            h["path"].Scalar().rfind('/', 0) != 0) {
          Fail(path + ".httpGet.path", "must start with /");
        }
        YAML::Node port = h["port"];
        if (port.IsScalar() && port.Tag() == "?" && Matches(port.Scalar(), std::regex("^[0-9]+$"))) {
          Int(port, path + ".httpGet.port", 1, 65535);
        } else if (IsString(port)) {
          if (!IsIanaSvcName(port.Scalar()) || !port_names.count(port.Scalar())) {
            Fail(path + ".httpGet.port", "names no port of the container");
          }
        } else {
          Fail(path + ".httpGet.port", "must be an integer or a port name");
        }
        if (h["scheme"].IsDefined()) OneOf(h["scheme"], path + ".httpGet.scheme", {"HTTP", "HTTPS"});
      }
    }
    if (p["initialDelaySeconds"].IsDefined())
      Int(p["initialDelaySeconds"], path + ".initialDelaySeconds", 0, 1 << 30);
    for (const char* f : {"periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"}) {
      if (p[f].IsDefined()) Int(p[f], path + "." + f, 1, 1 << 30);
    }
    if (liveness && p["successThreshold"].IsDefined() && p["successThreshold"].Scalar() != "1") {
      Fail(path + ".successThreshold", "must be 1 for liveness and startup probes");
    }
  }

  void Resources(const YAML::Node& r, const std::string& path) {
    if (!Map(r, path, {"requests", "limits", "claims"})) return;
    std::map<std::string, double> requests, limits;
    for (const char* kind : {"requests", "limits"}) {
      YAML::Node q = r[kind];
      if (!q.IsDefined()) continue;
      if (!q.IsMap()) {
        Fail(path + "." + kind, "must be a mapping");
        continue;
      }
      for (const auto& kv : q) {
        std::string name = kv.first.Scalar(), at = path + "." + kind + "." + name;
        if (name != "cpu" && name != "memory" && name != "ephemeral-storage") Fail(at, "unknown resource");
        if (!kv.second.IsScalar() || !Matches(kv.second.Scalar(), kQuantity)) {
          Fail(at, "is not a quantity");
          continue;
        }
        (std::string(kind) == "requests" ? requests : limits)[name] = QuantityValue(kv.second.Scalar());
      }
    }
    for (const auto& [name, limit] : limits) {
      if (requests.count(name) && requests[name] > limit) Fail(path, name + " request exceeds its limit");
    }
  }

  void Env(const YAML::Node& env, const std::string& path) {
    if (!List(env, path)) return;
    std::set<std::string> names;
    for (size_t i = 0; i < env.size(); ++i) {
      std::string at = path + "[" + std::to_string(i) + "]";
      YAML::Node e = env[i];
      if (!Map(e, at, {"name", "value", "valueFrom"}, {"name"})) continue;
      if (String(e["name"], at + ".name")) {
        if (!Matches(e["name"].Scalar(), kEnvVarName)) Fail(at + ".name", "is not a valid variable name");
        if (!names.insert(e["name"].Scalar()).second) Fail(at + ".name", "is given twice");
      }
      if (e["value"].IsDefined() == e["valueFrom"].IsDefined())
        Fail(at, "needs exactly one of value, valueFrom");
      if (e["value"].IsDefined()) String(e["value"], at + ".value");
      YAML::Node from = e["valueFrom"];
      if (!from.IsDefined() || !Map(from, at + ".valueFrom",
                                    {"fieldRef", "secretKeyRef", "configMapKeyRef", "resourceFieldRef"})) {
        continue;
      }
      if (from.size() != 1) Fail(at + ".valueFrom", "needs exactly one source");
      if (YAML::Node f = from["fieldRef"];
          f.IsDefined() && Map(f, at + ".valueFrom.fieldRef", {"fieldPath", "apiVersion"}, {"fieldPath"})) {
        OneOf(f["fieldPath"], at + ".valueFrom.fieldRef.fieldPath",
              {"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
               "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"});
      }
      for (const char* ref : {"secretKeyRef", "configMapKeyRef"}) {
        YAML::Node s = from[ref];
        std::string sat = at + ".valueFrom." + ref;
        if (!s.IsDefined() || !Map(s, sat, {"name", "key", "optional"}, {"name", "key"})) continue;
        if (String(s["name"], sat + ".name") && !Matches(s["name"].Scalar(), kDnsSubdomain)) {
          Fail(sat + ".name", "is not a DNS-1123 subdomain");
        }
        if (String(s["key"], sat + ".key") && !Matches(s["key"].Scalar(), kConfigMapKey))
          Fail(sat + ".key", "is not a valid key");
        if (s["optional"].IsDefined()) Bool(s["optional"], sat + ".optional");
      }
    }
  }

  void Container(const YAML::Node& c, const std::string& path, const std::set<std::string>& volumes,
                 bool init) {
    if (!Map(c, path,
             {"name", "image", "command", "args", "env", "envFrom", "ports", "startupProbe", "livenessProbe",
              "readinessProbe", "resources", "volumeMounts", "securityContext", "workingDir",
              "imagePullPolicy", "restartPolicy"},
             {"name", "image"})) {
      return;
    }
    if (String(c["name"], path + ".name") &&
        !(c["name"].Scalar().size() <= 63 && Matches(c["name"].Scalar(), kDnsLabel))) {
      Fail(path + ".name", "is not a DNS-1123 label");
    }
    NonEmptyString(c["image"], path + ".image");
    for (const char* f : {"command", "args"}) {
      if (!c[f].IsDefined() || !List(c[f], path + "." + f)) continue;
      for (size_t i = 0; i < c[f].size(); ++i)
        String(c[f][i], path + "." + f + "[" + std::to_string(i) + "]");
    }
    if (c["env"].IsDefined()) Env(c["env"], path + ".env");
    std::set<std::string> port_names;
    if (c["ports"].IsDefined() && List(c["ports"], path + ".ports")) {
      for (size_t i = 0; i < c["ports"].size(); ++i) {
        YAML::Node p = c["ports"][i];
        std::string at = path + ".ports[" + std::to_string(i) + "]";
        if (!Map(p, at, {"name", "containerPort", "protocol", "hostPort", "hostIP"}, {"containerPort"}))
          continue;
        Int(p["containerPort"], at + ".containerPort", 1, 65535);
        if (p["protocol"].IsDefined()) OneOf(p["protocol"], at + ".protocol", {"TCP", "UDP", "SCTP"});
        if (p["name"].IsDefined() && String(p["name"], at + ".name")) {
          if (!IsIanaSvcName(p["name"].Scalar())) Fail(at + ".name", "is not an IANA service name");
          if (!port_names.insert(p["name"].Scalar()).second) Fail(at + ".name", "is given twice");
        }
      }
    }
    for (const char* probe : {"startupProbe", "livenessProbe", "readinessProbe"}) {
      if (!c[probe].IsDefined()) continue;
      if (init) Fail(path + "." + probe, "an init container may not have probes");
      Probe(c[probe], path + "." + probe, port_names, std::string(probe) != "readinessProbe");
    }
    if (c["resources"].IsDefined()) Resources(c["resources"], path + ".resources");
    if (c["volumeMounts"].IsDefined() && List(c["volumeMounts"], path + ".volumeMounts")) {
      std::set<std::string> paths;
      for (size_t i = 0; i < c["volumeMounts"].size(); ++i) {
        YAML::Node m = c["volumeMounts"][i];
        std::string at = path + ".volumeMounts[" + std::to_string(i) + "]";
        if (!Map(m, at, {"name", "mountPath", "readOnly", "subPath"}, {"name", "mountPath"})) continue;
        if (String(m["name"], at + ".name") && !volumes.count(m["name"].Scalar()))
          Fail(at + ".name", "names no volume");
        if (String(m["mountPath"], at + ".mountPath")) {
          if (m["mountPath"].Scalar().rfind('/', 0) != 0) Fail(at + ".mountPath", "must be absolute");
          if (!paths.insert(m["mountPath"].Scalar()).second) Fail(at + ".mountPath", "is mounted twice");
        }
        if (m["readOnly"].IsDefined()) Bool(m["readOnly"], at + ".readOnly");
      }
    }
    if (YAML::Node s = c["securityContext"];
        s.IsDefined() && Map(s, path + ".securityContext",
                             {"allowPrivilegeEscalation", "runAsNonRoot", "readOnlyRootFilesystem",
                              "runAsUser", "runAsGroup", "capabilities"})) {
      for (const char* f : {"allowPrivilegeEscalation", "runAsNonRoot", "readOnlyRootFilesystem"}) {
        if (s[f].IsDefined()) Bool(s[f], path + ".securityContext." + f);
      }
    }
    if (c["imagePullPolicy"].IsDefined())
      OneOf(c["imagePullPolicy"], path + ".imagePullPolicy", {"Always", "IfNotPresent", "Never"});
  }

  // The volume names, after checking each volume.
  std::set<std::string> Volumes(const YAML::Node& v, const std::string& path) {
    std::set<std::string> names;
    if (!v.IsDefined() || !List(v, path)) return names;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string at = path + "[" + std::to_string(i) + "]";
      YAML::Node vol = v[i];
      if (!Map(vol, at, {"name", "configMap", "emptyDir", "secret", "projected"}, {"name"})) continue;
      if (String(vol["name"], at + ".name")) {
        if (!(vol["name"].Scalar().size() <= 63 && Matches(vol["name"].Scalar(), kDnsLabel)))
          Fail(at + ".name", "is not a DNS-1123 label");
        if (!names.insert(vol["name"].Scalar()).second) Fail(at + ".name", "is given twice");
      }
      if (vol.size() != 2) Fail(at, "needs exactly one volume source");
      if (YAML::Node e = vol["emptyDir"]; e.IsDefined()) Map(e, at + ".emptyDir", {"medium", "sizeLimit"});
      YAML::Node cm = vol["configMap"];
      if (!cm.IsDefined() ||
          !Map(cm, at + ".configMap", {"name", "items", "defaultMode", "optional"}, {"name"}))
        continue;
      String(cm["name"], at + ".configMap.name");
      if (!cm["items"].IsDefined() || !List(cm["items"], at + ".configMap.items")) continue;
      std::set<std::string> item_paths;
      for (size_t k = 0; k < cm["items"].size(); ++k) {
        YAML::Node item = cm["items"][k];
        std::string iat = at + ".configMap.items[" + std::to_string(k) + "]";
        if (!Map(item, iat, {"key", "path", "mode"}, {"key", "path"})) continue;
        if (String(item["key"], iat + ".key") && !Matches(item["key"].Scalar(), kConfigMapKey))
          Fail(iat + ".key", "is not a valid key");
        if (!String(item["path"], iat + ".path")) continue;
        const std::string& p = item["path"].Scalar();
        bool dots = p == ".." || p.rfind("../", 0) == 0 || p.find("/../") != std::string::npos ||
                    (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0);
        if (p.empty() || p[0] == '/' || dots) Fail(iat + ".path", "must be relative without '..'");
        if (!item_paths.insert(p).second) Fail(iat + ".path", "is given twice");
      }
    }
    return names;
  }

  void Deployment(const YAML::Node& o) {
    Map(o, "Deployment", {"apiVersion", "kind", "metadata", "spec"}, {"metadata", "spec"});
    Metadata(o["metadata"], "metadata", true, /*name_is_label=*/true);
    YAML::Node spec = o["spec"];
    if (!Map(spec, "spec",
             {"replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
              "progressDeadlineSeconds", "paused"},
             {"selector", "template"})) {
      return;
    }
    if (spec["replicas"].IsDefined()) Int(spec["replicas"], "spec.replicas", 0, 1 << 30);
    if (YAML::Node s = spec["strategy"];
        s.IsDefined() && Map(s, "spec.strategy", {"type", "rollingUpdate"})) {
      if (s["type"].IsDefined()) OneOf(s["type"], "spec.strategy.type", {"Recreate", "RollingUpdate"});
      if (s["type"].IsDefined() && s["type"].Scalar() == "Recreate" && s["rollingUpdate"].IsDefined()) {
        Fail("spec.strategy", "rollingUpdate is for type RollingUpdate only");
      }
    }
    YAML::Node selector = spec["selector"], tmpl = spec["template"];
    if (Map(selector, "spec.selector", {"matchLabels", "matchExpressions"}, {"matchLabels"}) &&
        StringMap(selector["matchLabels"], "spec.selector.matchLabels") &&
        selector["matchLabels"].size() == 0) {
      Fail("spec.selector.matchLabels", "must not be empty");
    }
    if (!Map(tmpl, "spec.template", {"metadata", "spec"}, {"metadata", "spec"})) return;
    Metadata(tmpl["metadata"], "spec.template.metadata", false, false);
    YAML::Node labels = tmpl["metadata"]["labels"];
    if (selector["matchLabels"].IsMap()) {
      for (const auto& kv : selector["matchLabels"]) {
        if (!labels.IsMap() || !labels[kv.first.Scalar()].IsDefined() ||
            labels[kv.first.Scalar()].Scalar() != kv.second.Scalar()) {
          Fail("spec.template.metadata.labels", "does not match the selector's " + kv.first.Scalar());
        }
      }
    }
    YAML::Node pod = tmpl["spec"];
    if (!Map(pod, "spec.template.spec",
             {"containers", "initContainers", "volumes", "terminationGracePeriodSeconds", "securityContext",
              "serviceAccountName", "restartPolicy", "nodeSelector"},
             {"containers"})) {
      return;
    }
    if (pod["restartPolicy"].IsDefined())
      OneOf(pod["restartPolicy"], "spec.template.spec.restartPolicy", {"Always"});
    if (pod["terminationGracePeriodSeconds"].IsDefined()) {
      Int(pod["terminationGracePeriodSeconds"], "spec.template.spec.terminationGracePeriodSeconds", 0,
          1 << 30);
    }
    std::set<std::string> volumes = Volumes(pod["volumes"], "spec.template.spec.volumes");
    std::set<std::string> container_names;
    for (const char* list : {"initContainers", "containers"}) {
      YAML::Node cs = pod[list];
      std::string at = std::string("spec.template.spec.") + list;
      if (!cs.IsDefined() || !List(cs, at)) continue;
      if (std::string(list) == "containers" && cs.size() == 0) Fail(at, "must not be empty");
      for (size_t i = 0; i < cs.size(); ++i) {
        Container(cs[i], at + "[" + std::to_string(i) + "]", volumes, std::string(list) == "initContainers");
        if (cs[i]["name"].IsScalar() && !container_names.insert(cs[i]["name"].Scalar()).second) {
          Fail(at + "[" + std::to_string(i) + "].name", "is given twice");
        }
      }
    }
  }
};

std::string Namespace(const YAML::Node& o) {
  YAML::Node ns = o["metadata"]["namespace"];
  return ns.IsDefined() ? ns.Scalar() : "";
}

}  // namespace

namespace {

std::vector<std::string> ObjectProblems(const YAML::Node& object) {
  Checker c;
  if (!object.IsMap()) return {"the object is not a mapping"};
  if (!object["apiVersion"].IsDefined() || !c.NonEmptyString(object["apiVersion"], "apiVersion")) {
    c.Fail("apiVersion", "is required");
    return c.problems;
  }
  if (!object["kind"].IsDefined() || !c.NonEmptyString(object["kind"], "kind")) {
    c.Fail("kind", "is required");
    return c.problems;
  }
  std::string api = object["apiVersion"].Scalar(), kind = object["kind"].Scalar();
  if (kind == "ConfigMap" && api == "v1") {
    c.ConfigMap(object);
  } else if (kind == "Deployment" && api == "apps/v1") {
    c.Deployment(object);
  } else {
    c.Fail("kind", kind + " of " + api + " is not a kind `derived deploy k8s` writes");
  }
  return c.problems;
}

std::vector<std::string> SetProblems(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> problems;
  std::map<std::pair<std::string, std::string>, YAML::Node> config_maps;  // (namespace, name)
  std::set<std::tuple<std::string, std::string, std::string>> names;      // (kind, namespace, name)
  for (const auto& o : objects) {
    std::string kind = o["kind"].Scalar(), name = o["metadata"]["name"].Scalar();
    if (!names.insert({kind, Namespace(o), name}).second)
      problems.push_back(kind + " " + name + " is defined twice");
    if (kind == "ConfigMap") config_maps[{Namespace(o), name}] = o;
  }
  for (const auto& o : objects) {
    if (o["kind"].Scalar() != "Deployment") continue;
    std::string who = "Deployment " + o["metadata"]["name"].Scalar();
    YAML::Node volumes = o["spec"]["template"]["spec"]["volumes"];
    if (!volumes.IsSequence()) continue;
    for (const auto& v : volumes) {
      YAML::Node cm = v["configMap"];
      if (!cm.IsDefined()) continue;
      auto it = config_maps.find({Namespace(o), cm["name"].Scalar()});
      if (it == config_maps.end()) {
        problems.push_back(who + ": its volume names ConfigMap " + cm["name"].Scalar() +
                           ", which is not in the set");
        continue;
      }
      for (const auto& item : cm["items"]) {
        std::string key = item["key"].Scalar();
        if (!it->second["data"][key].IsDefined() && !it->second["binaryData"][key].IsDefined()) {
          problems.push_back(who + ": item key " + key + " is not in ConfigMap " + cm["name"].Scalar());
        }
      }
    }
  }
  return problems;
}

}  // namespace

std::vector<std::string> K8sObjectProblems(const YAML::Node& object) {
  try {
    return ObjectProblems(object);
  } catch (const YAML::Exception& e) {
    return {std::string("the object lacks a field the check reads: ") + e.what()};
  }
}

std::vector<std::string> K8sSetProblems(const std::vector<YAML::Node>& objects) {
  try {
    return SetProblems(objects);
  } catch (const YAML::Exception& e) {
    return {std::string("an object lacks a field the check reads: ") + e.what()};
  }
}

std::vector<std::string> K8sManifestProblems(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> problems;
  std::vector<YAML::Node> objects;
  for (const auto& [file, text] : files) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
      problems.push_back(file + ": does not parse: " + e.what());
      continue;
    }
    for (const auto& doc : docs) {
      for (const auto& p : K8sObjectProblems(doc)) problems.push_back(file + ": " + p);
      if (doc.IsMap() && doc["kind"].IsDefined() && doc["metadata"]["name"].IsDefined())
        objects.push_back(doc);
    }
  }
  for (const auto& p : K8sSetProblems(objects)) problems.push_back(p);
  return problems;
}

}  // namespace derived::testing
