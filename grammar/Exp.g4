// Grammar of .exp experiment files and of the standard library.
//
// A file is a list of imports followed by declarations:
//   - `param`    a typed, constrained experiment parameter (override target);
//   - `network`  a network definition composed of layers (stdlib encoders are
//                written this way);
//   - `extern`   the signature of a function implemented by the compiler and
//                runtime (layers, objectives, data sources, metrics, ...);
//   - `dataset`, `side`, `encoder`, `objective`, `train`, `evaluate`, `sweep`:
//                the experiment itself, all of the same shape: a keyword, a
//                name, an optional `= expression` and an optional block of
//                `key = value` settings.
// Types are written as expressions (`images[c, h, w]`, `"S" | "B"`,
// `list[int]`) and interpreted by semantic analysis, so the grammar stays small
// and every error about meaning comes from one place.
//
// Error productions (BAD_NUMBER, UNTERMINATED_STRING, BAD_HASH) turn common
// lexical mistakes into precise diagnostics instead of cascades.
grammar Exp;

file
  : importDecl* topDecl* EOF
  ;

// import std.encoders                    namespace `encoders`
// import std.encoders as enc             namespace `enc`
// import std.encoders.{ViT, MLP}         the names themselves
// import "./common.exp" as common sha256:<64 hex digits>
// A lone expression: the value of a command-line override (`lr=3e-4`).
exprOnly
  : expr EOF
  ;

importDecl
  : IMPORT (qualifiedName | path=STRING) (DOT LBRACE importNames RBRACE)? (AS alias=ID)? hash=(HASH | BAD_HASH)? SEMI?
  ;

qualifiedName
  : ID (DOT ID)*
  ;

importNames
  : ID (COMMA ID)* COMMA?
  ;

topDecl
  : paramDecl
  | networkDecl
  | externDecl
  | decl
  ;

// param lr: float in (0, 1] = 3e-4
paramDecl
  : PARAM param SEMI?
  ;

// network MLP(x: vector[d], hidden: int = 512, out: int) -> vector[out] { ... }
networkDecl
  : NETWORK name=ID LPAREN paramList? RPAREN ARROW result=expr body
  ;

// extern objective clip(a: vector[d], b: vector[d], temperature: float = 0.07) -> loss
externDecl
  : EXTERN kind=externKind name=ID LPAREN paramList? RPAREN ARROW result=expr SEMI?
  ;

externKind
  : ID | ENCODER | OBJECTIVE | SIDE
  ;

paramList
  : param (COMMA param)* COMMA?
  ;

param
  : name=ident COLON type=expr constraint? (ASSIGN value=expr)?
  ;

// `in [1, 64]`, `in (0, 1]`: closed with brackets, open with parentheses.
constraint
  : IN lo=(LBRACK | LPAREN) min=expr COMMA max=expr hi=(RBRACK | RPAREN)
  ;

body
  : LBRACE stmt* RBRACE
  ;

stmt
  : name=ID ASSIGN expr SEMI?                                       # letStmt
  | REPEAT count=expr (AS var=ID)? body                             # repeatStmt
  | IF cond=expr then=body (ELSE (otherwise=body | elif=stmt))?     # ifStmt
  | RETURN expr SEMI?                                               # returnStmt
  ;

decl
  : declKeyword name=ID (ASSIGN value=expr)? block? SEMI?
  ;

declKeyword
  : DATASET | SIDE | ENCODER | OBJECTIVE | TRAIN | EVALUATE | SWEEP
  ;

block
  : LBRACE setting* RBRACE
  ;

setting
  : key=ident ASSIGN value=expr (SEMI | COMMA)?
  ;

// `objective` is also a setting key and argument name (`objective = ...` in
// `train`); `in` is not, so that `x in [..]` stays unambiguous. The other
// keywords stay reserved so that a declaration after an unclosed block is
// reported at its keyword.
ident
  : ID | OBJECTIVE
  ;

// Members may also be named `train` (a dataset's training split).
memberName
  : ident | TRAIN
  ;

