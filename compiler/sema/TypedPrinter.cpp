// `fedc --emit=typed`: the typed program, one node per line with its type
// (and placement) and location.
#include "sema/Sema.h"

#include <llvm/Support/Casting.h>

#include <fmt/format.h>

namespace fedc {

using llvm::cast;
using namespace sema;

namespace {

class TypedPrinter {
public:
  // Without `sm`, locations are left out.
  TypedPrinter(const SourceManager *sm, std::ostream &out)
      : sm_(sm), out_(out) {}

  void constant(const Constant &c) {
    out_ << "Const " << c.name << " : " << formatType(c.type) << "\n";
    depth_ = 1;
    if (c.value)
      expr(*c.value);
    depth_ = 0;
  }

  void program(const Program &p) {
    for (const StructType *s : p.structs) {
      out_ << "Struct " << s->name << " {";
      for (size_t i = 0; i < s->fields.size(); ++i)
        out_ << (i ? ", " : " ") << s->fields[i].name << ": "
             << formatType(s->fields[i].type);
      out_ << " }\n";
    }
    for (const auto &c : p.constants)
      constant(*c);
    for (const auto &fn : p.functions)
      function(*fn);
    if (p.process) {
      const Process &pr = *p.process;
      out_ << "Process " << pr.name << " state "
           << (pr.state ? formatType(pr.state) : "?");
      if (pr.metrics)
        out_ << " metrics " << formatType(pr.metrics);
      out_ << ": init = " << (pr.init ? pr.init->name : "?")
           << ", next = " << (pr.next ? pr.next->name : "?");
      if (pr.eval)
        out_ << ", eval = " << pr.eval->name;
      out_ << "\n";
    }
    if (p.main)
      out_ << "Main " << p.main->name << "\n";
  }

private:
  std::string at(SourceRange r) {
    if (!sm_)
      return "";
    PresumedLoc b = sm_->presumed(r.begin);
    return fmt::format(" <{}:{}>", b.line, b.column);
  }
  std::ostream &line() {
    out_ << std::string(2 * size_t{depth_}, ' ');
    return out_;
  }
  struct Nest {
    explicit Nest(TypedPrinter &p) : p(p) { ++p.depth_; }
    ~Nest() { --p.depth_; }
    TypedPrinter &p;
  };

public:
  void function(const Function &fn) {
    out_ << (fn.isFederated ? "FederatedFn " : "Fn ") << fn.name << "(";
    for (size_t i = 0; i < fn.params.size(); ++i)
      out_ << (i ? ", " : "") << fn.params[i]->name << ": "
           << formatType(fn.params[i]->type);
    out_ << ") -> " << formatType(fn.result) << "\n";
    Nest n(*this);
    if (fn.body)
      stmt(*fn.body);
  }

private:
  void stmt(const Stmt &s) {
    switch (s.kind()) {
    case Stmt::Kind::Block: {
      line() << "Block\n";
      Nest n(*this);
      for (const StmtPtr &c : cast<BlockStmt>(s).body)
        stmt(*c);
      return;
    }
    case Stmt::Kind::Let: {
      const auto &l = cast<LetStmt>(s);
      line() << (l.local->isMutable ? "Var " : "Let ") << l.local->name << " : "
             << formatType(l.local->type) << "\n";
      Nest n(*this);
      expr(*l.init);
      return;
    }
    case Stmt::Kind::Assign: {
      const auto &a = cast<AssignStmt>(s);
      line() << "Assign '" << ast::assignOpSpelling(a.op) << "'\n";
      Nest n(*this);
      expr(*a.target);
      expr(*a.value);
      return;
    }
    case Stmt::Kind::If:
      ifStmt(cast<IfStmt>(s));
      return;
    case Stmt::Kind::ForRange: {
      const auto &f = cast<ForRangeStmt>(s);
      line() << "ForRange " << f.var->name << " : " << formatType(f.var->type)
             << "\n";
      Nest n(*this);
      expr(*f.lo);
      expr(*f.hi);
      stmt(*f.body);
      return;
    }
    case Stmt::Kind::ForEach: {
      const auto &f = cast<ForEachStmt>(s);
      line() << "ForEach " << f.var->name << " : " << formatType(f.var->type)
             << "\n";
      Nest n(*this);
      expr(*f.iterable);
      stmt(*f.body);
      return;
    }
    case Stmt::Kind::While: {
      const auto &w = cast<WhileStmt>(s);
      line() << "While\n";
      Nest n(*this);
      expr(*w.condition);
      stmt(*w.body);
      return;
    }
    case Stmt::Kind::Return: {
      line() << "Return\n";
      Nest n(*this);
      if (const auto &v = cast<ReturnStmt>(s).value)
        expr(*v);
      return;
    }
    case Stmt::Kind::Expr: {
      line() << "ExprStmt\n";
      Nest n(*this);
      expr(*cast<ExprStmt>(s).expr);
      return;
    }
    }
  }

  void ifStmt(const IfStmt &i) {
    line() << "If\n";
    Nest n(*this);
    for (const auto &[c, b] : i.branches) {
      expr(*c);
      stmt(*b);
    }
    if (i.elseBody) {
      line() << "Else\n";
      Nest e(*this);
      stmt(*i.elseBody);
    }
  }

  void expr(const Expr &e) {
    line() << label(e) << " : " << formatType(e.type) << at(e.range) << "\n";
    Nest n(*this);
    for (const Expr *c : children(e))
      expr(*c);
  }

