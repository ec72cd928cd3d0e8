// exp-inline-networks refuses a network that calls itself.
// RUN: exp-opt %s --split-input-file --exp-inline-networks --verify-diagnostics

exp.experiment @recursive {
  // expected-error @+1 {{calls itself; a network graph must be finite}}
  exp.network @Loop "Loop" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.call @Loop "1.Loop" (%x) : (tensor<8xf32>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  exp.encoder @e "Loop" {} network @Loop
}