expr
  : expr DOT member=memberName                             # memberExpr
  | expr LPAREN argList? RPAREN                            # callExpr
  | expr LBRACK (expr (COMMA expr)* COMMA?)? RBRACK        # indexExpr
  | (MINUS | NOT) expr                                     # unaryExpr
  | expr op=(STAR | SLASH | PERCENT) expr                  # mulExpr
  | expr op=(PLUS | MINUS) expr                            # addExpr
  | expr op=(EQ | NE | LT | LE | GT | GE) expr             # compareExpr
  | expr op=AND expr                                       # andExpr
  | expr op=OR expr                                        # orExpr
  | expr op=PIPE expr                                      # unionExpr
  | expr op=ARROW expr                                     # mapExpr
  | SWEEP expr                                             # sweepExpr
  | LPAREN expr RPAREN                                     # parenExpr
  | LBRACK (expr (COMMA expr)* COMMA?)? RBRACK             # listExpr
  | LBRACE (field (COMMA field)* COMMA?)? RBRACE           # recordExpr
  | ELLIPSIS                                               # restExpr
  | NUMBER                                                 # numberExpr
  | BAD_NUMBER                                             # badNumberExpr
  | STRING                                                 # stringExpr
  | UNTERMINATED_STRING                                    # badStringExpr
  | (TRUE | FALSE)                                         # boolExpr
  | NONE                                                   # noneExpr
  | DATASET (LPAREN argList? RPAREN)?                      # datasetTypeExpr
  | ENCODER                                                # encoderTypeExpr
  | ID                                                     # nameExpr
  ;

field
  : key=ident ASSIGN value=expr
  ;

argList
  : arg (COMMA arg)* COMMA?
  ;

arg
  : (name=ident ASSIGN)? expr
  ;

IMPORT    : 'import' ;
AS        : 'as' ;
PARAM     : 'param' ;
NETWORK   : 'network' ;
EXTERN    : 'extern' ;
DATASET   : 'dataset' ;
SIDE      : 'side' ;
ENCODER   : 'encoder' ;
OBJECTIVE : 'objective' ;
TRAIN     : 'train' ;
EVALUATE  : 'evaluate' ;
SWEEP     : 'sweep' ;
REPEAT    : 'repeat' ;
IF        : 'if' ;
ELSE      : 'else' ;
RETURN    : 'return' ;
IN        : 'in' ;
AND       : 'and' ;
OR        : 'or' ;
NOT       : 'not' ;
TRUE      : 'true' ;
FALSE     : 'false' ;
NONE      : 'none' ;

ELLIPSIS : '...' ;
ARROW  : '->' ;
EQ     : '==' ;
NE     : '!=' ;
LE     : '<=' ;
GE     : '>=' ;
LT     : '<' ;
GT     : '>' ;
ASSIGN : '=' ;
SEMI   : ';' ;
COLON  : ':' ;
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
PERCENT : '%' ;
PIPE   : '|' ;

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

// A content hash pinning an import: exactly 64 lower-case hex digits.
HASH     : 'sha256:' HEX64 ;
BAD_HASH : 'sha256:' [0-9a-zA-Z]* ;
fragment HEX64 : HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX
                 HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX
                 HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX
                 HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX HEX ;
fragment HEX : [0-9a-f] ;

STRING              : '"' (~["\\\r\n] | '\\' .)* '"' ;
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' .)* ;

ID : [a-zA-Z_] [a-zA-Z0-9_]* ;

// Comments stay in the token stream (hidden) so `exp fmt` can keep them.
DOC_COMMENT   : '///' ~[\r\n]* -> channel(HIDDEN) ;
LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
// A `/*` with no `*/` before the end of the file (its text never holds `*/`,
// so a terminated comment always lexes as BLOCK_COMMENT).
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* EOF -> channel(HIDDEN) ;
NEWLINE       : [\r]? [\n] -> channel(HIDDEN) ;
WS            : [ \t]+ -> skip ;
