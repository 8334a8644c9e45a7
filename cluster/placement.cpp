#include "cluster/placement.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace conveyor::cluster {

namespace {

bool has_label(const node_offer& n, const std::string& on) {
  return on.empty() || n.name == on ||
         std::find(n.labels.begin(), n.labels.end(), on) != n.labels.end() ||
         std::find(n.labels.begin(), n.labels.end(), "*") != n.labels.end();
}

std::string constraint_of(const step_demand& s) {
  std::string c;
  if (!s.on.empty())
    c = "on = \"" + s.on + "\"";
  if (s.gpus > 0)
    c += (c.empty() ? "" : ", ") + std::string("gpus = ") + std::to_string(s.gpus);
  return c.empty() ? "no constraint" : c;
}

} // namespace

decoded<std::vector<placed_instance>> place(const std::vector<step_demand>& steps,
                                            const std::vector<node_offer>& nodes) {
  std::vector<int> free_gpus(nodes.size());
  std::vector<int> next_gpu(nodes.size(), 0);
  std::vector<int> hosted(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    free_gpus[i] = nodes[i].gpus;
  std::vector<placed_instance> out;
  for (const auto& s : steps) {
    std::vector<int> of_this_step(nodes.size(), 0);
    for (int r = 0; r < s.instances; ++r) {
      std::size_t best = nodes.size();
      auto key = [&](std::size_t i) {
        double per_core = static_cast<double>(hosted[i] + 1) / std::max(nodes[i].cores, 1);
        return std::make_tuple(of_this_step[i], per_core, i);
      };
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (has_label(nodes[i], s.on) && free_gpus[i] >= s.gpus &&
            (best == nodes.size() || key(i) < key(best)))
          best = i;
      if (best == nodes.size()) {
        std::string why;
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          why += (why.empty() ? "" : "; ") + nodes[i].name + ": ";
          if (!has_label(nodes[i], s.on))
            why += "not named or labelled '" + s.on + "'";
          else
            why += std::to_string(free_gpus[i]) + " of " + std::to_string(nodes[i].gpus) +
                   " GPU(s) free";
        }
        std::string which = s.instances > 1 ? " (instance " + std::to_string(r + 1) + " of " +
                                                std::to_string(s.instances) + ")"
                                            : "";
        return decoded<std::vector<placed_instance>>::failure(
          "no node can run step '" + s.step + "'" + which + " (" + constraint_of(s) +
          "); nodes considered: " + (why.empty() ? "none" : why));
      }
      placed_instance p{s.step, r, best, -1};
      if (s.gpus > 0) {
        p.device = next_gpu[best];
        next_gpu[best] += s.gpus;
        free_gpus[best] -= s.gpus;
      }
      ++hosted[best];
      ++of_this_step[best];
      out.push_back(p);
    }
  }
  return decoded<std::vector<placed_instance>>::success(std::move(out));
}

} // namespace conveyor::cluster
