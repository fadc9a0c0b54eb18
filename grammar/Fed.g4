// The grammar of the .fed language (docs/language.md, docs/design.md §2).
//
// The parse tree this produces never leaves compiler/parse: ParseTreeLowering
// turns it into the owned AST of compiler/ast. Alternatives are labelled so
// that the lowering works on typed contexts instead of generic visitors.
grammar Fed;

@parser::header {
#include <functional>
}

@parser::members {
  // Called on entry to every rule; lets the front end stop before deep input
  // exhausts the native stack (compiler/parse/Parser.cpp sets it to check
  // a StackGuard and the error limit).
  std::function<void()> onRuleEntry;

  void enterRule(antlr4::ParserRuleContext *localctx, size_t state,
                 size_t ruleIndex) override {
    if (onRuleEntry) onRuleEntry();
    antlr4::Parser::enterRule(localctx, state, ruleIndex);
  }
  void enterRecursionRule(antlr4::ParserRuleContext *localctx, size_t state,
                          size_t ruleIndex, int precedence) override {
    if (onRuleEntry) onRuleEntry();
    antlr4::Parser::enterRecursionRule(localctx, state, ruleIndex, precedence);
  }
}

@lexer::members {
  // Token names for messages and --emit=tokens, without a lexer instance.
  static const antlr4::dfa::Vocabulary &vocabulary() { return _vocabulary; }
}

// ---------------------------------------------------------------------------
// Declarations

module
  : decl* EOF
  ;

decl
  : importDecl
  | constDecl
  | structDecl
  | fnDecl
  | processDecl
  ;

importDecl
  : KW_IMPORT (modulePath | STRING) SEMI
  ;

modulePath
  : IDENT (DOT IDENT)*
  ;

constDecl
  : KW_CONST IDENT (COLON type)? ASSIGN expr SEMI
  ;

structDecl
  : KW_STRUCT IDENT LBRACE (fieldDecl (COMMA fieldDecl)* COMMA?)? RBRACE
  ;

fieldDecl
  : IDENT COLON type
  ;

fnDecl
  : KW_FEDERATED? KW_FN IDENT genericParams? LPAREN paramList? RPAREN (ARROW type)? block
  ;

genericParams
  : LT IDENT (COMMA IDENT)* COMMA? GT
  ;

paramList
  : param (COMMA param)* COMMA?
  ;

param
  : IDENT COLON type
  ;

processDecl
  : KW_PROCESS IDENT LBRACE processEntry* RBRACE
  ;

processEntry
  : IDENT ASSIGN IDENT SEMI
  ;

// ---------------------------------------------------------------------------
// Statements

block
  : LBRACE stmt* RBRACE
  ;

stmt
  : (KW_LET | KW_VAR) IDENT (COLON type)? ASSIGN expr SEMI               # letStmt
  | expr op=(ASSIGN | PLUS_ASSIGN | MINUS_ASSIGN | STAR_ASSIGN | SLASH_ASSIGN) expr SEMI  # assignStmt
  | KW_IF expr block (KW_ELSE KW_IF expr block)* (KW_ELSE block)?         # ifStmt
  | KW_FOR IDENT KW_IN expr DOTDOT expr block                             # forRangeStmt
  | KW_FOR IDENT KW_IN expr block                                         # forEachStmt
  | KW_WHILE expr block                                                   # whileStmt
  | KW_RETURN expr? SEMI                                                  # returnStmt
  | block                                                                 # blockStmt
  | expr SEMI                                                             # exprStmt
  ;

// ---------------------------------------------------------------------------
// Expressions: C precedence, with '@' (matrix product) binding like '*'.

expr
  : primary                                                         # primaryExpr
  | expr DOT member=(IDENT | INT | FLOAT)                            # memberExpr
  | expr LBRACKET exprList RBRACKET                                  # indexExpr
  | expr LPAREN argList? RPAREN                                      # callExpr
  | op=(MINUS | NOT | PLUS) expr                                     # unaryExpr
  | expr op=(STAR | SLASH | PERCENT | AT) expr                       # binaryExpr
  | expr op=(PLUS | MINUS) expr                                      # binaryExpr
  | expr op=(LT | LE | GT | GE) expr                                 # binaryExpr
  | expr op=(EQ | NE) expr                                           # binaryExpr
  | expr op=AND expr                                                 # binaryExpr
  | expr op=OR expr                                                  # binaryExpr
  ;

