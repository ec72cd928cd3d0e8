#include "parse/Parser.h"

#include "ExpLexer.h"
#include "ExpParser.h"
#include "antlr4-runtime.h"

#include <charconv>
#include <cerrno>
#include <cstdlib>

namespace expc {
namespace {

constexpr int64_t kMaxNesting = 256;

uint32_t codePoints(std::string_view s) {
  uint32_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

// The range of a token, from ANTLR's 1-based line and 0-based code point column.
SourceRange tokenRange(FileId file, const antlr4::Token *t) {
  SourceRange r;
  r.file = file;
  r.beginLine = static_cast<uint32_t>(t->getLine());
  r.beginCol = static_cast<uint32_t>(t->getCharPositionInLine()) + 1;
  std::string text = t->getType() == antlr4::Token::EOF ? "" : t->getText();
  size_t nl = text.rfind('\n');
  if (nl == std::string::npos) {
    r.endLine = r.beginLine;
    r.endCol = r.beginCol + codePoints(text);
  } else {
    uint32_t lines = 0;
    for (char c : text)
      lines += c == '\n';
    r.endLine = r.beginLine + lines;
    r.endCol = 1 + codePoints(std::string_view(text).substr(nl + 1));
  }
  return r;
}

SourceRange ctxRange(FileId file, antlr4::ParserRuleContext *ctx) {
  SourceRange r = tokenRange(file, ctx->getStart());
  if (ctx->getStop() && ctx->getStop()->getTokenIndex() >= ctx->getStart()->getTokenIndex())
    r = SourceRange::cover(r, tokenRange(file, ctx->getStop()));
  return r;
}

// A printable rendering of one character for messages.
std::string showChar(std::string_view text) {
  if (text.empty())
    return "?";
  unsigned char c = static_cast<unsigned char>(text[0]);
  if (c < 0x20 || c == 0x7F)
    return fmt::format("\\x{:02x}", c);
  return std::string(text);
}

// Checks UTF-8 validity; reports the first bad byte with its position.
bool validateUtf8(FileId file, const std::string &s, DiagnosticEngine &diags) {
  uint32_t line = 1, col = 1;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = validUtf8Length(s, i);
    if (len == 0) {
      SourceRange r{file, line, col, line, col + 1};
      diags.emit(diag::InvalidUtf8, r, fmt::format("{:02x}", c));
      return false;
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += len;
  }
  return true;
}

// ANTLR recurses once per nesting level; bound it before parsing so hostile
// input cannot overflow the stack. Strings and comments are skipped roughly;
// an over-count only matters past the (generous) limit.
bool checkNesting(FileId file, const std::string &s, DiagnosticEngine &diags) {
  int64_t depth = 0;
  uint32_t line = 1, col = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      while (++i < s.size() && s[i] != '"' && s[i] != '\n')
        if (s[i] == '\\')
          ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      while (i < s.size() && s[i] != '\n')
        ++i;
    }
    if (i >= s.size())
      break;
    c = s[i];
    if (c == '(' || c == '[' || c == '{') {
      if (++depth > kMaxNesting) {
        diags.emit(diag::NestingTooDeep, SourceRange{file, line, col, line, col + 1},
                   kMaxNesting);
        return false;
      }
    } else if (c == ')' || c == ']' || c == '}') {
      depth = depth > 0 ? depth - 1 : 0;
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return true;
}

// What nests without brackets, bounded on the tokens before the parser
// recurses on it: a run of prefix operators (`- - not x`), `sweep` chains
// and `else if` chains (one recursion per link each).
bool checkChains(FileId file, antlr4::CommonTokenStream &tokens, DiagnosticEngine &diags) {
  std::vector<int64_t> elifs(1, 0); // per bracket depth: the current chain's `else if`s
  int64_t prefixes = 0;
  const std::vector<antlr4::Token *> &all = tokens.getTokens();
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t type = all[i]->getType();
    const size_t next = i + 1 < all.size() ? all[i + 1]->getType() : antlr4::Token::EOF;
    const char *what = nullptr;
    if (type == ExpLexer::MINUS || type == ExpLexer::NOT || type == ExpLexer::SWEEP) {
      if (++prefixes > kMaxNesting)
        what = "prefix operators";
    } else {
      prefixes = 0;
    }
    if (type == ExpLexer::LPAREN || type == ExpLexer::LBRACK || type == ExpLexer::LBRACE) {
      elifs.push_back(0);
    } else if ((type == ExpLexer::RPAREN || type == ExpLexer::RBRACK || type == ExpLexer::RBRACE) &&
               elifs.size() > 1) {
      elifs.pop_back();
      if (type == ExpLexer::RBRACE && next != ExpLexer::ELSE)
        elifs.back() = 0; // a statement ended here
    } else if (type == ExpLexer::ELSE && next == ExpLexer::IF && ++elifs.back() > kMaxNesting) {
      what = "`else if` branches";
    }
    if (what) {
      diags.emit(diag::ChainTooDeep, tokenRange(file, all[i]), what, kMaxNesting);
      return false;
    }
  }
  return true;
}

// The parse tree's depth, bounded before anything recurses over it (the AST
// builder, then sema, IR generation and the formatter over the AST): a long
// `a + b + ...` or `a.b.c...` chain nests one expression per link. Walked
// with an explicit stack, so the walk itself cannot overflow.
bool checkTreeDepth(FileId file, antlr4::tree::ParseTree *root, DiagnosticEngine &diags) {
  struct Visit {
    antlr4::tree::ParseTree *node;
    int64_t exprs;                      // expressions enclosing it, itself included
    antlr4::ParserRuleContext *outer;   // the outermost of them: where the error points
  };
  std::vector<Visit> stack{{root, 0, nullptr}};
  while (!stack.empty()) {
    Visit v = stack.back();
    stack.pop_back();
    if (auto *e = dynamic_cast<ExpParser::ExprContext *>(v.node)) {
      v.outer = v.outer ? v.outer : e;
      if (++v.exprs > kMaxNesting) {
        diags.emit(diag::ChainTooDeep, ctxRange(file, v.outer), "an expression", kMaxNesting);
        return false;
      }
    }
    for (antlr4::tree::ParseTree *child : v.node->children)
      stack.push_back({child, v.exprs, v.outer});
  }
  return true;
}

class LexerErrors : public antlr4::BaseErrorListener {
public:
  LexerErrors(FileId file, const SourceManager &sources, DiagnosticEngine &diags)
      : file_(file), sources_(sources), diags_(diags) {}
  void syntaxError(antlr4::Recognizer *, antlr4::Token *, size_t line,
                   size_t pos, const std::string &, std::exception_ptr) override {
    std::string_view text = sources_.line(file_, static_cast<uint32_t>(line));
    // Find the byte offset of code point `pos` on the line.
    size_t byte = 0;
    for (size_t cp = 0; byte < text.size() && cp < pos; ++cp)
      byte += utf8SequenceLength(static_cast<unsigned char>(text[byte]));
    std::string_view rest = byte < text.size() ? text.substr(byte) : std::string_view();
    size_t len = rest.empty() ? 0 : std::min<size_t>(utf8SequenceLength(static_cast<unsigned char>(rest[0])), rest.size());
    uint32_t col = static_cast<uint32_t>(pos) + 1;
    diags_.emit(diag::UnexpectedCharacter,
                SourceRange{file_, static_cast<uint32_t>(line), col,
                            static_cast<uint32_t>(line), col + 1},
                showChar(rest.substr(0, len)));
  }

private:
  FileId file_;
  const SourceManager &sources_;
  DiagnosticEngine &diags_;
};

// How a token type reads in "expected ..." messages.
std::string describeToken(const antlr4::dfa::Vocabulary &vocab, size_t type) {
  switch (type) {
  case antlr4::Token::EOF:
    return "end of file";
  case ExpLexer::ID:
    return "a name";
  case ExpLexer::NUMBER:
    return "a number";
  case ExpLexer::STRING:
    return "a string";
  default:
    break;
  }
  std::string lit = vocab.getLiteralName(type);
  if (lit.size() >= 2 && lit.front() == '\'')
    return "`" + lit.substr(1, lit.size() - 2) + "`";
  return vocab.getDisplayName(type);
}

class ParserErrors : public antlr4::BaseErrorListener {
public:
  ParserErrors(FileId file, DiagnosticEngine &diags) : file_(file), diags_(diags) {}
  void syntaxError(antlr4::Recognizer *recognizer, antlr4::Token *offending,
                   size_t, size_t, const std::string &, std::exception_ptr) override {
    auto *parser = static_cast<antlr4::Parser *>(recognizer);
    SourceRange r = tokenRange(file_, offending);
    // ANTLR reports again at the same token while recovering; once is enough.
    if (r.beginLine == lastLine_ && r.beginCol == lastCol_)
      return;
    lastLine_ = r.beginLine;
    lastCol_ = r.beginCol;
    if (offending->getType() == antlr4::Token::EOF)
      r.endCol = r.beginCol + 1;
    std::string found = offending->getType() == antlr4::Token::EOF
                            ? "end of file"
                            : "`" + offending->getText() + "`";
    auto d = diags_.emit(diag::SyntaxError, r, expected(parser), found);
    // A declaration keyword inside a block or body usually means the block
    // above was never closed: point at its `{`.
    size_t type = offending->getType();
    bool declKeyword = type == ExpLexer::DATASET || type == ExpLexer::SIDE ||
                       type == ExpLexer::ENCODER || type == ExpLexer::OBJECTIVE ||
                       type == ExpLexer::TRAIN || type == ExpLexer::EVALUATE ||
                       type == ExpLexer::SWEEP || type == ExpLexer::PARAM ||
                       type == ExpLexer::NETWORK || type == ExpLexer::EXTERN ||
                       type == ExpLexer::IMPORT || type == antlr4::Token::EOF;
    if (declKeyword)
      for (antlr4::ParserRuleContext *c = parser->getContext(); c;
           c = dynamic_cast<antlr4::ParserRuleContext *>(c->parent)) {
        if (c->getRuleIndex() == ExpParser::RuleBlock || c->getRuleIndex() == ExpParser::RuleBody) {
          d.note(diag::UnclosedBlock, tokenRange(file_, c->getStart()));
          break;
        }
      }
  }

private:
  std::string expected(antlr4::Parser *parser) {
    antlr4::misc::IntervalSet set;
    try {
      set = parser->getExpectedTokens();
    } catch (...) {
      return "something else";
    }
    const auto &vocab = parser->getVocabulary();
    bool expression = set.contains(size_t(ExpLexer::ID)) && set.contains(size_t(ExpLexer::NUMBER)) &&
                      set.contains(size_t(ExpLexer::STRING));
    std::vector<std::string> items;
    if (expression)
      items.push_back("an expression");
    for (size_t t : set.toList()) {
      if (expression && (t == ExpLexer::ID || t == ExpLexer::NUMBER || t == ExpLexer::STRING ||
                         t == ExpLexer::BAD_NUMBER || t == ExpLexer::UNTERMINATED_STRING ||
                         t == ExpLexer::TRUE || t == ExpLexer::FALSE || t == ExpLexer::NONE ||
                         t == ExpLexer::LPAREN || t == ExpLexer::LBRACK || t == ExpLexer::LBRACE ||
                         t == ExpLexer::MINUS || t == ExpLexer::NOT || t == ExpLexer::SWEEP ||
                         t == ExpLexer::ELLIPSIS))
        continue;
      if (t == ExpLexer::BAD_NUMBER || t == ExpLexer::UNTERMINATED_STRING ||
          t == ExpLexer::BAD_HASH)
        continue;
      items.push_back(describeToken(vocab, t));
    }
    if (items.empty())
      return "something else";
    if (items.size() == 1)
      return items[0];
    if (items.size() > 8)
      return "a declaration or an expression";
    std::string s = "one of ";
    for (size_t i = 0; i < items.size(); ++i)
      s += (i ? ", " : "") + items[i];
    return s;
  }

