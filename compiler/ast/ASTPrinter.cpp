#include "ast/ASTPrinter.h"

#include "basic/SourceManager.h"

#include <llvm/Support/Casting.h>

#include <fmt/format.h>

namespace fedc::ast {

using llvm::cast;

namespace {

std::string formatDims(const std::vector<Dim> &dims) {
  if (dims.empty())
    return "";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += ", ";
    switch (dims[i].kind) {
    case Dim::Kind::Literal:
      s += std::to_string(dims[i].value);
      break;
    case Dim::Kind::Named:
      s += dims[i].name;
      break;
    case Dim::Kind::Dynamic:
      s += "?";
      break;
    }
  }
  return s + "]";
}

class ASTPrinter {
public:
  ASTPrinter(const SourceManager &sm, std::ostream &out) : sm_(sm), out_(out) {}

  void module(const Module &m) {
    out_ << "Module " << m.filename << "\n";
    ++depth_;
    for (const DeclPtr &d : m.decls)
      decl(*d);
    --depth_;
  }

private:
  std::string where(SourceRange r) {
    PresumedLoc b = sm_.presumed(r.begin);
    if (!r.end.isValid() || r.end.raw() <= r.begin.raw())
      return fmt::format("<{}:{}>", b.line, b.column);
    // The end is printed inclusive: the column of the range's last byte.
    PresumedLoc e = sm_.presumed(SourceLoc::fromRaw(r.end.raw() - 1));
    if (e.line == b.line && e.column == b.column)
      return fmt::format("<{}:{}>", b.line, b.column);
    if (e.line == b.line)
      return fmt::format("<{}:{}-{}>", b.line, b.column, e.column);
    return fmt::format("<{}:{}-{}:{}>", b.line, b.column, e.line, e.column);
  }

  // Starts a line: indentation, node name and location.
  std::ostream &line(const char *what, SourceRange r) {
    out_ << std::string(2 * size_t{depth_}, ' ') << what << ' ' << where(r);
    return out_;
  }

  struct Nest {
    explicit Nest(ASTPrinter &p) : p(p) { ++p.depth_; }
    ~Nest() { --p.depth_; }
    ASTPrinter &p;
  };

  void decl(const Decl &d) {
    switch (d.kind()) {
    case Decl::Kind::Import: {
      const auto &i = cast<ImportDecl>(d);
      line("ImportDecl", d.range()) << ' ';
      if (i.file) {
        out_ << '"' << *i.file << '"';
      } else {
        for (size_t k = 0; k < i.path.size(); ++k)
          out_ << (k ? "." : "") << i.path[k].name;
      }
      out_ << "\n";
      break;
    }
    case Decl::Kind::Const: {
      const auto &c = cast<ConstDecl>(d);
      line("ConstDecl", d.range()) << ' ' << c.name.name;
      if (c.type)
        out_ << ": " << formatType(*c.type);
      out_ << "\n";
      Nest n(*this);
      expr(*c.value);
      break;
    }
    case Decl::Kind::Struct: {
      const auto &s = cast<StructDecl>(d);
      line("StructDecl", d.range()) << ' ' << s.name.name << "\n";
      Nest n(*this);
      for (const FieldDecl &f : s.fields)
        line("Field", f.name.range)
            << ' ' << f.name.name << ": " << formatType(*f.type) << "\n";
      break;
    }
    case Decl::Kind::Fn: {
      const auto &f = cast<FnDecl>(d);
      line(f.isFederated ? "FederatedFnDecl" : "FnDecl", d.range())
          << ' ' << f.name.name;
      if (!f.genericParams.empty()) {
        out_ << '<';
        for (size_t k = 0; k < f.genericParams.size(); ++k)
          out_ << (k ? ", " : "") << f.genericParams[k].name;
        out_ << '>';
      }
      out_ << " -> " << (f.result ? formatType(*f.result) : "()") << "\n";
      Nest n(*this);
      for (const Param &p : f.params)
        line("Param", p.name.range)
            << ' ' << p.name.name << ": " << formatType(*p.type) << "\n";
      stmt(*f.body);
      break;
    }
    case Decl::Kind::Process: {
      const auto &p = cast<ProcessDecl>(d);
      line("ProcessDecl", d.range()) << ' ' << p.name.name << "\n";
      Nest n(*this);
      for (const ProcessEntry &e : p.entries)
        line("Entry", e.key.range)
            << ' ' << e.key.name << " = " << e.value.name << "\n";
      break;
    }
    }
  }

  void block(const BlockStmt &b) { stmt(b); }

