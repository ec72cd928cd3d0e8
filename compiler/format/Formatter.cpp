#include "format/Formatter.h"

#include "ExpLexer.h"
#include "antlr4-runtime.h"

#include <vector>

namespace expc {
namespace {

using T = ExpLexer;

bool isOpen(size_t t) { return t == T::LPAREN || t == T::LBRACK || t == T::LBRACE; }
bool isClose(size_t t) { return t == T::RPAREN || t == T::RBRACK || t == T::RBRACE; }
bool isComment(size_t t) {
  return t == T::LINE_COMMENT || t == T::DOC_COMMENT || t == T::BLOCK_COMMENT ||
         t == T::UNTERMINATED_COMMENT;
}
bool isBinary(size_t t) {
  switch (t) {
  case T::ASSIGN: case T::PLUS: case T::STAR: case T::SLASH: case T::PERCENT:
  case T::EQ: case T::NE: case T::LT: case T::LE: case T::GT: case T::GE:
  case T::ARROW: case T::PIPE: case T::AND: case T::OR: case T::IN:
    return true;
  default:
    return false;
  }
}
// Tokens after which a `-` is a sign, not a subtraction.
bool signContext(size_t prev) {
  return prev == 0 || isOpen(prev) || isBinary(prev) || prev == T::COMMA || prev == T::COLON ||
         prev == T::SEMI || prev == T::MINUS || prev == T::RETURN || prev == T::NOT ||
         prev == T::SWEEP || prev == T::IF || prev == T::REPEAT;
}
bool isWord(size_t t) {
  return t == T::ID || t == T::NUMBER || t == T::STRING || t == T::TRUE || t == T::FALSE ||
         t == T::NONE || t == T::BAD_NUMBER || t == T::HASH || t == T::BAD_HASH ||
         t == T::UNTERMINATED_STRING || (t >= T::IMPORT && t <= T::NONE);
}

// Whether one space separates `prev` and `cur` on a line.
// `tightBrace`: inside `import m.{a, b}`, braces hug their names.
bool spaceBetween(size_t prev, size_t cur, bool prevSign, bool tightBrace) {
  if (prev == 0)
    return false;
  if (cur == T::RBRACE)
    return prev != T::LBRACE && !tightBrace;
  if (cur == T::COMMA || cur == T::SEMI || cur == T::COLON || cur == T::DOT || isClose(cur) ||
      cur == T::ELLIPSIS)
    return cur == T::ELLIPSIS && !isOpen(prev) && prev != T::DOT;
  if (prev == T::DOT || prevSign)
    return false;
  if (isOpen(prev))
    return prev == T::LBRACE && !tightBrace;
  if (cur == T::LPAREN || cur == T::LBRACK)
    // Calls and indexing hug their callee; `(`/`[` after an operator or keyword do not.
    return !(isWord(prev) && prev != T::IN && prev != T::AND && prev != T::OR && prev != T::NOT &&
             prev != T::RETURN && prev != T::SWEEP && prev != T::IF && prev != T::REPEAT) &&
           !isClose(prev);
  return true;
}

} // namespace

std::string formatSource(FileId file, const SourceManager &sources) {
  const std::string &text = sources.contents(file);
  antlr4::ANTLRInputStream input(text);
  ExpLexer lexer(&input);
  lexer.removeErrorListeners();
  antlr4::CommonTokenStream stream(&lexer);
  stream.fill();
  std::vector<antlr4::Token *> tokens = stream.getTokens();

  std::string out;
  std::vector<size_t> lineTokens; // token types emitted on the current line
  int depth = 0;
  int blank = 0;        // newlines seen since the last token
  bool lineStart = true;
  size_t prev = 0;
  bool prevSign = false;
  bool anything = false;
  std::vector<bool> tight; // per open bracket: an import-name brace
  for (antlr4::Token *tok : tokens) {
    size_t t = tok->getType();
    if (t == antlr4::Token::EOF)
      break;
    if (t == T::NEWLINE) {
      ++blank;
      continue;
    }
    if (blank > 0 && anything) {
      out += blank > 1 ? "\n\n" : "\n";
      lineStart = true;
    }
    blank = 0;
    std::string piece = tok->getText();
    if (isComment(t) && t != T::BLOCK_COMMENT) {
      while (!piece.empty() && (piece.back() == ' ' || piece.back() == '\t' || piece.back() == '\r'))
        piece.pop_back();
    }
    bool inTight = !tight.empty() && tight.back();
    if (lineStart) {
      int indent = depth;
      if (isClose(t))
        indent = std::max(0, depth - 1);
      else if (isBinary(t) || t == T::MINUS)
        indent = depth + 1; // a continued expression
      out += std::string(size_t(std::max(0, indent)) * 2, ' ');
      lineStart = false;
      prev = 0;
    } else if (isComment(t)) {
      out += " ";
    } else if (spaceBetween(prev, t, prevSign, inTight || (t == T::LBRACE && prev == T::DOT))) {
      out += " ";
    }
    bool sign = (t == T::MINUS && signContext(prev)) || t == T::NOT;
    out += piece;
    anything = true;
    if (isOpen(t)) {
      ++depth;
      tight.push_back(t == T::LBRACE && prev == T::DOT);
    } else if (isClose(t)) {
      depth = std::max(0, depth - 1);
      if (!tight.empty())
        tight.pop_back();
    }
    prevSign = sign && t == T::MINUS;
    prev = t;
    // A block comment may span lines; what follows it starts after it.
    if (t == T::BLOCK_COMMENT && piece.find('\n') != std::string::npos)
      prev = 0;
  }
  if (anything)
    out += "\n";
  return out;
}

} // namespace expc
