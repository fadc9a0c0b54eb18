#include "parse/Parser.h"

#include "FedLexer.h"
#include "FedParser.h"
#include "basic/StackGuard.h"
#include "parse/Lexing.h"
#include "parse/ParseTreeLowering.h"
#include "parse/SyntaxErrorStrategy.h"

#include <fmt/format.h>

namespace fedc {

using parse::gen::FedParser;

namespace {

// Raised from the parser's rule-entry hook to unwind out of ANTLR.
struct ParseAborted {
  SourceLoc where;
  bool nestingTooDeep;
};

} // namespace

std::unique_ptr<ast::Module> parseModule(const SourceManager &sm, FileId file,
                                         DiagnosticEngine &diags,
                                         const ParseOptions &options) {
  parse::LexedFile lexed(sm, file, options);
  if (!lexed.complete()) {
    lexed.reportAllLexicalErrors(diags);
    return nullptr;
  }
  bool lexicalOk = lexed.ok();

  // The lexer's tokens are moved into the parser's source; the LexedFile
  // stays alive because they refer to its character stream.
  antlr4::ListTokenSource source(lexed.takeTokens());
  antlr4::CommonTokenStream tokens(&source);
  FedParser parser(&tokens);
  parser.removeErrorListeners();

  StackGuard stack;
  parser.onRuleEntry = [&] {
    if (stack.exhausted())
      throw ParseAborted{parse::tokenLoc(sm, file, parser.getCurrentToken()),
                         true};
    if (diags.limitReached())
      throw ParseAborted{SourceLoc(), false};
  };

  FedParser::ModuleContext *tree = nullptr;
  unsigned syntaxErrors = 0;
  try {
    // Fast SLL first; only input that fails it pays for full LL and error
    // recovery (the two-stage strategy ANTLR's authors recommend).
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::SLL);
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    try {
      tree = parser.module();
    } catch (const antlr4::ParseCancellationException &) {
      tree = nullptr;
    }
    if (!tree) {
      tokens.seek(0);
      parser.reset();
      parser.getInterpreter<antlr4::atn::ParserATNSimulator>()
          ->setPredictionMode(antlr4::atn::PredictionMode::LL);
      auto strategy = std::make_shared<parse::SyntaxErrorStrategy>(
          sm, file, diags,
          [&](SourceLoc loc) { lexed.reportLexicalErrorsBefore(loc, diags); });
      parser.setErrorHandler(strategy);
      tree = parser.module();
      syntaxErrors = strategy->errorCount();
    }
  } catch (const ParseAborted &abort) {
    lexed.reportLexicalErrorsBefore(abort.where, diags);
    if (abort.nestingTooDeep)
      diags.report(abort.where, DiagId::NestingTooDeep)
          .arg(static_cast<int64_t>(parse::kMaxAstDepth));
    lexed.reportAllLexicalErrors(diags);
    return nullptr;
  }
  lexed.reportAllLexicalErrors(diags);
  if (!lexicalOk || syntaxErrors != 0 || !tree)
    return nullptr;

  try {
    return parse::lowerParseTree(tree, sm, file, diags);
  } catch (const parse::NestingLimitReached &limit) {
    diags.report(limit.where, DiagId::NestingTooDeep)
        .arg(static_cast<int64_t>(parse::kMaxAstDepth));
    return nullptr;
  }
}

bool dumpTokens(const SourceManager &sm, FileId file, DiagnosticEngine &diags,
                std::ostream &out, const ParseOptions &options) {
  parse::LexedFile lexed(sm, file, options);
  lexed.reportAllLexicalErrors(diags);
  std::string_view source = sm.text(file);
  for (const auto &token : lexed.tokens()) {
    PresumedLoc p = sm.presumed(parse::tokenLoc(sm, file, token.get()));
    size_t type = token->getType();
    std::string name =
        type == antlr4::Token::EOF
            ? "EOF"
            : std::string(
                  parse::gen::FedLexer::vocabulary().getSymbolicName(type));
    out << fmt::format("{}:{} {} '{}'\n", p.line, p.column, name,
                       parse::tokenText(source, token.get()));
  }
  return lexed.ok() && lexed.complete();
}

} // namespace fedc
