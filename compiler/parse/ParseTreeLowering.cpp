#include "parse/ParseTreeLowering.h"

#include "FedParser.h"
#include "basic/StackGuard.h"
#include "parse/Lexing.h"

#include <charconv>
#include <cstdlib>

namespace fedc::parse {

using namespace fedc::ast;
using P = gen::FedParser;

namespace {

class ParseTreeLowering {
public:
  ParseTreeLowering(const SourceManager &sm, FileId file,
                    DiagnosticEngine &diags)
      : sm_(sm), file_(file), diags_(diags), source_(sm.text(file)) {}

  std::unique_ptr<Module> module(P::ModuleContext *ctx) {
    auto m = std::make_unique<Module>();
    m->filename = std::string(sm_.filename(file_));
    m->range = range(ctx);
    for (P::DeclContext *d : ctx->decl())
      if (DeclPtr decl = this->decl(d))
        m->decls.push_back(std::move(decl));
    return m;
  }

private:
  // Tracks recursion so hostile nesting ends in a diagnostic, not a crash.
  struct DepthScope {
    DepthScope(ParseTreeLowering &l, antlr4::ParserRuleContext *ctx) : l(l) {
      if (++l.depth_ > kMaxAstDepth || l.stack_.exhausted())
        throw NestingLimitReached{l.loc(ctx->getStart())};
    }
    ~DepthScope() { --l.depth_; }
    ParseTreeLowering &l;
  };

  // --- locations -----------------------------------------------------------

  SourceLoc loc(antlr4::Token *t) { return tokenLoc(sm_, file_, t); }
  SourceRange range(antlr4::Token *t) { return tokenRange(sm_, file_, t); }
  SourceRange range(antlr4::tree::TerminalNode *n) {
    return range(n->getSymbol());
  }
  SourceRange range(antlr4::ParserRuleContext *ctx) {
    antlr4::Token *start = ctx->getStart();
    antlr4::Token *stop = ctx->getStop();
    SourceRange r = range(start);
    if (stop && stop->getStartIndex() != INVALID_INDEX &&
        stop->getStopIndex() >= start->getStartIndex())
      r.end = range(stop).end;
    return r;
  }
  std::string text(antlr4::Token *t) {
    return std::string(tokenText(source_, t));
  }
  Ident ident(antlr4::tree::TerminalNode *n) {
    return Ident{text(n->getSymbol()), range(n)};
  }

  // --- declarations --------------------------------------------------------

  DeclPtr decl(P::DeclContext *ctx) {
    if (auto *c = ctx->importDecl())
      return importDecl(c);
    if (auto *c = ctx->constDecl())
      return std::make_unique<ConstDecl>(range(c), ident(c->IDENT()),
                                         c->type() ? type(c->type()) : nullptr,
                                         expr(c->expr()));
    if (auto *c = ctx->structDecl())
      return structDecl(c);
    if (auto *c = ctx->fnDecl())
      return fnDecl(c);
    if (auto *c = ctx->processDecl())
      return processDecl(c);
    return nullptr;
  }

  DeclPtr importDecl(P::ImportDeclContext *ctx) {
    std::vector<Ident> path;
    std::optional<std::string> file;
    if (auto *mp = ctx->modulePath()) {
      for (auto *id : mp->IDENT())
        path.push_back(ident(id));
    } else if (auto *s = ctx->STRING()) {
      std::string quoted = text(s->getSymbol());
      file = quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : "";
    }
    return std::make_unique<ImportDecl>(range(ctx), std::move(path),
                                        std::move(file));
  }

  DeclPtr structDecl(P::StructDeclContext *ctx) {
    std::vector<FieldDecl> fields;
    for (auto *f : ctx->fieldDecl())
      fields.push_back(FieldDecl{ident(f->IDENT()), type(f->type())});
    return std::make_unique<StructDecl>(range(ctx), ident(ctx->IDENT()),
                                        std::move(fields));
  }

