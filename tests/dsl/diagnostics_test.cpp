// One test per diagnostic code: the code, where it points (line:col) and what it says,
// plus the compiler-style formatting with the caret line.
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

namespace {

const std::string head = "graph g\n";

/// The single diagnostic of `src`, required to be the only one.
diagnostic only(const std::string& src, std::map<std::string, std::string> overrides = {}) {
  auto r = compile_text(src, std::move(overrides));
  BOOST_REQUIRE_MESSAGE(r.diagnostics.size() == 1u,
                        "expected one diagnostic, got:\n" + format_diagnostics(r.diagnostics, src));
  BOOST_TEST(!r.ok());
  return r.diagnostics.front();
}

std::string where(const diagnostic& d) {
  return std::to_string(d.location.line) + ":" + std::to_string(d.location.column);
}

} // namespace

BOOST_AUTO_TEST_SUITE(diagnostics)

BOOST_AUTO_TEST_CASE(a_syntax_error_has_the_syntax_code) {
  auto d = only(head + "node a = counter {\n  every = = 2s\n}\n");
  BOOST_TEST(to_string(d.code) == "syntax");
  BOOST_TEST(where(d) == "3:11");
  BOOST_TEST(d.message == "expected a value, found '='");
}

BOOST_AUTO_TEST_CASE(an_unknown_kind_gets_a_did_you_mean_hint) {
  auto d = only(head + "node t = trainr { model = \"mlp\" }\n");
  BOOST_TEST(to_string(d.code) == "unknown_kind");
  BOOST_TEST(where(d) == "2:10");
  BOOST_TEST(d.message == "unknown kind 'trainr'");
  BOOST_TEST(d.hint == "did you mean 'trainer'?");
  BOOST_TEST(d.length == 6);
}

BOOST_AUTO_TEST_CASE(an_unknown_parameter_gets_a_did_you_mean_hint) {
  auto d = only(head + "node t = trainer {\n  model = \"mlp\"\n  epoch = 10\n}\n");
  BOOST_TEST(to_string(d.code) == "unknown_parameter");
  BOOST_TEST(where(d) == "4:3");
  BOOST_TEST(d.message == "unknown parameter 'epoch' for trainer");
  BOOST_TEST(d.hint == "did you mean 'epochs'?");
}

BOOST_AUTO_TEST_CASE(an_unknown_key_in_defaults_is_an_unknown_parameter) {
  auto d = only(head + "defaults { replica = 2 }\nnode c = counter\n");
  BOOST_TEST(to_string(d.code) == "unknown_parameter");
  BOOST_TEST(where(d) == "2:12");
  BOOST_TEST(d.message == "unknown parameter 'replica' in defaults");
  BOOST_TEST(d.hint == "did you mean 'replicas'?");
  // A key of a kind the graph does not use is unknown too.
  auto e = only(head + "defaults { epochs = 2 }\nnode c = counter\n");
  BOOST_TEST(to_string(e.code) == "unknown_parameter");
}

BOOST_AUTO_TEST_CASE(a_missing_required_parameter_is_reported_at_the_node) {
  auto d = only(head + "node r = idx_reader { images = \"i\" }\n");
  BOOST_TEST(to_string(d.code) == "missing_parameter");
  BOOST_TEST(where(d) == "2:6");
  BOOST_TEST(d.message == "missing required parameter 'labels' for idx_reader 'r'");
}

BOOST_AUTO_TEST_CASE(a_mistyped_parameter_says_what_it_expected) {
  auto d = only(head + "node t = trainer { model = \"mlp\", lr = \"fast\" }\n");
  BOOST_TEST(to_string(d.code) == "mistyped_parameter");
  BOOST_TEST(where(d) == "2:40");
  BOOST_TEST(d.message == "parameter 'lr' of trainer expects number, got string");
  auto l = only(head + "node t = trainer { model = \"mlp\", layers = [1, 2.5] }\n");
  BOOST_TEST(l.message == "parameter 'layers' of trainer expects list of integer, got list");
}

