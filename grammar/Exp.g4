// Grammar of .exp experiment files.
//
// A file is a list of imports followed by declarations. Every declaration has
// the same shape: a keyword, a name, an optional `= expression` and an optional
// `{ key = value ... }` block. Meaning (what a dataset, encoder or objective
// is) lives in semantic analysis, not here, so the grammar stays small and
// error messages come from one place.
//
// Error productions (BAD_NUMBER, UNTERMINATED_STRING) turn the most common
// lexical mistakes into precise diagnostics instead of a cascade of syntax
// errors.
grammar Exp;

file
  : importDecl* decl* EOF
  ;

importDecl
  : IMPORT qualifiedName SEMI?
  ;

qualifiedName
  : ID (DOT ID)*
  ;

decl
  : declKeyword name=ID (ASSIGN value=expr)? block? SEMI?
  ;

declKeyword
  : DATASET | ENCODER | OBJECTIVE | TRAIN | EVALUATE
  ;

block
  : LBRACE setting* RBRACE
  ;

setting
  : key=ident ASSIGN value=expr (SEMI | COMMA)?
  ;

// `objective` is also a setting key and argument name (`objective = ...` in
// `train`). The other keywords stay reserved so that a declaration after an
// unclosed block is reported at its keyword.
ident
  : ID | OBJECTIVE
  ;

expr
  : expr DOT member=ident                            # memberExpr
  | expr LPAREN argList? RPAREN                      # callExpr
  | MINUS expr                                       # negExpr
  | expr op=(STAR | SLASH) expr                      # mulExpr
  | expr op=(PLUS | MINUS) expr                      # addExpr
  | LPAREN expr RPAREN                               # parenExpr
  | LBRACK (expr (COMMA expr)* COMMA?)? RBRACK       # listExpr
  | NUMBER                                           # numberExpr
  | BAD_NUMBER                                       # badNumberExpr
  | STRING                                           # stringExpr
  | UNTERMINATED_STRING                              # badStringExpr
  | (TRUE | FALSE)                                   # boolExpr
  | ID                                               # nameExpr
  ;

argList
  : arg (COMMA arg)* COMMA?
  ;

arg
  : (name=ident ASSIGN)? expr
  ;

IMPORT    : 'import' ;
DATASET   : 'dataset' ;
ENCODER   : 'encoder' ;
OBJECTIVE : 'objective' ;
TRAIN     : 'train' ;
EVALUATE  : 'evaluate' ;
TRUE      : 'true' ;
FALSE     : 'false' ;

ASSIGN : '=' ;
SEMI   : ';' ;
COMMA  : ',' ;
DOT    : '.' ;
LPAREN : '(' ;
RPAREN : ')' ;
LBRACE : '{' ;
RBRACE : '}' ;
LBRACK : '[' ;
RBRACK : ']' ;
PLUS   : '+' ;
MINUS  : '-' ;
STAR   : '*' ;
SLASH  : '/' ;

NUMBER
  : DIGITS (DOT DIGITS)? EXPONENT?
  | DOT DIGITS EXPONENT?
  ;
// `1e-d`, `3e`, `2.5e+`: an exponent marker with no digits after it (letters
// after it belong to the bad literal, so `1e-d` is one error, not three).
BAD_NUMBER
  : DIGITS (DOT DIGITS)? [eE] [+-]? [a-zA-Z_]*
  ;
fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;

STRING              : '"' (~["\\\r\n] | '\\' .)* '"' ;
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' .)* ;

ID : [a-zA-Z_] [a-zA-Z0-9_]* ;

DOC_COMMENT   : '///' ~[\r\n]* -> channel(HIDDEN) ;
LINE_COMMENT  : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
// A `/*` with no `*/` before the end of the file (its text never holds `*/`,
// so a terminated comment always lexes as BLOCK_COMMENT).
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* EOF -> channel(HIDDEN) ;
WS            : [ \t\r\n]+ -> skip ;