  FileId file_;
  DiagnosticEngine &diags_;
  uint32_t lastLine_ = 0, lastCol_ = 0;
};

// Parse tree -> AST. Runs only on error-free parse trees, so every child the
// grammar requires is present.
class AstBuilder {
public:
  AstBuilder(FileId file, DiagnosticEngine &diags, antlr4::CommonTokenStream &tokens)
      : file_(file), diags_(diags), tokens_(tokens) {}

  ast::ExprPtr expression(ExpParser::ExprContext *ctx) { return buildExpr(ctx); }
  FileId file() const { return file_; }
  DiagnosticEngine &diagnostics() { return diags_; }

  ast::Module build(ExpParser::FileContext *ctx) {
    ast::Module m;
    m.file = file_;
    for (auto *imp : ctx->importDecl())
      m.imports.push_back(buildImport(imp));
    for (auto *top : ctx->topDecl()) {
      ast::Decl d;
      if (auto *p = top->paramDecl()) {
        d.kind = ast::DeclKind::Param;
        d.keywordRange = range(p->PARAM());
        d.params.push_back(buildParam(p->param()));
        d.name = d.params[0].name;
        d.nameRange = d.params[0].nameRange;
      } else if (auto *n = top->networkDecl()) {
        d.kind = ast::DeclKind::Network;
        d.keywordRange = range(n->NETWORK());
        setName(d, n->name);
        if (auto *pl = n->paramList())
          for (auto *p : pl->param())
            d.params.push_back(buildParam(p));
        d.result = buildExpr(n->result);
        d.body = buildBody(n->body());
      } else if (auto *x = top->externDecl()) {
        d.kind = ast::DeclKind::Extern;
        d.keywordRange = range(x->EXTERN());
        d.externKind = x->kind->getText();
        d.externKindRange = range(x->kind);
        setName(d, x->name);
        if (auto *pl = x->paramList())
          for (auto *p : pl->param())
            d.params.push_back(buildParam(p));
        d.result = buildExpr(x->result);
      } else {
        buildDecl(top->decl(), d);
      }
      d.range = range(top);
      d.doc = docComment(top);
      m.decls.push_back(std::move(d));
    }
    return m;
  }

private:
  SourceRange range(antlr4::ParserRuleContext *ctx) { return ctxRange(file_, ctx); }
  SourceRange range(antlr4::tree::TerminalNode *n) { return tokenRange(file_, n->getSymbol()); }
  SourceRange range(antlr4::Token *t) { return tokenRange(file_, t); }

