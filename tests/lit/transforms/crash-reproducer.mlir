// A failing pass leaves a reproducer that replays the failure (`exp compile`
// enables the same MLIR mechanism, writing to --crash-reproducer or the temp
// dir and naming the file in a note).
// RUN: not exp-opt %s --exp-lower-to-step --mlir-pass-pipeline-crash-reproducer=%t.repro.mlir 2>&1 | FileCheck %s --check-prefix=FAIL
// RUN: FileCheck %s --check-prefix=REPRO < %t.repro.mlir
// RUN: not exp-opt %t.repro.mlir --run-reproducer 2>&1 | FileCheck %s --check-prefix=FAIL
// FAIL: error: 'exp.experiment' op needs exactly one exp.train, found 0
// REPRO: exp.experiment @no_train
// REPRO: mlir_reproducer
// REPRO: pipeline: "builtin.module(exp-lower-to-step)"
exp.experiment @no_train {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
}
