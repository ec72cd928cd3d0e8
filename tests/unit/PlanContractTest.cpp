// The plan contract (contract/StepOps.h, generated from StepOps.td) against
// the runtime: the kernel table and the plan loader's attribute readers must
// cover exactly the ops and attributes the compiler can emit. A change to
// either side alone fails here; the plan_contract_ops test fails when the
// checked-in table is stale against the ODS.
#include "contract/StepOps.h"
#include "exec/Kernels.h"
#include "plan/Plan.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

using namespace exprt;

TEST_CASE("plan contract: every op has a kernel and every kernel an op") {
  std::set<std::string> contract, kernels;
  for (const expcontract::StepOpInfo &op : expcontract::kStepOps)
    contract.insert(std::string(op.name));
  for (const std::string &name : kernelNames())
    kernels.insert(name);
  for (const std::string &op : contract) {
    INFO("op `" << op << "` is in the plan contract (StepOps.td) but the runtime has no kernel for it");
    CHECK(kernels.count(op) == 1);
  }
  for (const std::string &k : kernels) {
    INFO("the runtime has a kernel for `" << k << "`, which the plan contract does not declare");
    CHECK(contract.count(k) == 1);
  }
  CHECK(kernels.size() == kernelNames().size()); // no op twice
}

TEST_CASE("plan contract: arity and traits come from the contract") {
  for (const expcontract::StepOpInfo &op : expcontract::kStepOps) {
    const int k = findKernel(std::string(op.name));
    REQUIRE(k >= 0);
    CHECK(kernelArity(k) == static_cast<size_t>(op.operands));
    CHECK(kernelIsElementwise(k) == op.elementwise);
  }
  CHECK(findKernel("no_such_op") == -1);
}

TEST_CASE("plan contract: the loader reads every attribute an op declares") {
  for (const expcontract::StepOpInfo &op : expcontract::kStepOps) {
    std::string_view rest = op.attributes;
    while (!rest.empty()) {
      const size_t comma = std::min(rest.find(','), rest.size());
      const std::string_view attr = rest.substr(0, comma);
      INFO("op `" << op.name << "` declares attribute `" << attr << "`, which the plan loader does not read");
      CHECK(planReadsAttribute(attr));
      rest.remove_prefix(std::min(comma + 1, rest.size()));
    }
  }
  CHECK_FALSE(planReadsAttribute("no_such_attribute"));
}
