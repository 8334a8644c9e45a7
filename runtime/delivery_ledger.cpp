// Each (source, terminal) route keeps a contiguous watermark plus the runs acknowledged
// above it; the watermark advances over every run that starts within or right after it.
#include "runtime/delivery_ledger.hpp"

#include <algorithm>
#include <iterator>
#include <sstream>

namespace conveyor {

void delivery_ledger::add_source(const std::string& source) {
  sources_[source];
}

void delivery_ledger::add_route(const std::string& source, const std::string& terminal) {
  sources_[source].routes[terminal];
}

bool delivery_ledger::ack(const std::string& terminal, const std::string& source,
                          std::uint64_t first, const source_position& position,
                          std::uint64_t count) {
  auto s = sources_.find(source);
  if (s == sources_.end() || count == 0)
    return false;
  auto r = s->second.routes.find(terminal);
  if (r == s->second.routes.end())
    return false;
  auto& rt = r->second;
  std::uint64_t last = first + count - 1;
  if (last <= rt.watermark)
    return false;
  // The runs above the watermark stay apart and not adjacent: a new one takes in every
  // run it overlaps or touches (the watermark never stops inside a stretch of
  // consecutive acknowledged batches, so the positions inside it are not needed).
  auto position_of_last = position;
  auto i = rt.above.upper_bound(first);
  if (i != rt.above.begin()) {
    auto before = std::prev(i);
    if (before->second.last >= last)
      return false; // all of it acknowledged already
    if (before->second.last + 1 >= first) {
      first = before->first;
      rt.above.erase(before);
    }
  }
  for (i = rt.above.lower_bound(first); i != rt.above.end() && i->first <= last + 1;
       i = rt.above.erase(i))
    if (i->second.last > last) {
      last = i->second.last;
      position_of_last = i->second.position;
    }
  rt.above.emplace(first, run{last, position_of_last});
  advance(rt);
  return true;
}

void delivery_ledger::advance(route& rt) {
  while (!rt.above.empty() && rt.above.begin()->first <= rt.watermark + 1) {
    const auto& next = rt.above.begin()->second;
    if (next.last > rt.watermark) {
      rt.watermark = next.last;
      rt.watermark_position = next.position;
    }
    rt.above.erase(rt.above.begin());
  }
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
    for (const auto& [first, run] : r->second.above)
      for (auto seq = first; seq <= run.last; ++seq)
        a.above.push_back(seq);
    out.push_back(std::move(a));
  }
  return out;
}

std::string delivery_ledger::encode() const {
  std::ostringstream out;
  auto fields = [&](const std::string& source, const std::string& terminal) -> std::ostream& {
    return out << ' ' << source << ' ' << terminal;
  };
  auto position = [&](const source_position& p) {
    out << ' ' << p.byte_offset << ' ' << p.line << ' ' << p.row << '\n';
  };
  for (const auto& [source, s] : sources_)
    for (const auto& [terminal, rt] : s.routes) {
      if (rt.watermark > 0) {
        out << "upto";
        fields(source, terminal) << ' ' << rt.watermark;
        position(rt.watermark_position);
      }
      for (const auto& [first, run] : rt.above) {
        out << "acks";
        fields(source, terminal) << ' ' << first << ' ' << run.last;
        position(run.position);
      }
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
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    source_position p;
    if (!(fields >> word >> source >> terminal >> first) || first == 0)
      return number;
    if (word == "acks") {
      if (!(fields >> last) || last < first)
        return number;
    } else if (word == "ack" || word == "upto") {
      last = first;
    } else {
      return number;
    }
    if (!(fields >> p.byte_offset >> p.line >> p.row))
      return number;
    auto s = sources_.find(source);
    if (s == sources_.end())
      continue;
    auto r = s->second.routes.find(terminal);
    if (r == s->second.routes.end())
      continue;
    auto& rt = r->second;
    if (word == "upto" && first > rt.watermark) { // every sequence up to it
      rt.watermark = first;
      rt.watermark_position = p;
      advance(rt); // drops the runs it covers, takes in those that follow it
    } else if (word != "upto") {
      ack(terminal, source, first, p, last - first + 1);
    }
  }
  return 0;
}

} // namespace conveyor