  void stmt(const Stmt &s) {
    switch (s.kind()) {
    case Stmt::Kind::Block: {
      line("Block", s.range()) << "\n";
      Nest n(*this);
      for (const StmtPtr &c : cast<BlockStmt>(s).body)
        stmt(*c);
      break;
    }
    case Stmt::Kind::Let: {
      const auto &l = cast<LetStmt>(s);
      line(l.isMutable ? "VarStmt" : "LetStmt", s.range())
          << ' ' << l.name.name;
      if (l.type)
        out_ << ": " << formatType(*l.type);
      out_ << "\n";
      Nest n(*this);
      expr(*l.init);
      break;
    }
    case Stmt::Kind::Assign: {
      const auto &a = cast<AssignStmt>(s);
      line("AssignStmt", s.range()) << " '" << assignOpSpelling(a.op) << "'\n";
      Nest n(*this);
      expr(*a.target);
      expr(*a.value);
      break;
    }
    case Stmt::Kind::If:
      ifStmt(cast<IfStmt>(s));
      break;
    case Stmt::Kind::ForRange: {
      const auto &f = cast<ForRangeStmt>(s);
      line("ForRangeStmt", s.range()) << ' ' << f.var.name << "\n";
      Nest n(*this);
      expr(*f.lo);
      expr(*f.hi);
      block(*f.body);
      break;
    }
    case Stmt::Kind::ForEach: {
      const auto &f = cast<ForEachStmt>(s);
      line("ForEachStmt", s.range()) << ' ' << f.var.name << "\n";
      Nest n(*this);
      expr(*f.iterable);
      block(*f.body);
      break;
    }
    case Stmt::Kind::While: {
      const auto &w = cast<WhileStmt>(s);
      line("WhileStmt", s.range()) << "\n";
      Nest n(*this);
      expr(*w.condition);
      block(*w.body);
      break;
    }
    case Stmt::Kind::Return: {
      const auto &r = cast<ReturnStmt>(s);
      line("ReturnStmt", s.range()) << "\n";
      Nest n(*this);
      if (r.value)
        expr(*r.value);
      break;
    }
    case Stmt::Kind::Expr:
      line("ExprStmt", s.range()) << "\n";
      Nest n(*this);
      expr(*cast<ExprStmt>(s).expr);
      break;
    }
  }

  void ifStmt(const IfStmt &i) {
    line("IfStmt", i.range()) << "\n";
    Nest n(*this);
    for (const IfStmt::Branch &b : i.branches) {
      expr(*b.condition);
      block(*b.body);
    }
    if (i.elseBody) {
      line("Else", i.elseBody->range()) << "\n";
      Nest e(*this);
      block(*i.elseBody);
    }
  }

  void call(const CallExpr &c) {
    line("Call", c.range());
    if (!c.typeArgs.empty()) {
      out_ << " <";
      for (size_t k = 0; k < c.typeArgs.size(); ++k)
        out_ << (k ? ", " : "") << formatType(*c.typeArgs[k]);
      out_ << '>';
    }
    out_ << "\n";
    Nest n(*this);
    expr(*c.callee);
    for (const Arg &a : c.args) {
      if (a.name) {
        line("NamedArg", a.name->range) << ' ' << a.name->name << "\n";
        Nest na(*this);
        expr(*a.value);
      } else {
        expr(*a.value);
      }
    }
  }

  void structLiteral(const StructLiteralExpr &s) {
    line("StructLiteral", s.range()) << ' ' << s.type.name << "\n";
    Nest n(*this);
    for (const FieldInit &f : s.fields) {
      line("FieldInit", f.name.range) << ' ' << f.name.name << "\n";
      Nest fi(*this);
      expr(*f.value);
    }
  }

  // A literal or a name: one line, no children.
  void leaf(const Expr &e) {
    switch (e.kind()) {
    case Expr::Kind::IntLiteral:
      line("IntLiteral", e.range())
          << ' ' << cast<IntLiteralExpr>(e).value << "\n";
      break;
    case Expr::Kind::FloatLiteral:
      line("FloatLiteral", e.range())
          << ' ' << cast<FloatLiteralExpr>(e).spelling << "\n";
      break;
    case Expr::Kind::BoolLiteral:
      line("BoolLiteral", e.range())
          << ' ' << (cast<BoolLiteralExpr>(e).value ? "true" : "false") << "\n";
      break;
    case Expr::Kind::Name:
      line("Name", e.range()) << ' ' << cast<NameExpr>(e).name << "\n";
      break;
    case Expr::Kind::StringLiteral:
      line("StringLiteral", e.range())
          << " \"" << cast<StringLiteralExpr>(e).value << "\"\n";
      break;
    case Expr::Kind::PlacementLiteral:
      line("Placement", e.range())
          << ' ' << placementName(cast<PlacementLiteralExpr>(e).placement)
          << "\n";
      break;
    default:
      break;
    }
  }

