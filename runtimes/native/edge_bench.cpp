// edge_bench: time an ExecuTorch .pte and print a profile record in the schema of
// runtimes/schemas/profile_record.schema.json (the same statistics as runtimes/record.py).
// This is what the adb harness runs on a phone; see README.md for building it.

#include <executorch/devtools/etdump/etdump_flatcc.h>
#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/platform/runtime.h>

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#if defined(__APPLE__)
#include <TargetConditionals.h>
#endif

// The wheel ships libexecutorch_threadpool but not threadpool.h; these two members are all we call.
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

#ifndef EDGE_EXECUTORCH_VERSION
#define EDGE_EXECUTORCH_VERSION "unknown"
#endif

using executorch::extension::Module;
using executorch::extension::TensorPtr;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::Program;

namespace {

constexpr const char* kVersion = "edge_bench 1";

struct Options {
  std::string model, output, etdump, input, save_outputs;
  int runs = 50, warmup = 10, threads = 0, etdump_runs = 10;
};

[[noreturn]] void fail(int code, const std::string& message) {
  std::fprintf(stderr, "edge_bench: error: %s\n", message.c_str());
  std::exit(code);
}

int parse_int(const char* flag, const char* value, int minimum) {
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (*value == '\0' || *end != '\0' || v < minimum || v > 1000000)
    fail(2, std::string(flag) + " needs an integer >= " + std::to_string(minimum) + ", got '" + value + "'");
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: edge_bench --model FILE.pte [--runs 50] [--warmup 10] [--threads N]\n"
                  "                  [--etdump FILE.etdp] [--etdump-runs 10] [--output record.json]\n"
                  "                  [--input FILE.bin] [--save-outputs FILE.bin]\n"
                  "Prints one profile record (JSON) on stdout; --output also writes it to a file.\n"
                  "--input: raw little-endian tensors in the program's input shapes and dtypes, one sample\n"
                  "after another (the first one is timed). --save-outputs: run each sample once, write\n"
                  "its outputs' raw bytes one sample after another, print their layout (JSON) and stop.\n");
      std::exit(0);
    }
    if (i + 1 >= argc) fail(2, "option " + a + " needs a value (see --help)");
    const char* v = argv[++i];
    if (a == "--model") o.model = v;
    else if (a == "--output") o.output = v;
    else if (a == "--etdump") o.etdump = v;
    else if (a == "--input") o.input = v;
    else if (a == "--save-outputs") o.save_outputs = v;
    else if (a == "--runs") o.runs = parse_int("--runs", v, 1);
    else if (a == "--warmup") o.warmup = parse_int("--warmup", v, 0);
    else if (a == "--threads") o.threads = parse_int("--threads", v, 1);
    else if (a == "--etdump-runs") o.etdump_runs = parse_int("--etdump-runs", v, 1);
    else fail(2, "unknown option " + a + " (see --help)");
  }
  if (o.model.empty()) fail(2, "--model FILE.pte is required (see --help)");
  if (!o.save_outputs.empty() && o.input.empty()) fail(2, "--save-outputs needs --input FILE.bin (see --help)");
  return o;
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += static_cast<char>(c); }
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// Same definitions as runtimes/record.py: linear-interpolated percentiles, middle-80% mean, sample stdev.
double percentile(const std::vector<double>& s, double q) {
  double pos = q / 100.0 * (s.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

std::string stats_json(std::vector<double> s) {
  std::sort(s.begin(), s.end());
  size_t n = s.size(), cut = n / 10;
  double sum = 0, mid = 0, var = 0;
  for (double x : s) sum += x;
  for (size_t i = cut; i < n - cut; ++i) mid += s[i];
  double mean = sum / n;
  for (double x : s) var += (x - mean) * (x - mean);
  double stdev = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
  std::ostringstream o;
  o << "{\"min\": " << num(s.front()) << ", \"max\": " << num(s.back()) << ", \"p10\": " << num(percentile(s, 10))
    << ", \"p50\": " << num(percentile(s, 50)) << ", \"p90\": " << num(percentile(s, 90)) << ", \"mean\": "
    << num(mean) << ", \"trimmed_mean\": " << num(mid / (n - 2 * cut)) << ", \"stdev\": " << num(stdev) << "}";
  return o.str();
}

long status_bytes(const char* key) {  // a /proc/self/status line in kB, -1 when unavailable
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t len = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, len, key) == 0 && line.size() > len && line[len] == ':')
      return std::atol(line.c_str() + len + 1) * 1024;
  return -1;
}

long ru_maxrss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
#if defined(__APPLE__)
  return ru.ru_maxrss;  // bytes on Darwin
#else
  return ru.ru_maxrss * 1024;
#endif
}

