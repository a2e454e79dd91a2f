#include "tools/openapi_document.h"

#include <sys/mman.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <new>
#include <string>

#include <yaml-cpp/yaml.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/storage_ptr.hpp>

namespace tr::tools {

namespace json = boost::json;

namespace {

// YAML aliases can make a small text into an exponentially large tree ("billion laughs");
// the conversion stops after this many values. 10 MB of JSON holds about 2 million.
constexpr size_t kMaxYamlValues = 8'000'000;

struct YamlLimits {
  size_t values = 0;
};

bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

// A plain scalar as the YAML 1.2 core schema reads it.
json::value Scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  const char first = text.front();
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    if (text == ".inf" || text == "+.inf" || text == ".Inf") {
      return json::string(text);  // no JSON form
    }
    // Integers in decimal (JSON's spelling), else a number as JSON would parse it.
    json::error_code ec;
    std::string_view digits = text;
    if (first == '+') digits.remove_prefix(1);
    json::value number = json::parse(digits, ec);
    if (!ec && number.is_number()) return number;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
      try {
        size_t used = 0;
        long long v = std::stoll(text.substr(2), &used, text[1] == 'x' ? 16 : 8);
        if (used == text.size() - 2) return v;
      } catch (const std::exception&) {
      }
    }
  }
  return json::string(text);
}

Result<json::value> Convert(const YAML::Node& node, int depth, YamlLimits& limits,
                            std::string_view source) {
  if (depth > kMaxDocumentDepth) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": nested too deeply");
  }
  if (++limits.values > kMaxYamlValues) {
    return Error(Errc::kInvalidArgument,
                 std::string(source) + ": YAML aliases expand past the size limit");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      return IsPlain(node) ? Scalar(node.Scalar()) : json::value(json::string(node.Scalar()));
    case YAML::NodeType::Sequence: {
      json::array out;
      out.reserve(node.size());
      for (const auto& item : node) {
        auto v = Convert(item, depth + 1, limits, source);
        if (!v) return v;
        out.push_back(std::move(*v));
      }
      return json::value(std::move(out));
    }
    case YAML::NodeType::Map: {
      json::object out;
      out.reserve(node.size());
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return Error(Errc::kInvalidArgument,
                       std::string(source) + ": YAML: a mapping key is not a scalar");
        }
        auto v = Convert(entry.second, depth + 1, limits, source);
        if (!v) return v;
        out[entry.first.Scalar()] = std::move(*v);
      }
      return json::value(std::move(out));
    }
  }
  return json::value(nullptr);
}

constexpr std::size_t kPageBytes = 4096;
// A document arena's first block (Boost's default); each next one is twice as large.
constexpr std::size_t kFirstBlockBytes = 1024;

constexpr std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// Whether a block was mapped is told by its size alone: kHugePageBytes and more were.
class LargeBlockResource final : public json::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    if (bytes < kHugePageBytes) return Heap()->allocate(bytes, align);
    // Mapped with a huge page to spare, then trimmed to start on a huge-page boundary.
    const std::size_t length = RoundUp(bytes, kPageBytes);
    void* mapped = mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    auto* begin = static_cast<unsigned char*>(mapped);
    auto* start = reinterpret_cast<unsigned char*>(
        RoundUp(reinterpret_cast<std::uintptr_t>(begin), kHugePageBytes));
    if (start != begin) munmap(begin, start - begin);
    const std::size_t tail = begin + kHugePageBytes - start;
    if (tail != 0) munmap(start + length, tail);
    // Only whole huge pages: a block's last few bytes past its power of two (the arena's own
    // header) stay on an ordinary page rather than make a 2 MiB one resident.
    madvise(start, bytes / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
    return start;
  }

  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    if (bytes < kHugePageBytes) return Heap()->deallocate(p, bytes, align);
    munmap(p, RoundUp(bytes, kPageBytes));
  }

  bool do_is_equal(const json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  static json::memory_resource* Heap() { return json::storage_ptr().get(); }
};

}  // namespace

Result<json::value> ParseDocumentText(std::string_view text, std::string_view source) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && text[start] == '{') {
    json::parse_options options;
    options.max_depth = kMaxDocumentDepth;
    json::error_code ec;
    // One arena for the document: parsed fast, freed at once. Tools copy what they keep.
    json::value doc = json::parse(
        text, ec,
        json::make_shared_resource<json::monotonic_resource>(kFirstBlockBytes, LargeBlocks()),
        options);
    if (ec) {
      return Error(Errc::kInvalidArgument,
                   std::string(source) + ": not valid JSON (" + ec.message() + ")");
    }
    return doc;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML (line " +
                                             std::to_string(e.mark.line + 1) + ": " + e.msg + ")");
  } catch (const std::exception&) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML");
  }
  YamlLimits limits;
  try {
    return Convert(root, 0, limits, source);
  } catch (const std::exception&) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not valid YAML");
  }
}

json::memory_resource* LargeBlocks() {
  static LargeBlockResource resource;
  return &resource;
}

}  // namespace tr::tools