  void expr(const Expr &e) {
    switch (e.kind()) {
    case Expr::Kind::IntLiteral:
    case Expr::Kind::FloatLiteral:
    case Expr::Kind::BoolLiteral:
    case Expr::Kind::Name:
    case Expr::Kind::StringLiteral:
    case Expr::Kind::PlacementLiteral:
      leaf(e);
      break;
    case Expr::Kind::Unary: {
      const auto &u = cast<UnaryExpr>(e);
      line("Unary", e.range()) << " '" << unaryOpSpelling(u.op) << "'\n";
      Nest n(*this);
      expr(*u.operand);
      break;
    }
    case Expr::Kind::Binary: {
      const auto &b = cast<BinaryExpr>(e);
      line("Binary", e.range()) << " '" << binaryOpSpelling(b.op) << "'\n";
      Nest n(*this);
      expr(*b.lhs);
      expr(*b.rhs);
      break;
    }
    case Expr::Kind::Call:
      call(cast<CallExpr>(e));
      break;
    case Expr::Kind::Cast: {
      const auto &c = cast<CastExpr>(e);
      line("Cast", e.range()) << ' ' << scalarName(c.target) << "\n";
      Nest n(*this);
      expr(*c.operand);
      break;
    }
    case Expr::Kind::Index: {
      const auto &i = cast<IndexExpr>(e);
      line("Index", e.range()) << "\n";
      Nest n(*this);
      expr(*i.base);
      for (const ExprPtr &x : i.indices)
        expr(*x);
      break;
    }
    case Expr::Kind::Member: {
      const auto &m = cast<MemberExpr>(e);
      line(m.tupleIndex ? "TupleElement" : "Member", e.range())
          << ' ' << m.member.name << "\n";
      Nest n(*this);
      expr(*m.base);
      break;
    }
    case Expr::Kind::StructLiteral:
      structLiteral(cast<StructLiteralExpr>(e));
      break;
    case Expr::Kind::Tuple: {
      const auto &t = cast<TupleExpr>(e);
      line("Tuple", e.range()) << "\n";
      Nest n(*this);
      for (const ExprPtr &x : t.elements)
        expr(*x);
      break;
    }
    case Expr::Kind::Error:
      line("ErrorExpr", e.range()) << "\n";
      break;
    }
  }

  const SourceManager &sm_;
  std::ostream &out_;
  unsigned depth_ = 0;
};

} // namespace

std::string formatType(const TypeExpr &type) {
  switch (type.kind()) {
  case TypeExpr::Kind::Tensor: {
    const auto &t = cast<TensorTypeExpr>(type);
    return scalarName(t.element) + formatDims(t.dims);
  }
  case TypeExpr::Kind::Named: {
    const auto &t = cast<NamedTypeExpr>(type);
    return t.name + formatDims(t.dims);
  }
  case TypeExpr::Kind::Seq:
    return "seq<" + formatType(*cast<SeqTypeExpr>(type).element) + ">";
  case TypeExpr::Kind::Tuple: {
    const auto &t = cast<TupleTypeExpr>(type);
    std::string s = "(";
    for (size_t i = 0; i < t.elements.size(); ++i)
      s += (i ? ", " : "") + formatType(*t.elements[i]);
    if (t.elements.size() == 1)
      s += ",";
    return s + ")";
  }
  case TypeExpr::Kind::Function: {
    const auto &t = cast<FunctionTypeExpr>(type);
    std::string s = "fn(";
    for (size_t i = 0; i < t.params.size(); ++i)
      s += (i ? ", " : "") + formatType(*t.params[i]);
    return s + ") -> " + formatType(*t.result);
  }
  case TypeExpr::Kind::Placed: {
    const auto &t = cast<PlacedTypeExpr>(type);
    std::string member = formatType(*t.member);
    if (t.allEqual)
      return member + "@" + placementName(t.placement);
    return "{" + member + "}@" + placementName(t.placement);
  }
  }
  return "?";
}

void printModule(const Module &module, const SourceManager &sm,
                 std::ostream &out) {
  ASTPrinter(sm, out).module(module);
}

} // namespace fedc::ast