// Linux PSI: % of the last 10 s some task waited for a CPU; high means other work competed with us.
double cpu_pressure() {
  std::ifstream f("/proc/pressure/cpu");
  std::string some, avg10;
  if (!(f >> some >> avg10) || avg10.compare(0, 6, "avg10=") != 0) return -1;
  return std::atof(avg10.c_str() + 6);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    for (const char* key : {"model name", "Hardware"})
      if (line.compare(0, std::strlen(key), key) == 0) {
        size_t colon = line.find(':');
        if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
      }
  }
  return "";
}

std::string device_json() {
#if defined(__ANDROID__)
  const char* kind = "android";
#elif defined(__APPLE__) && TARGET_OS_IPHONE
  const char* kind = "ios";
#else
  const char* kind = "host";
#endif
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  struct utsname u {};
  uname(&u);
  std::string cpu = cpu_model();
  std::ostringstream o;
  o << "{\"kind\": \"" << kind << "\", \"name\": " << json_str(host) << ", \"model\": null, \"soc\": null, \"cpu\": "
    << (cpu.empty() ? "null" : json_str(cpu)) << ", \"cores\": " << sysconf(_SC_NPROCESSORS_ONLN) << ", \"os\": "
    << json_str(std::string(u.sysname) + " " + u.release + " (" + u.machine + ")") << "}";
  return o.str();
}

const char* dtype_name(executorch::aten::ScalarType t) {
  switch (t) {
    case executorch::aten::ScalarType::Float: return "float32";
    case executorch::aten::ScalarType::Half: return "float16";
    case executorch::aten::ScalarType::Byte: return "uint8";
    case executorch::aten::ScalarType::Char: return "int8";
    case executorch::aten::ScalarType::Int: return "int32";
    case executorch::aten::ScalarType::Long: return "int64";
    default: return "other";
  }
}

