#include "parse/SyntaxErrorStrategy.h"

#include "FedParser.h"
#include "parse/Lexing.h"

#include <fmt/format.h>

namespace fedc::parse {

using antlr4::misc::IntervalSet;
using gen::FedParser;

namespace {

// What kind of construct an expected-token set stands for.
enum class Expectation { Declaration, Statement, Type, Expression, Tokens };

Expectation classify(const IntervalSet &expected) {
  auto has = [&](size_t t) { return expected.contains(t); };
  if (has(FedParser::KW_STRUCT) && has(FedParser::KW_FN) &&
      has(FedParser::KW_CONST))
    return Expectation::Declaration;
  if (has(FedParser::KW_LET) && has(FedParser::KW_RETURN))
    return Expectation::Statement;
  if (has(FedParser::INT) && has(FedParser::IDENT) && has(FedParser::LPAREN))
    return Expectation::Expression;
  if (has(FedParser::SCALAR_TYPE) && has(FedParser::KW_SEQ))
    return Expectation::Type;
  return Expectation::Tokens;
}

bool isKeyword(size_t type) {
  return type >= FedParser::KW_IMPORT && type <= FedParser::KW_SEQ;
}

// "';'", "')' or ','", "identifier, '(' or ':'".
std::string listTokens(const IntervalSet &expected) {
  std::vector<std::string> names;
  for (ssize_t t : expected.toList())
    names.push_back(describeTokenType(static_cast<size_t>(t)));
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i)
      s += i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

// " after statement" for a missing ';' at the end of a statement, etc.
std::string afterWhat(antlr4::ParserRuleContext *ctx) {
  if (!ctx)
    return "";
  switch (ctx->getRuleIndex()) {
  case FedParser::RuleStmt:
    return " after statement";
  case FedParser::RuleImportDecl:
    return " after import";
  case FedParser::RuleConstDecl:
    return " after constant declaration";
  case FedParser::RuleProcessEntry:
    return " after process entry";
  default:
    return "";
  }
}

// " in parameter list" and the like, for "unexpected X" messages.
std::string inWhat(antlr4::ParserRuleContext *ctx) {
  if (!ctx)
    return "";
  switch (ctx->getRuleIndex()) {
  case FedParser::RuleParamList:
  case FedParser::RuleParam:
    return " in parameter list";
  case FedParser::RuleArgList:
  case FedParser::RuleArg:
    return " in argument list";
  case FedParser::RuleStructDecl:
  case FedParser::RuleFieldDecl:
    return " in struct declaration";
  case FedParser::RuleType:
  case FedParser::RuleDims:
  case FedParser::RuleDim:
    return " in type";
  case FedParser::RuleExpr:
  case FedParser::RulePrimary:
    return " in expression";
  case FedParser::RuleGenericParams:
  case FedParser::RuleTypeArgs:
    return " in type argument list";
  default:
    return "";
  }
}

size_t closerFor(size_t opener) {
  switch (opener) {
  case FedParser::LPAREN:
    return FedParser::RPAREN;
  case FedParser::LBRACKET:
    return FedParser::RBRACKET;
  case FedParser::LBRACE:
    return FedParser::RBRACE;
  default:
    return antlr4::Token::INVALID_TYPE;
  }
}

size_t openerFor(size_t closer) {
  switch (closer) {
  case FedParser::RPAREN:
    return FedParser::LPAREN;
  case FedParser::RBRACKET:
    return FedParser::LBRACKET;
  case FedParser::RBRACE:
    return FedParser::LBRACE;
  default:
    return antlr4::Token::INVALID_TYPE;
  }
}

} // namespace

antlr4::Token *SyntaxErrorStrategy::openOpener(antlr4::Parser *parser,
                                               size_t closerType) {
  size_t openerType = openerFor(closerType);
  if (openerType == antlr4::Token::INVALID_TYPE)
    return nullptr;
  antlr4::TokenStream *tokens = parser->getTokenStream();
  size_t index = tokens->index();
  // Bounded walk back to the innermost unclosed opener of this kind.
  size_t depth = 0;
  for (size_t steps = 0; index > 0 && steps < 100000; ++steps) {
    antlr4::Token *t = tokens->get(--index);
    if (t->getType() == closerType) {
      ++depth;
    } else if (t->getType() == openerType) {
      if (depth == 0)
        return t;
      --depth;
    }
  }
  return nullptr;
}

antlr4::Token *
SyntaxErrorStrategy::innermostOpenBracket(antlr4::Parser *parser) {
  antlr4::TokenStream *tokens = parser->getTokenStream();
  size_t index = tokens->index();
  std::vector<size_t> closers; // closers seen walking back, innermost last
  for (size_t steps = 0; index > 0 && steps < 100000; ++steps) {
    antlr4::Token *t = tokens->get(--index);
    size_t type = t->getType();
    if (openerFor(type) != antlr4::Token::INVALID_TYPE) {
      closers.push_back(type);
    } else if (closerFor(type) != antlr4::Token::INVALID_TYPE) {
      if (closers.empty())
        return t;
      if (closers.back() == closerFor(type))
        closers.pop_back();
    }
  }
  return nullptr;
}

void SyntaxErrorStrategy::noteMatchingOpener(antlr4::Parser *parser,
                                             size_t closerType) {
  if (antlr4::Token *opener = openOpener(parser, closerType))
    diags_.report(tokenLoc(sm_, file_, opener), DiagId::NoteToMatchThis)
        .arg(describeTokenType(opener->getType()));
}

bool SyntaxErrorStrategy::reportEndInsideBracket(antlr4::Parser *parser,
                                                 antlr4::Token *offending) {
  if (offending->getType() != antlr4::Token::EOF)
    return false;
  antlr4::Token *opener = innermostOpenBracket(parser);
  if (!opener)
    return false;
  diags_.report(tokenRange(sm_, file_, offending), DiagId::ExpectedToken)
      .arg(fmt::format("{}, found end of file",
                       describeTokenType(closerFor(opener->getType()))));
  diags_.report(tokenLoc(sm_, file_, opener), DiagId::NoteToMatchThis)
      .arg(describeTokenType(opener->getType()));
  return true;
}

antlr4::Token *SyntaxErrorStrategy::recoverInline(antlr4::Parser *parser) {
  antlr4::Token *t = parser->getCurrentToken();
  if (isKeyword(t->getType()) && getExpectedTokens(parser).contains(
                                     static_cast<size_t>(FedParser::IDENT))) {
    if (!inErrorRecoveryMode(parser)) {
      beginErrorCondition(parser);
      if (startReport(t))
        diags_.report(tokenRange(sm_, file_, t), DiagId::ExpectedToken)
            .arg(fmt::format("identifier, found keyword {}; keywords cannot "
                             "be used as names",
                             describeToken(t, sm_.text(file_))));
    }
    parser->consume();
    endErrorCondition(parser);
    return t;
  }
  return DefaultErrorStrategy::recoverInline(parser);
}

antlr4::Token *
SyntaxErrorStrategy::singleTokenDeletion(antlr4::Parser *parser) {
  size_t type = parser->getCurrentToken()->getType();
  if (openerFor(type) != antlr4::Token::INVALID_TYPE &&
      openOpener(parser, type) != nullptr)
    return nullptr;
  return DefaultErrorStrategy::singleTokenDeletion(parser);
}

bool SyntaxErrorStrategy::reportMissingConstruct(const IntervalSet &expected,
                                                 SourceRange where,
                                                 const std::string &found) {
  switch (classify(expected)) {
  case Expectation::Declaration:
    diags_.report(where, DiagId::ExpectedDeclaration).arg(found);
    return true;
  case Expectation::Statement:
    diags_.report(where, DiagId::ExpectedStatement).arg(found);
    return true;
  default:
    return false;
  }
}

bool SyntaxErrorStrategy::startReport(antlr4::Token *offending) {
  if (offending->getTokenIndex() == lastErrorToken_)
    return false;
  lastErrorToken_ = offending->getTokenIndex();
  ++errors_;
  beforeReport_(tokenLoc(sm_, file_, offending));
  return true;
}

antlr4::Token *SyntaxErrorStrategy::unclosedOpener(antlr4::Parser *parser,
                                                   antlr4::Token *start,
                                                   antlr4::Token *offending) {
  antlr4::TokenStream *tokens = parser->getTokenStream();
  std::vector<antlr4::Token *> open;
  for (size_t i = start->getTokenIndex(); i < offending->getTokenIndex(); ++i) {
    antlr4::Token *t = tokens->get(i);
    if (closerFor(t->getType()) != antlr4::Token::INVALID_TYPE)
      open.push_back(t);
    else if (!open.empty() && t->getType() == closerFor(open.back()->getType()))
      open.pop_back();
  }
  return open.empty() ? nullptr : open.back();
}

void SyntaxErrorStrategy::reportExpected(antlr4::Parser *parser,
                                         antlr4::Token *offending,
                                         const IntervalSet &expected) {
  if (!startReport(offending))
    return;
  std::string_view source = sm_.text(file_);
  SourceRange where = tokenRange(sm_, file_, offending);
  std::string found = describeToken(offending, source);
  antlr4::ParserRuleContext *ctx = parser->getContext();
  if (reportEndInsideBracket(parser, offending))
    return;
  if (expected.size() == 1 &&
      expected.contains(static_cast<size_t>(FedParser::IDENT)) &&
      isKeyword(offending->getType())) {
    diags_.report(where, DiagId::ExpectedToken)
        .arg(fmt::format("identifier, found keyword {}; keywords cannot be "
                         "used as names",
                         found));
    return;
  }
  if (reportMissingConstruct(expected, where, found))
    return;
  switch (classify(expected)) {
  case Expectation::Expression:
    diags_.report(where, DiagId::ExpectedExpression).arg("").arg(found);
    return;
  case Expectation::Type:
    diags_.report(where, DiagId::ExpectedType).arg("").arg(found);
    return;
  default: // tokens; declarations and statements were reported above
    break;
  }
  if (expected.size() == 1 &&
      expected.contains(static_cast<size_t>(FedParser::SEMI))) {
    // Like clang: point just past the previous token and offer the ';'.
    antlr4::Token *previous = parser->getTokenStream()->LT(-1);
    SourceLoc at =
        previous ? tokenRange(sm_, file_, previous).end : where.begin;
    diags_.report(at, DiagId::ExpectedToken)
        .arg("';'" + afterWhat(ctx))
        .fixInsert(at, ";");
    return;
  }
  if (expected.size() > 6) {
    diags_.report(where, DiagId::UnexpectedToken).arg(found).arg(inWhat(ctx));
    return;
  }
  diags_.report(where, DiagId::ExpectedToken)
      .arg(fmt::format("{}, found {}", listTokens(expected), found));
  if (expected.size() == 1)
    noteMatchingOpener(parser, static_cast<size_t>(expected.getMinElement()));
}

void SyntaxErrorStrategy::reportNoViableAlternative(
    antlr4::Parser *parser, const antlr4::NoViableAltException &e) {
  antlr4::Token *start = e.getStartToken();
  antlr4::Token *offending = e.getOffendingToken();
  if (start == offending || !start) {
    reportExpected(parser, offending, e.getExpectedTokens());
    return;
  }
  // The prediction read several tokens before failing, so the decision's
  // expected set describes its first token, not this one. Say what is
  // missing when a bracket was left open, else what is unexpected.
  if (!startReport(offending) || reportEndInsideBracket(parser, offending))
    return;
  SourceRange where = tokenRange(sm_, file_, offending);
  std::string found = describeToken(offending, sm_.text(file_));
  if (antlr4::Token *opener = unclosedOpener(parser, start, offending)) {
    diags_.report(where, DiagId::ExpectedToken)
        .arg(fmt::format("{}, found {}",
                         describeTokenType(closerFor(opener->getType())),
                         found));
    diags_.report(tokenLoc(sm_, file_, opener), DiagId::NoteToMatchThis)
        .arg(describeTokenType(opener->getType()));
    return;
  }
  diags_.report(where, DiagId::UnexpectedToken)
      .arg(found)
      .arg(inWhat(parser->getContext()));
}

void SyntaxErrorStrategy::reportInputMismatch(
    antlr4::Parser *parser, const antlr4::InputMismatchException &e) {
  reportExpected(parser, e.getOffendingToken(), e.getExpectedTokens());
}

void SyntaxErrorStrategy::reportFailedPredicate(
    antlr4::Parser *parser, const antlr4::FailedPredicateException &e) {
  // Only precedence predicates exist in the grammar; a failure means the
  // operator cannot continue the expression here.
  antlr4::Token *offending = e.getOffendingToken();
  if (!startReport(offending) || reportEndInsideBracket(parser, offending))
    return;
  diags_.report(tokenRange(sm_, file_, offending), DiagId::UnexpectedToken)
      .arg(describeToken(offending, sm_.text(file_)))
      .arg(inWhat(parser->getContext()));
}

void SyntaxErrorStrategy::reportUnwantedToken(antlr4::Parser *parser) {
  if (inErrorRecoveryMode(parser))
    return;
  beginErrorCondition(parser);
  antlr4::Token *t = parser->getCurrentToken();
  if (!startReport(t) || reportEndInsideBracket(parser, t))
    return;
  SourceRange where = tokenRange(sm_, file_, t);
  std::string found = describeToken(t, sm_.text(file_));
  IntervalSet expected = getExpectedTokens(parser);
  if (reportMissingConstruct(expected, where, found))
    return;
  std::string tail = inWhat(parser->getContext());
  if (expected.size() <= 3)
    tail += "; expected " + listTokens(expected);
  diags_.report(where, DiagId::UnexpectedToken).arg(found).arg(tail);
}

void SyntaxErrorStrategy::reportMissingToken(antlr4::Parser *parser) {
  if (inErrorRecoveryMode(parser))
    return;
  beginErrorCondition(parser);
  reportExpected(parser, parser->getCurrentToken(), getExpectedTokens(parser));
}

} // namespace fedc::parse