  void setName(ast::Decl &d, antlr4::Token *name) {
    d.name = name->getText();
    d.nameRange = range(name);
  }

  std::string docComment(antlr4::ParserRuleContext *ctx) {
    std::string doc;
    for (antlr4::Token *t : tokens_.getHiddenTokensToLeft(ctx->getStart()->getTokenIndex()))
      if (t->getType() == ExpLexer::DOC_COMMENT) {
        std::string text = t->getText().substr(3);
        if (!text.empty() && text[0] == ' ')
          text.erase(0, 1);
        doc += text + "\n";
      }
    return doc;
  }

  ast::Import buildImport(ExpParser::ImportDeclContext *ctx) {
    ast::Import i;
    if (auto *q = ctx->qualifiedName()) {
      for (auto *id : q->ID())
        i.path.push_back(id->getText());
      i.targetRange = range(q);
    } else {
      i.file = unescape(ctx->path);
      i.targetRange = range(ctx->path);
    }
    if (auto *names = ctx->importNames())
      for (auto *id : names->ID()) {
        i.names.push_back(id->getText());
        i.nameRanges.push_back(range(id));
      }
    if (ctx->alias)
      i.alias = ctx->alias->getText();
    if (ctx->hash) {
      i.hashRange = range(ctx->hash);
      if (ctx->hash->getType() == ExpLexer::BAD_HASH)
        diags_.emit(diag::BadHash, i.hashRange, ctx->hash->getText());
      else
        i.hash = ctx->hash->getText().substr(7);
    }
    i.range = range(ctx);
    return i;
  }

