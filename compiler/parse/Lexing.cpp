#include "parse/Lexing.h"

#include "FedLexer.h"

#include <fmt/format.h>

namespace fedc::parse {

using gen::FedLexer;

namespace {

// Non-ASCII bytes only occur legitimately inside comments and strings. The
// lexer sees them as this placeholder, so token offsets stay byte offsets
// and the ANTLR runtime never decodes (and never throws on) bad UTF-8.
constexpr char kMaskedByte = '\x1A';

// Length of the well-formed UTF-8 sequence at text[i] (1..4), or 0.
size_t utf8Length(std::string_view text, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = b(i);
  if (c < 0x80)
    return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size())
    return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

// Token text made safe for a message: control bytes and bytes that are not
// valid UTF-8 are written as \xNN.
std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = utf8Length(text, i);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02X}", c);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string describeCharacter(std::string_view text, size_t offset) {
  size_t n = std::max<size_t>(utf8Length(text, offset), 1);
  return fmt::format("'{}'", printable(text.substr(offset, n)));
}

bool isOpener(size_t type) {
  return type == FedLexer::LPAREN || type == FedLexer::LBRACKET ||
         type == FedLexer::LBRACE;
}
bool isCloser(size_t type) {
  return type == FedLexer::RPAREN || type == FedLexer::RBRACKET ||
         type == FedLexer::RBRACE;
}

} // namespace

SourceLoc tokenLoc(const SourceManager &sm, FileId file,
                   const antlr4::Token *t) {
  return sm.locFor(file, static_cast<uint32_t>(t->getStartIndex()));
}

SourceRange tokenRange(const SourceManager &sm, FileId file,
                       const antlr4::Token *t) {
  uint32_t begin = static_cast<uint32_t>(t->getStartIndex());
  uint32_t end = t->getType() == antlr4::Token::EOF
                     ? begin
                     : static_cast<uint32_t>(t->getStopIndex()) + 1;
  return SourceRange(sm.locFor(file, begin), sm.locFor(file, end));
}

std::string_view tokenText(std::string_view source, const antlr4::Token *t) {
  if (t->getType() == antlr4::Token::EOF)
    return {};
  size_t begin = t->getStartIndex(), end = t->getStopIndex() + 1;
  if (begin > source.size() || end > source.size() || end < begin)
    return {};
  return source.substr(begin, end - begin);
}

std::string describeTokenType(size_t type) {
  switch (type) {
  case antlr4::Token::EOF:
    return "end of file";
  case FedLexer::IDENT:
    return "identifier";
  case FedLexer::INT:
    return "integer literal";
  case FedLexer::FLOAT:
    return "float literal";
  case FedLexer::STRING:
    return "string literal";
  case FedLexer::SCALAR_TYPE:
    return "element type";
  default:
    break;
  }
  std::string literal(FedLexer::vocabulary().getLiteralName(type));
  return literal.empty()
             ? std::string(FedLexer::vocabulary().getSymbolicName(type))
             : literal;
}

std::string describeToken(const antlr4::Token *token, std::string_view source) {
  size_t type = token->getType();
  std::string text = printable(tokenText(source, token).substr(0, 24));
  switch (type) {
  case FedLexer::IDENT:
    return fmt::format("identifier '{}'", text);
  case FedLexer::INT:
  case FedLexer::FLOAT:
    return fmt::format("number '{}'", text);
  case FedLexer::STRING:
    return fmt::format("string {}", text);
  case FedLexer::SCALAR_TYPE: // one token for every element type
    return fmt::format("'{}'", text);
  default:
    return describeTokenType(type);
  }
}

LexedFile::LexedFile(const SourceManager &sm, FileId file,
                     const ParseOptions &options)
    : sm_(sm), file_(file) {
  run(options);
}

LexedFile::~LexedFile() = default;

void LexedFile::pend(SourceLoc loc, DiagId id, std::vector<std::string> args) {
  ok_ = false;
  pending_.push_back({loc, id, std::move(args)});
}