  DeclPtr fnDecl(P::FnDeclContext *ctx) {
    std::vector<Ident> generics;
    if (auto *g = ctx->genericParams())
      for (auto *id : g->IDENT())
        generics.push_back(ident(id));
    std::vector<Param> params;
    if (auto *pl = ctx->paramList())
      for (auto *p : pl->param())
        params.push_back(Param{ident(p->IDENT()), type(p->type())});
    TypePtr result = ctx->type() ? type(ctx->type()) : nullptr;
    return std::make_unique<FnDecl>(range(ctx), ctx->KW_FEDERATED() != nullptr,
                                    ident(ctx->IDENT()), std::move(generics),
                                    std::move(params), std::move(result),
                                    block(ctx->block()));
  }

  DeclPtr processDecl(P::ProcessDeclContext *ctx) {
    std::vector<ProcessEntry> entries;
    for (auto *e : ctx->processEntry())
      entries.push_back(ProcessEntry{ident(e->IDENT(0)), ident(e->IDENT(1))});
    return std::make_unique<ProcessDecl>(range(ctx), ident(ctx->IDENT()),
                                         std::move(entries));
  }

  // --- statements ----------------------------------------------------------

  BlockPtr block(P::BlockContext *ctx) {
    DepthScope depth(*this, ctx);
    std::vector<StmtPtr> body;
    for (auto *s : ctx->stmt())
      body.push_back(stmt(s));
    return std::make_unique<BlockStmt>(range(ctx), std::move(body));
  }

  StmtPtr stmt(P::StmtContext *ctx) {
    DepthScope depth(*this, ctx);
    SourceRange r = range(ctx);
    if (auto *c = dynamic_cast<P::LetStmtContext *>(ctx))
      return std::make_unique<LetStmt>(
          r, c->KW_VAR() != nullptr, ident(c->IDENT()),
          c->type() ? type(c->type()) : nullptr, expr(c->expr()));
    if (auto *c = dynamic_cast<P::AssignStmtContext *>(ctx))
      return std::make_unique<AssignStmt>(r, assignOp(c->op), expr(c->expr(0)),
                                          expr(c->expr(1)));
    if (auto *c = dynamic_cast<P::IfStmtContext *>(ctx))
      return ifStmt(c);
    if (auto *c = dynamic_cast<P::ForRangeStmtContext *>(ctx))
      return std::make_unique<ForRangeStmt>(r, ident(c->IDENT()),
                                            expr(c->expr(0)), expr(c->expr(1)),
                                            block(c->block()));
    if (auto *c = dynamic_cast<P::ForEachStmtContext *>(ctx))
      return std::make_unique<ForEachStmt>(r, ident(c->IDENT()),
                                           expr(c->expr()), block(c->block()));
    if (auto *c = dynamic_cast<P::WhileStmtContext *>(ctx))
      return std::make_unique<WhileStmt>(r, expr(c->expr()), block(c->block()));
    if (auto *c = dynamic_cast<P::ReturnStmtContext *>(ctx))
      return std::make_unique<ReturnStmt>(r, c->expr() ? expr(c->expr())
                                                       : nullptr);
    if (auto *c = dynamic_cast<P::BlockStmtContext *>(ctx))
      return block(c->block());
    auto *c = dynamic_cast<P::ExprStmtContext *>(ctx);
    return std::make_unique<ExprStmt>(r, c ? expr(c->expr())
                                           : std::make_unique<ErrorExpr>(r));
  }

  StmtPtr ifStmt(P::IfStmtContext *ctx) {
    std::vector<P::ExprContext *> conditions = ctx->expr();
    std::vector<P::BlockContext *> blocks = ctx->block();
    std::vector<IfStmt::Branch> branches;
    for (size_t i = 0; i < conditions.size(); ++i)
      branches.push_back({expr(conditions[i]), block(blocks[i])});
    BlockPtr elseBody;
    if (blocks.size() > conditions.size())
      elseBody = block(blocks.back());
    return std::make_unique<IfStmt>(range(ctx), std::move(branches),
                                    std::move(elseBody));
  }

  static AssignOp assignOp(antlr4::Token *op) {
    switch (op->getType()) {
    case P::PLUS_ASSIGN:
      return AssignOp::Add;
    case P::MINUS_ASSIGN:
      return AssignOp::Sub;
    case P::STAR_ASSIGN:
      return AssignOp::Mul;
    case P::SLASH_ASSIGN:
      return AssignOp::Div;
    default:
      return AssignOp::Assign;
    }
  }