  ast::Param buildParam(ExpParser::ParamContext *ctx) {
    ast::Param p;
    p.name = ctx->name->getText();
    p.nameRange = range(ctx->name);
    p.range = range(ctx);
    p.type = buildExpr(ctx->type);
    if (auto *c = ctx->constraint()) {
      p.min = buildExpr(c->min);
      p.max = buildExpr(c->max);
      p.minOpen = c->lo->getType() == ExpLexer::LPAREN;
      p.maxOpen = c->hi->getType() == ExpLexer::RPAREN;
      p.constraintRange = range(c);
    }
    if (ctx->value)
      p.value = buildExpr(ctx->value);
    return p;
  }

  std::vector<ast::Stmt> buildBody(ExpParser::BodyContext *ctx) {
    std::vector<ast::Stmt> out;
    for (auto *s : ctx->stmt())
      out.push_back(buildStmt(s));
    return out;
  }

  ast::Stmt buildStmt(ExpParser::StmtContext *ctx) {
    ast::Stmt s;
    s.range = range(ctx);
    if (auto *c = dynamic_cast<ExpParser::LetStmtContext *>(ctx)) {
      s.kind = ast::StmtKind::Let;
      s.name = c->name->getText();
      s.nameRange = range(c->name);
      s.value = buildExpr(c->expr());
    } else if (auto *c = dynamic_cast<ExpParser::RepeatStmtContext *>(ctx)) {
      s.kind = ast::StmtKind::Repeat;
      if (c->var) {
        s.name = c->var->getText();
        s.nameRange = range(c->var);
      }
      s.value = buildExpr(c->count);
      s.body = buildBody(c->body());
    } else if (auto *c = dynamic_cast<ExpParser::IfStmtContext *>(ctx)) {
      s.kind = ast::StmtKind::If;
      s.value = buildExpr(c->cond);
      s.body = buildBody(c->then);
      if (c->otherwise)
        s.otherwise = buildBody(c->otherwise);
      else if (c->elif)
        s.otherwise.push_back(buildStmt(c->elif));
    } else {
      auto *r = static_cast<ExpParser::ReturnStmtContext *>(ctx);
      s.kind = ast::StmtKind::Return;
      s.value = buildExpr(r->expr());
    }
    return s;
  }

