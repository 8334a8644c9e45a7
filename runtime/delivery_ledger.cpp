// Each (source, terminal) route keeps a contiguous watermark plus the sparse set
// acknowledged above it; the watermark advances while the next sequence is present.
#include "runtime/delivery_ledger.hpp"

#include <algorithm>
#include <sstream>

namespace conveyor {

void delivery_ledger::add_source(const std::string& source) {
  sources_[source];
}

void delivery_ledger::add_route(const std::string& source, const std::string& terminal) {
  sources_[source].routes[terminal];
}

bool delivery_ledger::ack(const std::string& terminal, const std::string& source,
                          std::uint64_t sequence, const source_position& position) {
  auto s = sources_.find(source);
  if (s == sources_.end())
    return false;
  auto r = s->second.routes.find(terminal);
  if (r == s->second.routes.end())
    return false;
  auto& rt = r->second;
  if (sequence <= rt.watermark || rt.above.count(sequence) != 0)
    return false;
  rt.above.emplace(sequence, position);
  for (auto next = rt.above.begin();
       next != rt.above.end() && next->first == rt.watermark + 1;
       next = rt.above.erase(next)) {
    rt.watermark = next->first;
    rt.watermark_position = next->second;
  }
  return true;
}

delivery_ledger::resume_point delivery_ledger::resume_point_of(const std::string& source) const {
  resume_point result;
  auto s = sources_.find(source);
  if (s == sources_.end() || s->second.routes.empty())
    return result;
  const route* lowest = nullptr;
  for (const auto& [terminal, rt] : s->second.routes)
    if (lowest == nullptr || rt.watermark < lowest->watermark)
      lowest = &rt;
  result.last_sequence = lowest->watermark;
  result.position = lowest->watermark_position;
  return result;
}

void delivery_ledger::set_final(const std::string& source, std::uint64_t last_sequence) {
  sources_[source].final_sequence = last_sequence;
}

void delivery_ledger::clear_final(const std::string& source) {
  sources_[source].final_sequence.reset();
}

bool delivery_ledger::complete() const {
  for (const auto& [name, s] : sources_) {
    if (!s.final_sequence)
      return false;
    for (const auto& [terminal, rt] : s.routes)
      if (rt.watermark < *s.final_sequence)
        return false;
  }
  return true;
}

std::vector<delivery_ledger::acked_set>
delivery_ledger::delivered_to(const std::string& terminal) const {
  std::vector<acked_set> out;
  for (const auto& [name, s] : sources_) {
    auto r = s.routes.find(terminal);
    if (r == s.routes.end())
      continue;
    acked_set a;
    a.source = name;
    a.watermark = r->second.watermark;
    for (const auto& [seq, pos] : r->second.above)
      a.above.push_back(seq);
    out.push_back(std::move(a));
  }
  return out;
}

std::string delivery_ledger::encode() const {
  std::ostringstream out;
  auto line = [&](const char* word, const std::string& source, const std::string& terminal,
                  std::uint64_t seq, const source_position& p) {
    out << word << ' ' << source << ' ' << terminal << ' ' << seq << ' ' << p.byte_offset << ' '
        << p.line << ' ' << p.row << '\n';
  };
  for (const auto& [source, s] : sources_)
    for (const auto& [terminal, rt] : s.routes) {
      if (rt.watermark > 0)
        line("upto", source, terminal, rt.watermark, rt.watermark_position);
      for (const auto& [seq, pos] : rt.above)
        line("ack", source, terminal, seq, pos);
    }
  return out.str();
}

std::size_t delivery_ledger::restore(const std::string& text) {
  std::istringstream in(text);
  std::string l;
  std::size_t number = 0;
  while (std::getline(in, l)) {
    ++number;
    std::istringstream fields(l);
    std::string word, source, terminal;
    std::uint64_t seq = 0;
    source_position p;
    if (!(fields >> word >> source >> terminal >> seq >> p.byte_offset >> p.line >> p.row) ||
        (word != "ack" && word != "upto") || seq == 0)
      return number;
    auto s = sources_.find(source);
    if (s == sources_.end())
      continue;
    auto r = s->second.routes.find(terminal);
    if (r == s->second.routes.end())
      continue;
    auto& rt = r->second;
    if (word == "upto" && seq > rt.watermark) { // every sequence up to it
      rt.watermark = seq;
      rt.watermark_position = p;
      while (!rt.above.empty() && rt.above.begin()->first <= rt.watermark)
        rt.above.erase(rt.above.begin());
    } else if (word == "ack") {
      ack(terminal, source, seq, p);
    }
  }
  return 0;
}

} // namespace conveyor
