#include "side/WordPiece.h"

#include <fstream>

namespace exprt {
namespace {

// UTF-8 decoding; an invalid byte stands for itself as U+FFFD.
std::vector<char32_t> decode(const std::string &s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size() + (extra == 0)) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      ok = ok && (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3F);
    }
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? static_cast<size_t>(extra) + 1 : 1;
  }
  return out;
}

std::string encode(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

bool isWhitespace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A);
}
bool isControl(char32_t c) { return (c < 0x20 && !isWhitespace(c)) || (c >= 0x7F && c < 0xA0) || c == 0xFFFD || c == 0; }
// BERT: ASCII non-alphanumerics count as punctuation, and Unicode's P*
// categories; here the blocks that hold them in practice.
bool isPunctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) ||
         c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB || c == 0xBF ||
         (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
         (c >= 0x3008 && c <= 0x3011);
}
bool isCjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Lower case and accents stripped (NFD, combining marks dropped) for
// U+0000..U+017F; other code points unchanged.
char32_t lowerBase(char32_t c) {
  if (c < 0x80)
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  // U+00C0..U+017F (Latin-1 Supplement, Latin Extended-A): Python's
  // unicodedata NFD of the lower case, marks dropped (generated, one each).
  static const char32_t kLatin[] = {
      0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0xe6, 0x63, 0x65, 0x65, 0x65, 0x65,
      0x69, 0x69, 0x69, 0x69, 0xf0, 0x6e, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0xd7,
      0xf8, 0x75, 0x75, 0x75, 0x75, 0x79, 0xfe, 0xdf, 0x61, 0x61, 0x61, 0x61,
      0x61, 0x61, 0xe6, 0x63, 0x65, 0x65, 0x65, 0x65, 0x69, 0x69, 0x69, 0x69,
      0xf0, 0x6e, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0xf7, 0xf8, 0x75, 0x75, 0x75,
      0x75, 0x79, 0xfe, 0x79, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x63, 0x63,
      0x63, 0x63, 0x63, 0x63, 0x63, 0x63, 0x64, 0x64, 0x111, 0x111, 0x65, 0x65,
      0x65, 0x65, 0x65, 0x65, 0x65, 0x65, 0x65, 0x65, 0x67, 0x67, 0x67, 0x67,
      0x67, 0x67, 0x67, 0x67, 0x68, 0x68, 0x127, 0x127, 0x69, 0x69, 0x69, 0x69,
      0x69, 0x69, 0x69, 0x69, 0x69, 0x131, 0x133, 0x133, 0x6a, 0x6a, 0x6b, 0x6b,
      0x138, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x140, 0x140, 0x142, 0x142, 0x6e,
      0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x149, 0x14b, 0x14b, 0x6f, 0x6f, 0x6f, 0x6f,
      0x6f, 0x6f, 0x153, 0x153, 0x72, 0x72, 0x72, 0x72, 0x72, 0x72, 0x73, 0x73,
      0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x74, 0x74, 0x74, 0x74, 0x167, 0x167,
      0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75, 0x75,
      0x77, 0x77, 0x79, 0x79, 0x79, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x17f,
  };
  if (c >= 0xC0 && c <= 0x17F)
    return kLatin[c - 0xC0];
  if (c >= 0x300 && c <= 0x36F) // combining marks (already decomposed input)
    return 0;
  return c;
}

// BERT's BasicTokenizer.
std::vector<std::string> basicTokens(const std::string &text, bool lowercase) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty())
      words.push_back(std::move(current));
    current.clear();
  };
  for (char32_t c : decode(text)) {
    if (isControl(c))
      continue;
    if (isWhitespace(c)) {
      flush();
      continue;
    }
    if (lowercase && (c = lowerBase(c)) == 0)
      continue;
    if (isPunctuation(c) || isCjk(c)) {
      flush();
      words.push_back(encode(c));
      continue;
    }
    current += encode(c);
  }
  flush();
  return words;
}

} // namespace

Status readVocab(const std::string &path, WordPieceVocab &vocab) {
  vocab = WordPieceVocab();
  std::ifstream in(path);
  if (!in)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open");
  std::string line;
  for (int64_t id = 0; std::getline(in, line); ++id) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (!vocab.ids.emplace(line, id).second)
      return Status::error(ErrorKind::InputMalformed, path + ":" + std::to_string(id + 1) + ": token `" + line + "` given twice (also line " +
                           std::to_string(vocab.ids[line] + 1) + ")");
    vocab.tokens.push_back(line);
  }
  for (auto [name, slot] : {std::pair{"[UNK]", &vocab.unk}, {"[CLS]", &vocab.cls}, {"[SEP]", &vocab.sep},
                            {"[PAD]", &vocab.pad}}) {
    auto it = vocab.ids.find(name);
    if (it == vocab.ids.end())
      return Status::error(ErrorKind::InputMalformed, path + ": no " + std::string(name) + " token (a BERT vocab.txt has it)");
    *slot = it->second;
  }
  return Status::ok();
}

std::vector<std::string> wordPieces(const WordPieceVocab &vocab, const std::string &text, bool lowercase) {
  std::vector<std::string> out;
  for (const std::string &word : basicTokens(text, lowercase)) {
    if (decode(word).size() > 100) {
      out.push_back("[UNK]");
      continue;
    }
    std::vector<std::string> pieces;
    size_t start = 0;
    bool bad = false;
    while (start < word.size()) {
      size_t end = word.size();
      std::string found;
      while (end > start) {
        std::string piece = (start > 0 ? "##" : "") + word.substr(start, end - start);
        if (end == word.size() || (static_cast<unsigned char>(word[end]) & 0xC0) != 0x80) // whole code points
          if (vocab.ids.count(piece)) {
            found = piece;
            break;
          }
        --end;
      }
      if (found.empty()) {
        bad = true;
        break;
      }
      pieces.push_back(found);
      start = end;
    }
    if (bad)
      out.push_back("[UNK]");
    else
      out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

std::vector<int64_t> encodeText(const WordPieceVocab &vocab, const std::string &text, int64_t length, bool lowercase,
                                bool *truncated) {
  std::vector<int64_t> ids = {vocab.cls};
  std::vector<std::string> pieces = wordPieces(vocab, text, lowercase);
  const size_t room = length >= 2 ? static_cast<size_t>(length - 2) : 0;
  for (size_t i = 0; i < pieces.size() && i < room; ++i)
    ids.push_back(pieces[i] == "[UNK]" ? vocab.unk : vocab.ids.at(pieces[i]));
  if (truncated)
    *truncated = pieces.size() > room;
  if (length >= 2)
    ids.push_back(vocab.sep);
  ids.resize(static_cast<size_t>(length), vocab.pad);
  return ids;
}

} // namespace exprt