void LexedFile::reportLexicalErrorsBefore(SourceLoc loc,
                                          DiagnosticEngine &diags) {
  for (; reported_ < pending_.size() && !(loc < pending_[reported_].loc);
       ++reported_) {
    const PendingDiagnostic &p = pending_[reported_];
    DiagnosticBuilder b = diags.report(p.loc, p.id);
    for (const std::string &a : p.args)
      b.arg(a);
  }
}

void LexedFile::reportAllLexicalErrors(DiagnosticEngine &diags) {
  reportLexicalErrorsBefore(SourceLoc::fromRaw(UINT32_MAX), diags);
}

antlr4::TokenSource *LexedFile::lexer() { return lexer_.get(); }

std::vector<bool> LexedFile::maskNonAscii(std::string_view text) {
  masked_.assign(text);
  std::vector<bool> invalidByte(text.size(), false);
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8Length(text, i);
    if (n == 0) {
      // One report per run of bad bytes.
      if (i == 0 || !invalidByte[i - 1])
        pend(sm_.locFor(file_, static_cast<uint32_t>(i)), DiagId::InvalidUtf8,
             {fmt::format("{:02X}", static_cast<unsigned char>(text[i]))});
      invalidByte[i] = true;
      n = 1;
    }
    for (size_t k = 0; k < n; ++k)
      masked_[i + k] = kMaskedByte;
    i += n;
  }
  return invalidByte;
}

bool LexedFile::acceptToken(antlr4::Token &token, std::string_view text,
                            const std::vector<bool> &invalidByte) {
  if (token.getChannel() != antlr4::Token::DEFAULT_CHANNEL)
    return false;
  size_t offset = token.getStartIndex();
  SourceLoc loc = sm_.locFor(file_, static_cast<uint32_t>(offset));
  switch (token.getType()) {
  case FedLexer::BAD_CHAR: {
    unsigned char c = static_cast<unsigned char>(text[offset]);
    // Skip bytes already reported as bad UTF-8 and the trailing bytes of
    // a multi-byte character reported at its first byte.
    if (!invalidByte[offset] && !(c >= 0x80 && c < 0xC0))
      pend(loc, DiagId::UnexpectedCharacter, {describeCharacter(text, offset)});
    return false;
  }
  case FedLexer::UNTERMINATED_COMMENT:
    pend(loc, DiagId::UnterminatedComment);
    return false;
  case FedLexer::UNTERMINATED_STRING:
    pend(loc, DiagId::UnterminatedString);
    // Parse on as if it were terminated, to avoid a cascade.
    if (auto *writable = dynamic_cast<antlr4::WritableToken *>(&token))
      writable->setType(FedLexer::STRING);
    return true;
  default:
    return true;
  }
}

void LexedFile::run(const ParseOptions &options) {
  std::string_view text = sm_.text(file_);
  std::vector<bool> invalidByte = maskNonAscii(text);

  // Pass 2: tokens.
  input_ = std::make_unique<antlr4::ANTLRInputStream>(masked_);
  auto lexer = std::make_unique<FedLexer>(input_.get());
  lexer->removeErrorListeners();
  std::vector<size_t> openBrackets;
  for (;;) {
    if (options.maxLexicalErrors != 0 &&
        pending_.size() >= options.maxLexicalErrors) {
      complete_ = false;
      break;
    }
    std::unique_ptr<antlr4::Token> token = lexer->nextToken();
    size_t type = token->getType();
    if (type == antlr4::Token::EOF) {
      tokens_.push_back(std::move(token));
      break;
    }
    if (!acceptToken(*token, text, invalidByte))
      continue;
    size_t offset = token->getStartIndex();
    if (isOpener(type)) {
      openBrackets.push_back(offset);
      if (openBrackets.size() > options.bracketDepth) {
        SourceLoc loc = sm_.locFor(file_, static_cast<uint32_t>(offset));
        complete_ = false;
        pend(loc, DiagId::BracketNestingTooDeep,
             {std::to_string(options.bracketDepth)});
        pend(loc, DiagId::NoteBracketDepthOption);
        break;
      }
    } else if (isCloser(type) && !openBrackets.empty()) {
      openBrackets.pop_back();
    }
    tokens_.push_back(std::move(token));
  }
  lexer_ = std::move(lexer);
}

} // namespace fedc::parse