  void buildDecl(ExpParser::DeclContext *ctx, ast::Decl &d) {
    auto *kw = ctx->declKeyword();
    using K = ast::DeclKind;
    d.kind = kw->DATASET()    ? K::Dataset
             : kw->SIDE()     ? K::Side
             : kw->ENCODER()  ? K::Encoder
             : kw->OBJECTIVE() ? K::Objective
             : kw->TRAIN()    ? K::Train
             : kw->EVALUATE() ? K::Evaluate
                              : K::Sweep;
    d.keywordRange = range(kw);
    setName(d, ctx->name);
    if (ctx->value)
      d.value = buildExpr(ctx->value);
    if (auto *block = ctx->block())
      for (auto *s : block->setting())
        d.settings.push_back({s->key->getText(), range(s->key), buildExpr(s->value)});
  }

  // A call's arguments: names ("" when positional) and values.
  void addArgs(ast::Expr &call, ExpParser::ArgListContext *args) {
    if (!args)
      return;
    for (auto *a : args->arg()) {
      call.argNames.push_back(a->name ? a->name->getText() : "");
      call.argNameRanges.push_back(a->name ? range(a->name) : SourceRange{});
      call.operands.push_back(buildExpr(a->expr()));
    }
  }

  ast::ExprPtr make(ast::ExprKind kind, antlr4::ParserRuleContext *ctx) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = kind;
    e->range = range(ctx);
    return e;
  }

