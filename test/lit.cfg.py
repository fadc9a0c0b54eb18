# lit configuration for fedc's phase tests (test/Parse, test/Sema, ...).
import os

import lit.formats

config.name = "fedc"
# bash runs RUN lines, so tests can check exit codes (`; test $? -eq 1`).
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".fed", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt",
                   "unit", "fuzz", "tools", "package", "editors", "lsp"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.fedc_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.fedc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Diagnostics in tests are never coloured, whatever the terminal.
config.environment["NO_COLOR"] = "1"
config.substitutions.append(("%status", os.path.join(config.test_source_root, "tools", "status")))
config.substitutions.append(("%fedc", os.path.join(config.fedc_tools_dir, "fedc")))
config.substitutions.append(("%npcheck", config.python_executable + " " + os.path.join(config.test_source_root, "Exec", "Inputs", "numpy_check.py")))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%fedrt_include", config.fedrt_include))
config.substitutions.append(("%fedrt_lib", config.fedrt_lib))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

# lld-19 installed: the build must have asked for it (test/Driver/link-lld.test).
if os.path.exists(os.path.join(config.llvm_tools_dir, "ld.lld")):
    config.available_features.add("lld")