size_t element_size(executorch::aten::ScalarType t) {
  switch (t) {
    case executorch::aten::ScalarType::Float: case executorch::aten::ScalarType::Int: return 4;
    case executorch::aten::ScalarType::Half: return 2;
    case executorch::aten::ScalarType::Byte: case executorch::aten::ScalarType::Char: return 1;
    case executorch::aten::ScalarType::Long: return 8;
    default: return 0;
  }
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(2, "cannot open input file '" + path + "'");
  return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string utc_now() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", std::gmtime(&t));
  return buf;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Loads with full verification so a damaged file is an error, not a crash.
void load(Module& module, const std::string& path) {
  Error err = module.load(Program::Verification::InternalConsistency);
  if (err != Error::Ok) fail(2, "cannot load program '" + path + "' (ExecuTorch error " +
                                std::to_string(static_cast<int>(err)) + "); is it a complete .pte file?");
  err = module.load_method("forward");
  if (err != Error::Ok) fail(2, "cannot load method 'forward' of '" + path + "' (ExecuTorch error " +
                                std::to_string(static_cast<int>(err)) + "); a missing operator or backend?");
}

void run_once(Module& module, const std::vector<EValue>& inputs) {
  auto result = module.forward(inputs);
  if (!result.ok()) fail(1, "inference failed (ExecuTorch error " + std::to_string(static_cast<int>(result.error())) + ")");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  executorch::runtime::runtime_init();
  std::ifstream probe(opt.model, std::ios::binary | std::ios::ate);
  if (!probe) fail(2, "cannot open model '" + opt.model + "'");
  long long size_bytes = static_cast<long long>(probe.tellg());

  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (opt.threads > 0 && pool) pool->_unsafe_reset_threadpool(static_cast<uint32_t>(opt.threads));
  int threads = pool ? static_cast<int>(pool->get_thread_count()) : 1;

  // Linux and Android let a process reset its RSS high-water mark; elsewhere ru_maxrss is a lower bound.
  long baseline = status_bytes("VmRSS"), ru_before = ru_maxrss_bytes();
  FILE* clear = std::fopen("/proc/self/clear_refs", "w");
  bool hwm_reset = clear && std::fputs("5", clear) >= 0;
  if (clear) hwm_reset = (std::fclose(clear) == 0) && hwm_reset;

  auto start = std::chrono::steady_clock::now();
  Module module(opt.model, Module::LoadMode::File);
  load(module, opt.model);
  double load_ms = ms_since(start);

  auto meta = module.method_meta("forward");
  if (!meta.ok()) fail(2, "the program has no 'forward' method");
  std::vector<TensorPtr> tensors;
  std::ostringstream inputs_json;
  uint32_t seed = 12345;
  // --input: every input's byte size per sample, so the file splits into whole samples
  std::vector<size_t> input_bytes;
  size_t sample_bytes = 0;
  for (size_t i = 0; i < meta->num_inputs(); ++i) {
    auto info = meta->input_tensor_meta(i);
    if (!info.ok()) fail(2, "input " + std::to_string(i) + " is not a tensor; edge_bench feeds tensors only");
    size_t bytes = info->nbytes();
    if (!opt.input.empty() && element_size(info->scalar_type()) == 0)
      fail(2, "input " + std::to_string(i) + " has a dtype --input does not read");
    input_bytes.push_back(bytes);
    sample_bytes += bytes;
  }
  std::vector<char> given;
  size_t samples_given = 0;
  if (!opt.input.empty()) {
    given = read_file(opt.input);
    if (sample_bytes == 0 || given.empty() || given.size() % sample_bytes != 0)
      fail(2, "input file '" + opt.input + "' has " + std::to_string(given.size()) + " bytes, not a multiple of the " +
              std::to_string(sample_bytes) + " bytes one sample of the program's inputs takes");
    samples_given = given.size() / sample_bytes;
  }
  // the tensors of sample `k` of the --input file (they point into `given`)
  auto sample_tensors = [&](size_t k) {
    std::vector<TensorPtr> out;
    size_t offset = k * sample_bytes;
    for (size_t i = 0; i < meta->num_inputs(); ++i) {
      auto info = meta->input_tensor_meta(i);
      std::vector<executorch::aten::SizesType> sizes(info->sizes().begin(), info->sizes().end());
      out.push_back(executorch::extension::from_blob(given.data() + offset, sizes, info->scalar_type()));
      offset += input_bytes[i];
    }
    return out;
  };
  if (!opt.save_outputs.empty()) {  // verification: each sample once, outputs' raw bytes, no timing
    FILE* f = std::fopen(opt.save_outputs.c_str(), "wb");
    if (!f) fail(1, "cannot write outputs to '" + opt.save_outputs + "'");
    std::ostringstream layout;
    for (size_t k = 0; k < samples_given; ++k) {
      auto sample = sample_tensors(k);
      std::vector<EValue> args;
      for (auto& t : sample) args.emplace_back(*t);
      auto result = module.forward(args);
      if (!result.ok()) fail(1, "inference failed (ExecuTorch error " + std::to_string(static_cast<int>(result.error())) + ")");
      for (size_t o = 0; o < result->size(); ++o) {
        const EValue& v = (*result)[o];
        if (!v.isTensor()) fail(1, "output " + std::to_string(o) + " is not a tensor");
        const auto& t = v.toTensor();
        if (std::fwrite(t.const_data_ptr(), 1, t.nbytes(), f) != t.nbytes()) fail(1, "cannot write outputs");
        if (k == 0) {
          layout << (o ? ", " : "") << "{\"shape\": [";
          for (size_t d = 0; d < static_cast<size_t>(t.dim()); ++d) layout << (d ? ", " : "") << t.size(d);
          layout << "], \"dtype\": \"" << dtype_name(t.scalar_type()) << "\"}";
        }
      }
    }
    if (std::fclose(f) != 0) fail(1, "cannot write outputs to '" + opt.save_outputs + "'");
    std::printf("{\"samples\": %zu, \"outputs\": [%s], \"load_ms\": %s}\n", samples_given, layout.str().c_str(),
                num(load_ms).c_str());
    return 0;
  }
  std::vector<TensorPtr> fed = samples_given ? sample_tensors(0) : std::vector<TensorPtr>();
  for (size_t i = 0; i < meta->num_inputs(); ++i) {
    auto info = meta->input_tensor_meta(i);
    std::vector<executorch::aten::SizesType> sizes(info->sizes().begin(), info->sizes().end());
    if (samples_given) {
      tensors.push_back(fed[i]);
    } else {
      size_t count = 1;
      for (auto d : sizes) count *= static_cast<size_t>(d);
      std::vector<float> data(count);
      for (auto& x : data) { seed = seed * 1664525u + 1013904223u; x = (seed >> 8) / 16777216.0f * 2.0f - 1.0f; }
      tensors.push_back(executorch::extension::make_tensor_ptr(sizes, std::move(data), {}, {}, info->scalar_type()));
    }
    inputs_json << (i ? ", " : "") << "{\"name\": \"input_" << i << "\", \"shape\": [";
    for (size_t d = 0; d < sizes.size(); ++d) inputs_json << (d ? ", " : "") << sizes[d];
    inputs_json << "], \"dtype\": \"" << dtype_name(info->scalar_type()) << "\", \"source\": \"runtime\"}";
  }
  std::vector<EValue> inputs;
  for (auto& t : tensors) inputs.emplace_back(*t);

  std::vector<double> samples;
  double first_ms = -1;
  for (int i = 0; i < opt.warmup + opt.runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run_once(module, inputs);
    double ms = ms_since(t0);
    if (first_ms < 0) first_ms = ms;
    if (i >= opt.warmup) samples.push_back(ms);
  }
  double pressure = cpu_pressure();
  long peak = hwm_reset ? status_bytes("VmHWM") : ru_maxrss_bytes();
  long delta = hwm_reset ? (peak >= 0 && baseline >= 0 ? peak - baseline : -1) : peak - ru_before;

  // The per-op profile runs in a second module: tracing costs time, so it stays out of the samples.
  std::string ops = "{\"available\": false, \"source\": null, \"reason\": \"no --etdump requested\", \"top\": []}";
  if (!opt.etdump.empty()) {
    Module traced(opt.model, Module::LoadMode::File, std::make_unique<executorch::etdump::ETDumpGen>());
    load(traced, opt.model);
    for (int i = 0; i < opt.etdump_runs; ++i) run_once(traced, inputs);
    auto* gen = static_cast<executorch::etdump::ETDumpGen*>(traced.event_tracer());
    executorch::etdump::ETDumpResult dump = gen->get_etdump_data();
    if (dump.buf == nullptr || dump.size == 0) fail(1, "the ETDump is empty; was the runtime built with the event tracer?");
    FILE* f = std::fopen(opt.etdump.c_str(), "wb");
    bool ok = f && std::fwrite(dump.buf, 1, dump.size, f) == dump.size;
    if (f) ok = (std::fclose(f) == 0) && ok;
    std::free(dump.buf);
    if (!ok) fail(1, "cannot write ETDump to '" + opt.etdump + "'");
    ops = "{\"available\": false, \"source\": \"etdump\", \"reason\": \"ETDump written; the host summarizes it with "
          "ExecuTorch's Inspector\", \"runs\": " + std::to_string(opt.etdump_runs) + ", \"file\": " +
          json_str(opt.etdump) + ", \"top\": []}";
  }

  std::string name = opt.model.substr(opt.model.find_last_of('/') + 1);
  std::ostringstream r;
  r << "{\n  \"schema\": \"edge.profile_record/1\",\n  \"created\": \"" << utc_now() << "\",\n"
    << "  \"artifact\": {\"file\": " << json_str(name) << ", \"path\": " << json_str(opt.model)
    << ", \"format\": \"pte\", \"size_bytes\": " << size_bytes << ", \"sha256\": null, \"manifest\": null},\n"
    << "  \"device\": " << device_json() << ",\n"
    << "  \"runtime\": {\"name\": \"executorch\", \"versions\": {\"executorch\": \"" << EDGE_EXECUTORCH_VERSION
    << "\"}, \"threads\": " << threads << ", \"delegates\": {\"partitions\": null}},\n"
    << "  \"runner\": {\"kind\": \"native\", \"name\": \"" << kVersion << "\", \"command\": null, \"taskset\": null, "
    << "\"cooldown_s\": null},\n"
    << "  \"load_ms\": " << num(load_ms) << ",\n  \"first_run_ms\": " << num(first_ms) << ",\n"
    << "  \"warmup\": " << opt.warmup << ",\n  \"runs\": " << opt.runs << ",\n"
    << "  \"latency_ms\": " << stats_json(samples) << ",\n  \"samples_ms\": [";
  for (size_t i = 0; i < samples.size(); ++i) r << (i ? ", " : "") << num(samples[i]);
  r << "],\n  \"memory\": {\"peak_rss_bytes\": " << (peak >= 0 ? std::to_string(peak) : "null")
    << ", \"baseline_rss_bytes\": " << (baseline >= 0 ? std::to_string(baseline) : "null")
    << ", \"peak_delta_bytes\": " << (delta >= 0 ? std::to_string(delta) : "null") << ", \"method\": \""
    << (hwm_reset ? "vmhwm_reset" : "ru_maxrss") << "\"},\n"
    << "  \"ops\": " << ops << ",\n  \"inputs\": [" << inputs_json.str() << "],\n"
    << "  \"notes\": [" << (samples_given ? json_str("inputs are the first sample of " + opt.input)
                               : std::string("\"inputs are seeded uniform values in [-1, 1) with the program's own shapes\""));
  if (pressure > 1.0) {
    char note[200];
    std::snprintf(note, sizeof note, "other work competed for the CPU during the timed runs (PSI some avg10 %.1f%%); "
                  "compare with runs measured side by side", pressure);
    r << ", " << json_str(note);
  }
  r << "]\n}\n";
  std::string text = r.str();

  if (!opt.output.empty()) {  // temporary name, then rename: never half a record under the final name
    std::string tmp = opt.output + ".partial";
    FILE* f = std::fopen(tmp.c_str(), "w");
    bool ok = f && std::fputs(text.c_str(), f) >= 0;
    if (f) ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), opt.output.c_str()) != 0) fail(1, "cannot write record to '" + opt.output + "'");
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
