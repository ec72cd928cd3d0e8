// Knowledge graphs for the KG objectives (docs/sideinfo.md): edges read from
// STRING, Hetionet and gene-pair lists, merged, and mapped onto a dataset's
// perturbations as the perturbation x perturbation weight matrix W the
// losses use (soft targets; the normalised Laplacian L = I - D^-1/2 W D^-1/2),
// with a report of how many perturbations found a node.
#pragma once

#include "exprt/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace exprt {

// An undirected edge between two named nodes (gene symbols, or typed ids
// such as `Compound::DB00014`), weighted in [0, 1].
struct KgEdge {
  std::string a, b;
  float weight = 1;
};

struct KnowledgeGraph {
  std::vector<KgEdge> edges;
  // Every node the sources name (with Hetionet's nodes file or STRING's
  // info file: also nodes without an edge), for mapping coverage.
  std::unordered_set<std::string> nodes;
  std::map<std::string, int64_t> edgesPerRelation; // "STRING", "GiG", "pairs", ...
  std::map<std::string, int64_t> nodesPerKind;     // Hetionet's node kinds
  std::vector<std::string> sources;                // the files read, in order
  // Appends `other`'s edges and counts (merging several sources).
  void merge(const KnowledgeGraph &other);
};

// STRING `protein.links` (space-separated `protein1 protein2
// combined_score`, gzip or not): the edges with combined_score >=
// `minScore`, weight score / 1000. With `info` (`protein.info`: the first
// column the protein id, `preferred_name` the symbol) the proteins become
// gene symbols; a protein the info file lacks is an error naming the line.
// Streams the file: the full human network (13 million links) is not held.
Status readStringLinks(const std::string &links, int minScore, const std::string &info, KnowledgeGraph &graph);

// Hetionet: `sif` edges (tab-separated `source metaedge target`, gzip or
// not) of the listed `metaedges` (all when empty), weight 1; `nodes` (`id
// name kind`) names the nodes: a gene becomes its symbol (`Gene::7157` ->
// TP53), other nodes keep their ids. An edge whose node `nodes` lacks is an
// error naming the line; so is a metaedge no edge has.
Status readHetionet(const std::string &sif, const std::string &nodes, const std::vector<std::string> &metaedges,
                    KnowledgeGraph &graph);

// A gene-pair list (CSV or TSV, a header, the first two columns; EFAAR's
// `entity1,entity2`), weight 1.
Status readGenePairs(const std::string &path, KnowledgeGraph &graph);

// A plan's knowledge-graph sources, [{kind, params}] with kind
// `string_links`, `hetionet` or `gene_pairs` (std.sideinfo), read and merged;
// `resolve` maps each file parameter as the spec wrote it to a path.
Status readGraphSources(const nlohmann::json &sources, const std::function<std::string(const std::string &)> &resolve,
                        KnowledgeGraph &graph);

// Hetionet compound ids by InChIKey, from DrugBank's table as Hetionet
// ships it (`drugbank-slim.tsv`: drugbank_id, inchikey as `InChIKey=...`),
// so a screen's compounds (JUMP's Metadata_InChIKey) map onto Hetionet's
// compound nodes (`Compound::DB00014`).
struct CompoundKeys {
  std::unordered_map<std::string, std::string> byKey, byConnectivity; // full key; its first block
  // The node of `inchiKey`: the full key, else (with `connectivity`) the
  // first 14 characters, which ignore stereochemistry and protonation; ""
  // when neither matches.
  std::string find(const std::string &inchiKey, bool connectivity) const;
};
Status readCompoundKeys(const std::string &drugbank, CompoundKeys &keys);

// The perturbation x perturbation weights, sparse: W[i][j] is the largest
// weight of an edge between a node of perturbation i and a node of
// perturbation j (`nodesOf[i]`: one gene for a knock-down, a compound's
// targets, a Hetionet compound id), 1 where they share a node of the graph;
// W[i][i] = 0.
struct PerturbationGraph {
  int64_t size = 0;
  std::unordered_map<uint64_t, float> weight; // key i * size + j, both (i, j) and (j, i)
  int64_t mapped = 0;            // perturbations with a node of the graph
  std::vector<int64_t> unmapped; // the others
  int64_t pairs = 0;             // nonzero W[i][j], i < j
  float at(int64_t i, int64_t j) const {
    auto it = weight.find(static_cast<uint64_t>(i * size + j));
    return it == weight.end() ? 0.0f : it->second;
  }
  std::vector<double> degrees() const;
};
PerturbationGraph perturbationGraph(const KnowledgeGraph &graph, const std::vector<std::vector<std::string>> &nodesOf);

// L = I - D^-1/2 W D^-1/2, dense (size x size, row-major): for graphs of a
// screen's perturbations, not of all genes. An isolated perturbation's row
// is the identity's.
std::vector<float> normalizedLaplacian(const PerturbationGraph &g);

// Node embeddings of the perturbations from the graph alone (Ng, Jordan and
// Weiss's spectral embedding): the eigenvectors of the `dim` smallest
// eigenvalues of L, each row scaled to unit length (a perturbation without
// edges gets its own direction), signs fixed so each column's largest entry
// is positive. Dense: for a screen's perturbations, not all genes.
// `dim` > size is an error.
Status spectralEmbedding(const PerturbationGraph &g, int64_t dim, std::vector<float> &embedding);

// "mapped 1,093 of 1,138 perturbations (96.0%), 2,310 weighted pairs; 45
// without a node in the graph: a, b, ..."
std::string coverageReport(const PerturbationGraph &g, const std::vector<std::string> &names);

} // namespace exprt