  ast::ExprPtr buildExpr(ExpParser::ExprContext *ctx) {
    using K = ast::ExprKind;
    if (auto *c = dynamic_cast<ExpParser::MemberExprContext *>(ctx)) {
      auto e = make(K::Member, c);
      e->text = c->member->getText();
      e->textRange = range(c->member);
      e->operands.push_back(buildExpr(c->expr()));
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::CallExprContext *>(ctx)) {
      auto e = make(K::Call, c);
      e->operands.push_back(buildExpr(c->expr()));
      addArgs(*e, c->argList());
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::IndexExprContext *>(ctx)) {
      auto e = make(K::Index, c);
      for (auto *item : c->expr())
        e->operands.push_back(buildExpr(item));
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::UnaryExprContext *>(ctx)) {
      auto e = make(K::Unary, c);
      e->text = c->NOT() ? "not" : "-";
      e->operands.push_back(buildExpr(c->expr()));
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::MulExprContext *>(ctx))
      return binary(c, c->op->getText(), c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::AddExprContext *>(ctx))
      return binary(c, c->op->getText(), c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::CompareExprContext *>(ctx))
      return binary(c, c->op->getText(), c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::AndExprContext *>(ctx))
      return binary(c, "and", c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::OrExprContext *>(ctx))
      return binary(c, "or", c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::UnionExprContext *>(ctx))
      return binary(c, "|", c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::MapExprContext *>(ctx))
      return binary(c, "->", c->expr(0), c->expr(1));
    if (auto *c = dynamic_cast<ExpParser::SweepExprContext *>(ctx)) {
      auto e = make(K::Sweep, c);
      e->operands.push_back(buildExpr(c->expr()));
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::ParenExprContext *>(ctx)) {
      auto e = buildExpr(c->expr());
      e->range = range(c);
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::ListExprContext *>(ctx)) {
      auto e = make(K::List, c);
      for (auto *item : c->expr())
        e->operands.push_back(buildExpr(item));
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::RecordExprContext *>(ctx)) {
      auto e = make(K::Record, c);
      for (auto *f : c->field()) {
        e->argNames.push_back(f->key->getText());
        e->argNameRanges.push_back(range(f->key));
        e->operands.push_back(buildExpr(f->value));
      }
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::NumberExprContext *>(ctx))
      return number(c);
    if (auto *c = dynamic_cast<ExpParser::StringExprContext *>(ctx)) {
      auto e = make(K::String, c);
      e->text = unescape(c->STRING()->getSymbol());
      return e;
    }
    if (auto *c = dynamic_cast<ExpParser::BoolExprContext *>(ctx)) {
      auto e = make(K::Bool, c);
      e->boolean = c->TRUE() != nullptr;
      return e;
    }
    if (dynamic_cast<ExpParser::NoneExprContext *>(ctx))
      return make(K::None, ctx);
    if (auto *c = dynamic_cast<ExpParser::DatasetTypeExprContext *>(ctx)) {
      // `dataset`, the type, or `dataset(image = images[...], ...)`, a data
      // source's result type.
      if (!c->LPAREN()) {
        auto e = make(K::Name, c);
        e->text = "dataset";
        return e;
      }
      auto e = make(K::Call, c);
      auto callee = make(K::Name, c);
      callee->text = "dataset";
      callee->range = range(c->DATASET());
      e->operands.push_back(std::move(callee));
      addArgs(*e, c->argList());
      return e;
    }
    if (dynamic_cast<ExpParser::EncoderTypeExprContext *>(ctx)) {
      auto e = make(K::Name, ctx);
      e->text = "encoder";
      return e;
    }
    if (dynamic_cast<ExpParser::RestExprContext *>(ctx))
      return make(K::Rest, ctx);
    if (auto *c = dynamic_cast<ExpParser::NameExprContext *>(ctx)) {
      auto e = make(K::Name, c);
      e->text = c->ID()->getText();
      return e;
    }
    // badNumberExpr / badStringExpr: already reported from the token stream.
    auto e = make(K::Number, ctx);
    e->isInteger = true;
    return e;
  }

  ast::ExprPtr binary(antlr4::ParserRuleContext *ctx, std::string op,
                      ExpParser::ExprContext *l, ExpParser::ExprContext *r) {
    auto e = make(ast::ExprKind::Binary, ctx);
    e->text = std::move(op);
    e->operands.push_back(buildExpr(l));
    e->operands.push_back(buildExpr(r));
    return e;
  }

  ast::ExprPtr number(ExpParser::NumberExprContext *c) {
    auto e = make(ast::ExprKind::Number, c);
    std::string text = c->NUMBER()->getText();
    bool isFloat = text.find_first_of(".eE") != std::string::npos;
    if (!isFloat) {
      int64_t v = 0;
      auto res = std::from_chars(text.data(), text.data() + text.size(), v);
      if (res.ec != std::errc()) {
        diags_.emit(diag::IntegerTooLarge, e->range, text);
        v = 0;
      }
      e->isInteger = true;
      e->integer = v;
      e->number = static_cast<double>(v);
      return e;
    }
    errno = 0;
    double v = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) {
      diags_.emit(diag::NumberOutOfRange, e->range, text);
      v = 0;
    }
    e->number = v;
    return e;
  }

  std::string unescape(antlr4::Token *t) {
    std::string raw = t->getText();
    std::string out;
    SourceRange r = range(t);
    for (size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out += raw[i];
        continue;
      }
      char c = raw[++i];
      switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '{': out += "{{"; break; // a literal brace in a template
      case '}': out += "}}"; break;
      default: {
        SourceRange at = r;
        at.beginCol = r.beginCol + codePoints(std::string_view(raw).substr(0, i - 1));
        at.endCol = at.beginCol + 2;
        diags_.emit(diag::InvalidEscape, at, std::string(1, c));
      }
      }
    }
    return out;
  }

  FileId file_;
  DiagnosticEngine &diags_;
  antlr4::CommonTokenStream &tokens_;
};