  // --- expressions ---------------------------------------------------------

  ExprPtr expr(P::ExprContext *ctx) {
    DepthScope depth(*this, ctx);
    SourceRange r = range(ctx);
    if (auto *c = dynamic_cast<P::PrimaryExprContext *>(ctx))
      return primary(c->primary());
    if (auto *c = dynamic_cast<P::BinaryExprContext *>(ctx))
      return std::make_unique<BinaryExpr>(r, binaryOp(c->op), loc(c->op),
                                          expr(c->expr(0)), expr(c->expr(1)));
    if (auto *c = dynamic_cast<P::UnaryExprContext *>(ctx)) {
      UnaryOp op = c->op->getType() == P::MINUS ? UnaryOp::Neg
                   : c->op->getType() == P::NOT ? UnaryOp::Not
                                                : UnaryOp::Plus;
      return std::make_unique<UnaryExpr>(r, op, expr(c->expr()));
    }
    if (auto *c = dynamic_cast<P::CallExprContext *>(ctx))
      return std::make_unique<CallExpr>(
          r, expr(c->expr()), std::vector<TypePtr>{}, args(c->argList()));
    if (auto *c = dynamic_cast<P::IndexExprContext *>(ctx)) {
      std::vector<ExprPtr> indices;
      for (auto *e : c->exprList()->expr())
        indices.push_back(expr(e));
      return std::make_unique<IndexExpr>(r, expr(c->expr()),
                                         std::move(indices));
    }
    if (auto *c = dynamic_cast<P::MemberExprContext *>(ctx))
      return member(c);
    return std::make_unique<ErrorExpr>(r);
  }

  // `t.0.1` lexes as `t`, `.`, FLOAT `0.1`; it is two tuple accesses.
  ExprPtr member(P::MemberExprContext *ctx) {
    ExprPtr base = expr(ctx->expr());
    antlr4::Token *m = ctx->member;
    SourceRange mr = range(m);
    std::string spelling = text(m);
    if (m->getType() == P::IDENT)
      return std::make_unique<MemberExpr>(range(ctx), std::move(base),
                                          Ident{spelling, mr}, std::nullopt);
    std::vector<std::string> parts;
    size_t dot = spelling.find('.');
    if (m->getType() == P::INT) {
      parts.push_back(spelling);
    } else if (dot != std::string::npos &&
               spelling.find_first_not_of("0123456789.") == std::string::npos) {
      parts.push_back(spelling.substr(0, dot));
      parts.push_back(spelling.substr(dot + 1));
    }
    unsigned value = 0;
    bool valid = !parts.empty();
    for (const std::string &p : parts) {
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
      valid = valid && ec == std::errc() && ptr == p.data() + p.size();
    }
    if (!valid) {
      diags_.report(mr, DiagId::InvalidMemberAccess).arg(spelling);
      return std::make_unique<ErrorExpr>(range(ctx));
    }
    SourceLoc partBegin = mr.begin;
    SourceRange whole = range(ctx);
    for (const std::string &p : parts) {
      unsigned index = 0;
      std::from_chars(p.data(), p.data() + p.size(), index);
      SourceRange pr(partBegin,
                     partBegin.advanced(static_cast<uint32_t>(p.size())));
      SourceRange er(whole.begin, pr.end);
      base = std::make_unique<MemberExpr>(er, std::move(base), Ident{p, pr},
                                          index);
      partBegin = pr.end.advanced(1);
    }
    return base;
  }

  static BinaryOp binaryOp(antlr4::Token *op) {
    switch (op->getType()) {
    case P::STAR:
      return BinaryOp::Mul;
    case P::SLASH:
      return BinaryOp::Div;
    case P::PERCENT:
      return BinaryOp::Rem;
    case P::AT:
      return BinaryOp::MatMul;
    case P::PLUS:
      return BinaryOp::Add;
    case P::MINUS:
      return BinaryOp::Sub;
    case P::LT:
      return BinaryOp::Lt;
    case P::LE:
      return BinaryOp::Le;
    case P::GT:
      return BinaryOp::Gt;
    case P::GE:
      return BinaryOp::Ge;
    case P::EQ:
      return BinaryOp::Eq;
    case P::NE:
      return BinaryOp::Ne;
    case P::AND:
      return BinaryOp::And;
    default:
      return BinaryOp::Or;
    }
  }