  // What an expression is, without its type and operands: `Literal 1.0`,
  // `Builtin sum axis=0`, `Intrinsic federated_mean weighted`.
  static std::string label(const Expr &e) {
    switch (e.kind()) {
    case Expr::Kind::Literal:
      return "Literal " + literalValue(cast<LiteralExpr>(e));
    case Expr::Kind::LocalRef:
      return "Local " + cast<RefExpr>(e).local->name;
    case Expr::Kind::ConstRef:
      return "Const " + cast<RefExpr>(e).constant->name;
    case Expr::Kind::FunctionRef: {
      const auto &r = cast<RefExpr>(e);
      return "Function " +
             (r.function ? r.function->name : r.fnDecl->name.name);
    }
    case Expr::Kind::PlacementRef:
      return std::string("Placement ") +
             ast::placementName(cast<RefExpr>(e).placement);
    case Expr::Kind::Unary:
      return std::string("Unary '") +
             ast::unaryOpSpelling(cast<UnaryExpr>(e).op) + "'";
    case Expr::Kind::Binary:
      return std::string("Binary '") +
             ast::binaryOpSpelling(cast<BinaryExpr>(e).op) + "'";
    case Expr::Kind::Call:
      return "Call " + cast<CallExpr>(e).callee->name;
    case Expr::Kind::BuiltinCall: {
      const auto &c = cast<BuiltinCallExpr>(e);
      std::string what = std::string("Builtin ") + builtinName(c.builtin);
      if (c.typeArg)
        what += "<" + formatType(c.typeArg) + ">";
      if (c.axis)
        what += fmt::format(" axis={}", *c.axis);
      return what;
    }
    case Expr::Kind::IntrinsicCall: {
      const auto &c = cast<IntrinsicCallExpr>(e);
      std::string what = std::string("Intrinsic ") + intrinsicName(c.intrinsic);
      if (c.weighted)
        what += " weighted";
      if (c.intrinsic == Intrinsic::SecureMean)
        what += fmt::format(" range={} bits={}", c.secureRange, c.bitwidth);
      else if (c.bitwidth)
        what += fmt::format(" bitwidth={}", c.bitwidth);
      if (c.intrinsic == Intrinsic::DpMean)
        what +=
            fmt::format(" clip={} noise_multiplier={}{}", c.dp.clip,
                        c.dp.noiseMultiplier, c.dp.adaptive ? " adaptive" : "");
      return what;
    }
    case Expr::Kind::Cast:
      return "Cast";
    case Expr::Kind::Index:
      return "Index";
    case Expr::Kind::Member: {
      const auto &m = cast<MemberExpr>(e);
      return fmt::format("Member {} #{}", m.name, m.index);
    }
    case Expr::Kind::StructLiteral:
      return "StructLiteral";
    case Expr::Kind::TupleLiteral:
      return "TupleLiteral";
    case Expr::Kind::Error:
      return "Error";
    }
    return "?";
  }

  static std::string literalValue(const LiteralExpr &l) {
    const auto *t = cast<TensorType>(l.type);
    std::string value = t->isBool()    ? fmt::format("{}", l.boolValue)
                        : t->isFloat() ? fmt::format("{}", l.floatValue)
                                       : fmt::format("{}", l.intValue);
    if (t->isFloat() && value.find_first_of(".eni") == std::string::npos)
      value += ".0"; // 0.0, not 0
    return value;
  }

  static std::vector<const Expr *> children(const Expr &e) {
    std::vector<const Expr *> out;
    auto all = [&](const std::vector<ExprPtr> &xs) {
      for (const ExprPtr &x : xs)
        out.push_back(x.get());
    };
    switch (e.kind()) {
    case Expr::Kind::Unary:
      out = {cast<UnaryExpr>(e).operand.get()};
      break;
    case Expr::Kind::Binary:
      out = {cast<BinaryExpr>(e).lhs.get(), cast<BinaryExpr>(e).rhs.get()};
      break;
    case Expr::Kind::Call:
      all(cast<CallExpr>(e).args);
      break;
    case Expr::Kind::BuiltinCall:
      all(cast<BuiltinCallExpr>(e).args);
      break;
    case Expr::Kind::IntrinsicCall:
      all(cast<IntrinsicCallExpr>(e).args);
      break;
    case Expr::Kind::Cast:
      out = {cast<CastExpr>(e).operand.get()};
      break;
    case Expr::Kind::Index:
      out = {cast<IndexExpr>(e).base.get()};
      all(cast<IndexExpr>(e).indices);
      break;
    case Expr::Kind::Member:
      out = {cast<MemberExpr>(e).base.get()};
      break;
    case Expr::Kind::StructLiteral:
    case Expr::Kind::TupleLiteral:
      all(cast<AggregateExpr>(e).elements);
      break;
    default: // leaves
      break;
    }
    return out;
  }

  const SourceManager *sm_;
  std::ostream &out_;
  unsigned depth_ = 0;
};

} // namespace

void printProgram(const Program &program, const SourceManager &sm,
                  std::ostream &out) {
  TypedPrinter(&sm, out).program(program);
}

void printFunction(const Function &fn, const SourceManager *sm,
                   std::ostream &out) {
  TypedPrinter(sm, out).function(fn);
}

void printConstant(const Constant &c, const SourceManager *sm,
                   std::ostream &out) {
  TypedPrinter(sm, out).constant(c);
}

} // namespace fedc
