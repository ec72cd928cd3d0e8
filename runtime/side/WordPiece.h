// BERT's WordPiece tokenisation from a `vocab.txt` (one token per line, id =
// line number from 0), for text side information (CellCLIP's prompts):
// BERT's basic tokeniser (clean, optional lower-casing with accents
// stripped, split on whitespace and punctuation, CJK ideographs as single
// tokens), then greedy longest-match-first word pieces with `##`
// continuations; a word that cannot be covered, or is over 100 characters,
// is [UNK]. Lower-casing and accent stripping cover U+0000-U+017F (ASCII,
// Latin-1, Latin Extended-A); other letters are kept as they are, since no
// Unicode library is linked.
#pragma once

#include "exprt/Status.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace exprt {

struct WordPieceVocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int64_t> ids;
  int64_t unk = -1, cls = -1, sep = -1, pad = -1;
};

// Reads `path`; a vocabulary without [UNK], [CLS], [SEP] and [PAD], or with
// a token given twice, is an error naming file and line.
Status readVocab(const std::string &path, WordPieceVocab &vocab);

// The word pieces of `text` (no special tokens).
std::vector<std::string> wordPieces(const WordPieceVocab &vocab, const std::string &text, bool lowercase = true);

// [CLS] pieces [SEP], truncated to `length` (the [SEP] kept last) and padded
// with [PAD]; `truncated` (when given) says whether pieces were cut.
std::vector<int64_t> encodeText(const WordPieceVocab &vocab, const std::string &text, int64_t length,
                                bool lowercase = true, bool *truncated = nullptr);

} // namespace exprt