  std::vector<Arg> args(P::ArgListContext *ctx) {
    std::vector<Arg> result;
    if (!ctx)
      return result;
    for (auto *a : ctx->arg()) {
      Arg arg;
      if (a->IDENT())
        arg.name = ident(a->IDENT());
      if (antlr4::tree::TerminalNode *s = a->STRING()) {
        std::string quoted = s->getText();
        arg.value = std::make_unique<StringLiteralExpr>(
            range(s->getSymbol()), quoted.substr(1, quoted.size() - 2));
      } else {
        arg.value = expr(a->expr());
      }
      result.push_back(std::move(arg));
    }
    return result;
  }

  ExprPtr primary(P::PrimaryContext *ctx) {
    DepthScope depth(*this, ctx);
    SourceRange r = range(ctx);
    if (auto *c = dynamic_cast<P::NameExprContext *>(ctx))
      return std::make_unique<NameExpr>(r, text(c->IDENT()->getSymbol()));
    if (auto *c = dynamic_cast<P::IntLiteralExprContext *>(ctx))
      return std::make_unique<IntLiteralExpr>(r, integer(c->INT()));
    if (auto *c = dynamic_cast<P::FloatLiteralExprContext *>(ctx))
      return floatLiteral(c->FLOAT());
    if (auto *c = dynamic_cast<P::BoolLiteralExprContext *>(ctx))
      return std::make_unique<BoolLiteralExpr>(r, c->KW_TRUE() != nullptr);
    if (auto *c = dynamic_cast<P::PlacementExprContext *>(ctx))
      return std::make_unique<PlacementLiteralExpr>(
          r, c->KW_SERVER() ? Placement::Server : Placement::Clients);
    if (auto *c = dynamic_cast<P::GenericCallExprContext *>(ctx)) {
      std::vector<TypePtr> typeArgs;
      for (auto *t : c->typeArgs()->type())
        typeArgs.push_back(type(t));
      auto callee = std::make_unique<NameExpr>(range(c->IDENT()),
                                               text(c->IDENT()->getSymbol()));
      return std::make_unique<CallExpr>(
          r, std::move(callee), std::move(typeArgs), args(c->argList()));
    }
    if (auto *c = dynamic_cast<P::CastExprContext *>(ctx))
      return std::make_unique<CastExpr>(r, scalar(c->scalarType()),
                                        expr(c->expr()));
    if (auto *c = dynamic_cast<P::StructLiteralExprContext *>(ctx)) {
      std::vector<FieldInit> fields;
      for (auto *f : c->fieldInit())
        fields.push_back(FieldInit{ident(f->IDENT()), expr(f->expr())});
      return std::make_unique<StructLiteralExpr>(r, ident(c->IDENT()),
                                                 std::move(fields));
    }
    if (dynamic_cast<P::UnitExprContext *>(ctx))
      return std::make_unique<TupleExpr>(r, std::vector<ExprPtr>{});
    if (auto *c = dynamic_cast<P::ParenExprContext *>(ctx)) {
      ExprPtr inner = expr(c->expr());
      inner->setRange(r); // diagnostics underline the parentheses too
      return inner;
    }
    if (auto *c = dynamic_cast<P::TupleExprContext *>(ctx)) {
      std::vector<ExprPtr> elements;
      for (auto *e : c->expr())
        elements.push_back(expr(e));
      return std::make_unique<TupleExpr>(r, std::move(elements));
    }
    return std::make_unique<ErrorExpr>(r);
  }

  int64_t integer(antlr4::tree::TerminalNode *n) {
    std::string s = text(n->getSymbol());
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      diags_.report(range(n), DiagId::IntegerLiteralTooLarge).arg(s);
      return 0;
    }
    return value;
  }