// Lexical error productions: tokens the grammar accepts so parsing can go on,
// but which are always mistakes.
void reportBadTokens(FileId file, antlr4::CommonTokenStream &tokens,
                     DiagnosticEngine &diags) {
  for (antlr4::Token *t : tokens.getTokens()) {
    SourceRange r = tokenRange(file, t);
    switch (t->getType()) {
    case ExpLexer::BAD_NUMBER:
      diags.emit(diag::BadNumberLiteral, r, t->getText());
      break;
    case ExpLexer::UNTERMINATED_STRING:
      diags.emit(diag::UnterminatedString, r);
      break;
    case ExpLexer::UNTERMINATED_COMMENT:
      r.endLine = r.beginLine;
      r.endCol = r.beginCol + 2;
      diags.emit(diag::UnterminatedComment, r);
      break;
    default:
      break;
    }
  }
}

// Validates, lexes and parses a buffer with every problem reported, then
// hands the parser and token stream to `build`, which runs one start rule
// (from the token `offset` bytes in) and builds the AST. Result: what `build`
// returned, or empty when anything was reported.
template <typename Result, typename Build>
Result recognise(FileId file, const SourceManager &sources, DiagnosticEngine &diags,
                 size_t offset, const char *what, Build &&build) {
  const std::string &text = sources.contents(file);
  if (!validateUtf8(file, text, diags) || !checkNesting(file, text, diags))
    return Result();
  unsigned before = diags.errorCount();
  try {
    antlr4::ANTLRInputStream input(text);
    ExpLexer lexer(&input);
    LexerErrors lexErrors(file, sources, diags);
    lexer.removeErrorListeners();
    lexer.addErrorListener(&lexErrors);
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    reportBadTokens(file, tokens, diags);
    if (!checkChains(file, tokens, diags))
      return Result();

    ExpParser parser(&tokens);
    size_t first = 0;
    while (first + 1 < tokens.size() && tokens.get(first)->getStartIndex() < offset)
      ++first;
    AstBuilder builder(file, diags, tokens);
    auto clean = [&] { return diags.errorCount() == before; };
    // Two-stage parsing, as ANTLR advises: SLL prediction, bailing out at
    // the first syntax error, is much faster than full LL and gives the same
    // tree whenever it succeeds; a file it rejects is parsed again with full
    // LL and the error listeners, which report every error.
    parser.removeErrorListeners();
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
    tokens.seek(first);
    try {
      Result r = build(parser, builder, clean);
      return clean() ? std::move(r) : Result();
    } catch (const antlr4::ParseCancellationException &) {
    }
    parser.reset();
    parser.setErrorHandler(std::make_shared<antlr4::DefaultErrorStrategy>());
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::LL);
    ParserErrors parseErrors(file, diags);
    parser.addErrorListener(&parseErrors);
    tokens.seek(first);
    Result r = build(parser, builder, clean);
    return clean() ? std::move(r) : Result();
  } catch (const std::exception &e) {
    // The ANTLR runtime should not throw past its error strategy; if it ever
    // does, report it against the file rather than crash.
    diags.emit(diag::SyntaxError, SourceRange{file, 1, 1, 1, 2}, what,
               std::string("input the parser rejected: ") + e.what());
    return Result();
  }
}

} // namespace

std::optional<ast::Module> parseFile(FileId file, const SourceManager &sources,
                                     DiagnosticEngine &diags) {
  return recognise<std::optional<ast::Module>>(
      file, sources, diags, 0, "a well-formed file",
      [](ExpParser &parser, AstBuilder &builder, auto clean) -> std::optional<ast::Module> {
        ExpParser::FileContext *tree = parser.file();
        if (!clean() || !checkTreeDepth(builder.file(), tree, builder.diagnostics()))
          return std::nullopt; // the tree is incomplete, or too deep to walk
        return builder.build(tree);
      });
}

ast::ExprPtr parseExpression(FileId file, const SourceManager &sources, DiagnosticEngine &diags,
                             size_t offset) {
  return recognise<ast::ExprPtr>(
      file, sources, diags, offset, "an expression",
      [](ExpParser &parser, AstBuilder &builder, auto clean) -> ast::ExprPtr {
        ExpParser::ExprOnlyContext *tree = parser.exprOnly();
        if (!clean() || !checkTreeDepth(builder.file(), tree, builder.diagnostics()))
          return nullptr;
        return builder.expression(tree->expr());
      });
}

} // namespace expc