BOOST_AUTO_TEST_CASE(a_string_outside_the_choices_is_mistyped) {
  auto d = only(head + "node t = trainer { model = \"mlp\", optimizer = \"adan\" }\n");
  BOOST_TEST(to_string(d.code) == "mistyped_parameter");
  BOOST_TEST(where(d) == "2:47");
  BOOST_TEST(d.message == "parameter 'optimizer' of trainer expects one of sgd, adam, got \"adan\"");
  BOOST_TEST(d.hint == "did you mean 'adam'?");
}

BOOST_AUTO_TEST_CASE(attributes_are_type_checked) {
  struct row {
    std::string pair;
    std::string message;
  };
  const row rows[] = {
    {"replicas = 0", "attribute 'replicas' expects an integer >= 1, got integer 0"},
    {"buffer = \"8\"", "attribute 'buffer' expects an integer >= 1, got string \"8\""},
    {"gpus = -1", "attribute 'gpus' expects an integer >= 0, got integer -1"},
    {"max_restarts = 1.5", "attribute 'max_restarts' expects an integer >= 0, got float 1.5"},
    {"restart = \"sometimes\"",
     "attribute 'restart' expects one of \"on_failure\", \"always\", \"never\", got string "
     "\"sometimes\""},
    {"strategy = \"all\"",
     "attribute 'strategy' expects one of \"one_for_one\", \"rest_for_one\", \"one_for_all\", "
     "got string \"all\""},
    {"backoff = 100", "attribute 'backoff' expects a duration (e.g. 200ms), got integer 100"},
    {"restart_window = 1KiB",
     "attribute 'restart_window' expects a duration (e.g. 200ms), got size 1KiB"},
    {"on = 3", "attribute 'on' expects a string (a node label or name), got integer 3"},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT(r.pair) {
      auto d = only(head + "node c = counter { " + r.pair + " }\n");
      BOOST_TEST(to_string(d.code) == "mistyped_parameter");
      BOOST_TEST(d.message == r.message);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_duplicate_node_points_at_the_second_declaration) {
  auto d = only(head + "node c = counter\nnode c = counter\n");
  BOOST_TEST(to_string(d.code) == "duplicate_node");
  BOOST_TEST(where(d) == "3:6");
  BOOST_TEST(d.message == "duplicate node 'c'");
  BOOST_TEST(d.hint == "first declared at line 2");
}

BOOST_AUTO_TEST_CASE(a_duplicate_parameter_points_at_the_second_key) {
  auto d = only(head + "node c = counter {\n  every = 1s\n  every = 2s\n}\n");
  BOOST_TEST(to_string(d.code) == "duplicate_parameter");
  BOOST_TEST(where(d) == "4:3");
  BOOST_TEST(d.message == "duplicate parameter 'every' for counter 'c'");
  auto p = only(head + "param a = 1\nparam a = 2\n");
  BOOST_TEST(to_string(p.code) == "duplicate_parameter");
  BOOST_TEST(p.message == "duplicate param 'a'");
}

BOOST_AUTO_TEST_CASE(an_edge_to_an_unknown_node_gets_a_did_you_mean_hint) {
  auto d = only(head + "node count = counter\nnode r = csv_reader { path = \"p\" }\nr -> cuont\n");
  BOOST_TEST(to_string(d.code) == "unknown_node");
  BOOST_TEST(where(d) == "4:6");
  BOOST_TEST(d.message == "unknown node 'cuont'");
  BOOST_TEST(d.hint == "did you mean 'count'?");
}

BOOST_AUTO_TEST_CASE(an_unknown_port_lists_or_suggests_the_kinds_ports) {
  const std::string nodes = head + "node t = trainer { model = \"m\" }\nnode e = evaluator\n";
  auto d = only(nodes + "t.modl -> e.model\n");
  BOOST_TEST(to_string(d.code) == "unknown_port");
  BOOST_TEST(where(d) == "4:3");
  BOOST_TEST(d.message == "trainer 't' has no output port 'modl'");
  BOOST_TEST(d.hint == "did you mean 'model'?");
  auto e = only(nodes + "t -> e.weights\n");
  BOOST_TEST(e.message == "evaluator 'e' has no input port 'weights'");
  BOOST_TEST(e.hint == "inputs of evaluator: model, data");
}

BOOST_AUTO_TEST_CASE(a_node_without_outputs_cannot_start_an_edge) {
  auto d = only(head + "node c = counter\nnode k = cleaner\nc -> k\n");
  BOOST_TEST(to_string(d.code) == "unknown_port");
  BOOST_TEST(where(d) == "4:1");
  BOOST_TEST(d.message == "counter 'c' has no output ports, so it cannot start an edge");
  auto e = only(head + "node r = csv_reader { path = \"p\" }\nnode q = csv_reader { path = \"p\" }\nr -> q\n");
  BOOST_TEST(e.message == "csv_reader 'q' has no input ports, so it cannot end an edge");
}

BOOST_AUTO_TEST_CASE(ports_of_different_message_types_do_not_connect) {
  auto d = only(head + "node t = trainer { model = \"m\" }\nnode e = evaluator\nt.model -> e.data\n");
  BOOST_TEST(to_string(d.code) == "port_type_mismatch");
  BOOST_TEST(where(d) == "4:12");
  BOOST_TEST(d.length == 6);
  BOOST_TEST(d.message == "port type mismatch: t.model sends model but e.data takes batch");
}

BOOST_AUTO_TEST_CASE(a_cycle_is_named_node_by_node) {
  auto d = only(head + "node a = cleaner\nnode b = cleaner\nnode c = cleaner\na -> b -> c\nc -> a\n");
  BOOST_TEST(to_string(d.code) == "cycle");
  BOOST_TEST(where(d) == "6:3");
  BOOST_TEST(d.message == "cycle: a -> b -> c -> a");
  auto self = only(head + "node a = cleaner\na -> a\n");
  BOOST_TEST(self.message == "cycle: a -> a");
}

BOOST_AUTO_TEST_CASE(two_paths_from_one_source_into_one_step_are_refused_where_they_meet) {
  // Delivery is tracked per (source, sequence): the second copy would be skipped silently.
  const std::string nodes = "node src = csv_reader { path = \"p\" }\nnode a = cleaner\n"
                            "node b = cleaner\nnode out = counter\n";
  auto d = only(head + nodes + "src -> a -> out\nsrc -> b -> out\n");
  BOOST_TEST(to_string(d.code) == "merging_paths");
  BOOST_TEST(where(d) == "7:10");
  BOOST_TEST(d.message == "the batches of source 'src' reach 'out' by two paths (from 'a' and "
                          "from 'b'): delivery is tracked per source batch, so one copy would "
                          "be dropped as a replay");
  BOOST_TEST(d.hint == "give each path its own sink, or read the source once per path");
  // Meeting at a step before the sink: reported there, once.
  auto early = only(head + nodes + "node c = cleaner\nsrc -> a -> c -> out\nsrc -> b -> c\n");
  BOOST_TEST(early.message.find("reach 'c' by two paths (from 'a' and from 'b')")
             != std::string::npos);
  // The same source edge written twice is two paths too.
  auto twice = only(head + nodes + "src -> out\nsrc -> out\n");
  BOOST_TEST(twice.message.find("from 'src' and from 'src'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(fan_out_to_separate_sinks_and_two_sources_into_one_sink_are_accepted) {
  const std::string nodes = "node s1 = csv_reader { path = \"p\" }\n"
                            "node s2 = csv_reader { path = \"q\" }\nnode a = cleaner\n"
                            "node out1 = counter\nnode out2 = counter\n";
  auto r = compile_text(head + nodes + "s1 -> a -> out1\ns1 -> out2\ns2 -> out1\n");
  BOOST_TEST(r.diagnostics.empty(), format_diagnostics(r.diagnostics, nodes));
}

BOOST_AUTO_TEST_CASE(a_reference_to_an_undeclared_param_is_reported_where_it_is_used) {
  auto d = only(head + "param epochs = 3\nnode t = trainer { model = \"m\", epochs = $epoch }\n");
  BOOST_TEST(to_string(d.code) == "unknown_param_reference");
  BOOST_TEST(where(d) == "3:42");
  BOOST_TEST(d.message == "unknown param '$epoch'");
  BOOST_TEST(d.hint == "did you mean 'epochs'?");
  auto s = only(head + "node t = trainer { model = \"x-$name\" }\n");
  BOOST_TEST(to_string(s.code) == "unknown_param_reference");
  BOOST_TEST(where(s) == "2:31");
}

BOOST_AUTO_TEST_CASE(an_override_of_an_undeclared_param_is_reported) {
  auto d = only(head + "param epochs = 3\n", {{"epoch", "4"}});
  BOOST_TEST(to_string(d.code) == "unknown_override");
  BOOST_TEST(d.location.line == 0);
  BOOST_TEST(d.location.file == "--set epoch=4");
  BOOST_TEST(d.message == "no param 'epoch' to set");
  BOOST_TEST(d.hint == "did you mean 'epochs'?");
}

BOOST_AUTO_TEST_CASE(an_override_of_another_type_is_a_bad_override) {
  auto d = only(head + "param epochs = 3\n", {{"epochs", "many"}});
  BOOST_TEST(to_string(d.code) == "bad_override");
  BOOST_TEST(d.message.find("cannot parse the value of param 'epochs'") == 0u);
  auto e = only(head + "param epochs = 3\n", {{"epochs", "\"3\""}});
  BOOST_TEST(to_string(e.code) == "bad_override");
  BOOST_TEST(e.message == "param 'epochs' is integer, got string");
  BOOST_TEST(e.hint == "param 'epochs' is declared at g.flow:2:7 as integer");
}

BOOST_AUTO_TEST_CASE(a_source_over_the_size_limit_is_refused) {
  compile_options o;
  o.max_source_bytes = 16;
  auto r = compile("graph g\n# a comment that is too long\n", catalog(), o);
  BOOST_REQUIRE(r.diagnostics.size() == 1u);
  BOOST_TEST(to_string(r.diagnostics[0].code) == "too_large");
  BOOST_TEST(r.diagnostics[0].message == "source is 37 bytes; the limit is 16");
}

BOOST_AUTO_TEST_CASE(independent_errors_are_all_reported_sorted_by_location) {
  const std::string src = head
                          + "node t = trainer { epoch = 1 }\n"      // unknown param + missing model
                            "node c = countr\n"                     // unknown kind
                            "node c = counter\n"                    // duplicate node
                            "t -> x\n";                             // unknown node
  auto r = compile_text(src);
  BOOST_TEST(summary(r)
             == "2:6 missing_parameter: missing required parameter 'model' for trainer 't'\n"
                "2:20 unknown_parameter: unknown parameter 'epoch' for trainer\n"
                "3:10 unknown_kind: unknown kind 'countr'\n"
                "4:6 duplicate_node: duplicate node 'c'\n"
                "5:6 unknown_node: unknown node 'x'");
}

BOOST_AUTO_TEST_CASE(diagnostics_are_formatted_with_the_line_and_a_caret) {
  const std::string src = head + "param e = 3\n\n\n\n\n\n\n\nnode train = trainer {\n  model = \"m\"\n  epoch = 10\n}\n";
  auto r = compile_text(src);
  BOOST_TEST(format_diagnostics(r.diagnostics, src)
             == "g.flow:12:3: error: unknown parameter 'epoch' for trainer\n"
                "   12 |   epoch = 10\n"
                "      |   ^~~~~\n"
                "hint: did you mean 'epochs'?\n");
}

BOOST_AUTO_TEST_CASE(carets_keep_tabs_and_overrides_have_no_source_line) {
  const std::string src = head + "node c = counter {\n\tevry = 1s\n}\n";
  auto r = compile_text(src, {{"nope", "1"}});
  BOOST_TEST(format_diagnostics(r.diagnostics, src)
             == "--set nope=1: error: no param 'nope' to set\n"
                "hint: the graph declares no params\n"
                "g.flow:3:2: error: unknown parameter 'evry' for counter\n"
                "    3 | \tevry = 1s\n"
                "      | \t^~~~\n"
                "hint: did you mean 'every'?\n");
}

BOOST_AUTO_TEST_CASE(every_code_has_a_name) {
  BOOST_TEST(to_string(diagnostic_code::port_type_mismatch) == "port_type_mismatch");
  BOOST_TEST(to_string(diagnostic_code::too_large) == "too_large");
  BOOST_TEST(to_string(diagnostic_code::file_conflict) == "file_conflict");
}

BOOST_AUTO_TEST_SUITE_END()