  ExprPtr floatLiteral(antlr4::tree::TerminalNode *n) {
    std::string spelling = text(n->getSymbol());
    std::string digits = spelling;
    if (!digits.empty() && digits.back() == 'f')
      digits.pop_back();
    // strtod saturates to infinity on overflow; sema checks the range
    // against the literal's type.
    double value = std::strtod(digits.c_str(), nullptr);
    return std::make_unique<FloatLiteralExpr>(range(n), value, spelling);
  }

  // --- types ---------------------------------------------------------------

  // By the element table: the grammar's SCALAR_TYPE spells its names.
  static ScalarKind scalar(P::ScalarTypeContext *ctx) {
    return fedrt::elementNamed(ctx->SCALAR_TYPE()->getText())
        .value_or(ScalarKind::F32);
  }

  std::vector<Dim> dims(P::DimsContext *ctx) {
    std::vector<Dim> result;
    if (!ctx)
      return result;
    for (auto *d : ctx->dim()) {
      Dim dim;
      dim.range = range(d);
      if (d->INT()) {
        dim.kind = Dim::Kind::Literal;
        dim.value = integer(d->INT());
      } else if (d->IDENT()) {
        dim.kind = Dim::Kind::Named;
        dim.name = text(d->IDENT()->getSymbol());
      } else {
        dim.kind = Dim::Kind::Dynamic;
      }
      result.push_back(std::move(dim));
    }
    return result;
  }

  TypePtr type(P::TypeContext *ctx) {
    DepthScope depth(*this, ctx);
    SourceRange r = range(ctx);
    if (auto *c = dynamic_cast<P::TensorTypeContext *>(ctx))
      return std::make_unique<TensorTypeExpr>(r, scalar(c->scalarType()),
                                              dims(c->dims()));
    if (auto *c = dynamic_cast<P::NamedTypeContext *>(ctx))
      return std::make_unique<NamedTypeExpr>(r, text(c->IDENT()->getSymbol()),
                                             dims(c->dims()));
    if (auto *c = dynamic_cast<P::SeqTypeContext *>(ctx))
      return std::make_unique<SeqTypeExpr>(r, type(c->type()));
    if (dynamic_cast<P::UnitTypeContext *>(ctx))
      return std::make_unique<TupleTypeExpr>(r, std::vector<TypePtr>{});
    if (auto *c = dynamic_cast<P::ParenTypeContext *>(ctx))
      return type(c->type());
    if (auto *c = dynamic_cast<P::TupleTypeContext *>(ctx)) {
      std::vector<TypePtr> elements;
      for (auto *t : c->type())
        elements.push_back(type(t));
      return std::make_unique<TupleTypeExpr>(r, std::move(elements));
    }
    if (auto *c = dynamic_cast<P::FunctionTypeContext *>(ctx)) {
      std::vector<P::TypeContext *> all = c->type();
      std::vector<TypePtr> params;
      for (size_t i = 0; i + 1 < all.size(); ++i)
        params.push_back(type(all[i]));
      return std::make_unique<FunctionTypeExpr>(r, std::move(params),
                                                type(all.back()));
    }
    if (auto *c = dynamic_cast<P::PlacedTypeContext *>(ctx))
      return std::make_unique<PlacedTypeExpr>(
          r, type(c->type()),
          c->placement->getType() == P::KW_SERVER ? Placement::Server
                                                  : Placement::Clients,
          /*allEqual=*/true);
    auto *c = dynamic_cast<P::GroupPlacedTypeContext *>(ctx);
    return std::make_unique<PlacedTypeExpr>(
        r, type(c->type()),
        c->placement->getType() == P::KW_SERVER ? Placement::Server
                                                : Placement::Clients,
        /*allEqual=*/false);
  }

  const SourceManager &sm_;
  FileId file_;
  DiagnosticEngine &diags_;
  std::string_view source_;
  StackGuard stack_;
  unsigned depth_ = 0;
};

} // namespace

std::unique_ptr<Module> lowerParseTree(P::ModuleContext *tree,
                                       const SourceManager &sm, FileId file,
                                       DiagnosticEngine &diags) {
  ParseTreeLowering lowering(sm, file, diags);
  return lowering.module(tree);
}

} // namespace fedc::parse