primary
  : IDENT typeArgs LPAREN argList? RPAREN                            # genericCallExpr
  | scalarType LPAREN expr RPAREN                                    # castExpr
  | IDENT LBRACE (fieldInit (COMMA fieldInit)* COMMA?)? RBRACE       # structLiteralExpr
  | IDENT                                                            # nameExpr
  | INT                                                              # intLiteralExpr
  | FLOAT                                                            # floatLiteralExpr
  | (KW_TRUE | KW_FALSE)                                             # boolLiteralExpr
  | (KW_SERVER | KW_CLIENTS)                                         # placementExpr
  | LPAREN RPAREN                                                    # unitExpr
  | LPAREN expr RPAREN                                               # parenExpr
  | LPAREN expr COMMA (expr (COMMA expr)* COMMA?)? RPAREN            # tupleExpr
  ;

fieldInit
  : IDENT COLON expr
  ;

exprList
  : expr (COMMA expr)*
  ;

argList
  : arg (COMMA arg)* COMMA?
  ;

// A string only as an argument: the options of builtins (padding: "same").
arg
  : (IDENT COLON)? (expr | STRING)
  ;

typeArgs
  : LT type (COMMA type)* COMMA? GT
  ;

// ---------------------------------------------------------------------------
// Types

type
  : LBRACE type RBRACE AT placement=(KW_SERVER | KW_CLIENTS)         # groupPlacedType
  | type AT placement=(KW_SERVER | KW_CLIENTS)                       # placedType
  | scalarType dims?                                                 # tensorType
  | IDENT dims?                                                      # namedType
  | KW_SEQ LT type GT                                                # seqType
  | LPAREN RPAREN                                                    # unitType
  | LPAREN type RPAREN                                               # parenType
  | LPAREN type COMMA (type (COMMA type)*)? COMMA? RPAREN            # tupleType
  | KW_FN LPAREN (type (COMMA type)* COMMA?)? RPAREN ARROW type      # functionType
  ;

// The element types of fedrt/Elements.def, one token: the table names them.
scalarType
  : SCALAR_TYPE
  ;

dims
  : LBRACKET dim (COMMA dim)* COMMA? RBRACKET
  ;

dim
  : INT
  | IDENT
  | QUESTION
  ;

// ---------------------------------------------------------------------------
// Tokens. Every keyword and punctuator is a named rule so that --emit=tokens
// and the syntax-error messages can name it.

KW_IMPORT    : 'import';
KW_CONST     : 'const';
KW_STRUCT    : 'struct';
KW_FN        : 'fn';
KW_FEDERATED : 'federated';
KW_PROCESS   : 'process';
KW_LET       : 'let';
KW_VAR       : 'var';
KW_RETURN    : 'return';
KW_IF        : 'if';
KW_ELSE      : 'else';
KW_FOR       : 'for';
KW_IN        : 'in';
KW_WHILE     : 'while';
KW_TRUE      : 'true';
KW_FALSE     : 'false';
KW_SERVER    : 'SERVER';
KW_CLIENTS   : 'CLIENTS';
SCALAR_TYPE  : 'f32' | 'f64' | 'i32' | 'i64' | 'bool' | 'u8' | 'i8';
KW_SEQ       : 'seq';

ARROW        : '->';
DOTDOT       : '..';
PLUS_ASSIGN  : '+=';
MINUS_ASSIGN : '-=';
STAR_ASSIGN  : '*=';
SLASH_ASSIGN : '/=';
EQ           : '==';
NE           : '!=';
LE           : '<=';
GE           : '>=';
AND          : '&&';
OR           : '||';
LT           : '<';
GT           : '>';
ASSIGN       : '=';
PLUS         : '+';
MINUS        : '-';
STAR         : '*';
SLASH        : '/';
PERCENT      : '%';
AT           : '@';
NOT          : '!';
QUESTION     : '?';
DOT          : '.';
COMMA        : ',';
COLON        : ':';
SEMI         : ';';
LPAREN       : '(';
RPAREN       : ')';
LBRACKET     : '[';
RBRACKET     : ']';
LBRACE       : '{';
RBRACE       : '}';

// 1.5, 1e-3, 2.0f, 1.5e+3f. A float needs digits on both sides of the dot so
// that `0..n` is a range and `t.0.1` can be split into two tuple indices.
FLOAT
  : DIGITS '.' DIGITS EXPONENT? 'f'?
  | DIGITS EXPONENT 'f'?
  ;
INT          : DIGITS;
IDENT        : [A-Za-z_] [A-Za-z0-9_]*;
STRING       : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"';
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])*;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'+ '/' -> channel(HIDDEN);
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* EOF;
WS            : [ \t\r\n\f]+ -> channel(HIDDEN);

// Anything else is one bad character; the front end reports it.
BAD_CHAR      : .;

fragment DIGITS   : [0-9]+;
fragment EXPONENT : [eE] [+-]? DIGITS;
