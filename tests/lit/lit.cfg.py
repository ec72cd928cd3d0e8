# lit configuration for the exp IR, driver and diagnostics tests.
import os
import lit.formats

config.name = "exp"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".exp", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(os.path.dirname(config.exp_tools_dir), "tests", "lit")
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]

# Tools first from this build, then FileCheck/not from LLVM 19.
config.environment["PATH"] = os.pathsep.join(
    [config.exp_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%exp_src", config.exp_source_dir))
# The build's libraries (lib/ beside bin/): the runtime, and test doubles of it.
config.substitutions.append(("%exp_lib", os.path.join(os.path.dirname(config.exp_tools_dir), "lib")))
import sys
config.substitutions.append(("%python", sys.executable))

# The CUDA toolkit's ptxas, when CMake found one: tests that assemble PTX.
ptxas = getattr(config, "ptxas", "")
if ptxas and os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# A runtime built with CUDA on a machine with a CUDA device: tests that run
# plans on it (elsewhere lit reports them UNSUPPORTED).
if getattr(config, "with_cuda", "OFF") == "ON" and os.path.exists("/dev/nvidiactl"):
    config.available_features.add("cuda-device")

# The runtime's optional dependencies it was built without (runtime/include/
# exprt/Features.def): `without-NAME` for each, so a test of the refusal
# runs against such a runtime. `--param features_off=csv;png` (with
# EXP_RUNTIME_LIBRARY naming that runtime) overrides what CMake recorded.
features_off = lit_config.params.get("features_off", getattr(config, "features_off", ""))
for name in filter(None, features_off.replace(",", ";").split(";")):
    config.available_features.add("without-" + name)
if "EXP_RUNTIME_LIBRARY" in os.environ:
    config.environment["EXP_RUNTIME_LIBRARY"] = os.environ["EXP_RUNTIME_LIBRARY"]
