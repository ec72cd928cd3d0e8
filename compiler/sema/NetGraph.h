// The layer graph of one network instantiation.
//
// Instantiating a network body runs its statements over symbolic tensors
// (Networks.cpp); while it does, every layer call, nested network call,
// encoder application and tensor arithmetic appends a node here, so the body
// becomes a concrete graph with every shape and configuration resolved. IR
// generation emits one `exp.network` per graph; `exp-inline-networks` then
// flattens the calls. Graphs are shared by every use of the same
// instantiation (same network, configuration and input shapes): they are
// templates, and parameters belong to the encoder that applies them.
#pragma once

#include "sema/Value.h"

#include <memory>
#include <string>
#include <vector>

namespace expc {

struct NetGraph;

struct NetNode {
  enum class Kind {
    Input, // a data parameter of the network
    Layer, // an `extern layer` call, or tensor arithmetic (`add`, `sub`, `mul`, `scale`)
    Call,  // a nested network instantiation
    Apply, // an encoder value applied (`backbone(x)`), or an `extern encoder`
  };
  Kind kind = Kind::Layer;
  std::string op;                       // layer name; Call: the network's name
  std::map<std::string, ValPtr> config; // constant arguments, defaults included
  std::vector<int> operands;            // node indices, in parameter order
  DataType type;                        // the per-row result type
  std::shared_ptr<const NetGraph> callee; // Call
  ValPtr encoder;                         // Apply: the encoder value
  SourceRange at;                         // the call in the .exp source
};

struct NetGraph {
  const ast::Decl *decl = nullptr;
  int id = 0; // unique per compilation, for symbol names
  std::vector<NetNode> nodes; // inputs first, then in evaluation order
  size_t inputs = 0;
  int output = -1;
};

} // namespace expc
