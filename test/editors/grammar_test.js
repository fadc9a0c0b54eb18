// The TextMate grammar (editors/vscode/syntaxes/fed.tmLanguage.json), run by
// the engine VS Code uses (vscode-textmate + vscode-oniguruma):
//  1. every .fed file of the tree tokenizes, and where fedc's own lexer
//     accepts the file (`fedc --emit=tokens`) the scopes agree with it:
//     keywords, placements, element types, numbers, strings, intrinsics,
//     builtins (where called) and plain names get their scopes, and all
//     text the lexer skips that is not blank is comment;
//  2. the scopes of test/editors/Inputs/scopes.fed match scopes.snapshot
//     (--update rewrites it).
// usage: node grammar_test.js SOURCE_DIR FEDC NODE_MODULES_DIR [--update]
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');

const [sourceDir, fedc, modulesDir] = process.argv.slice(2, 5);
const update = process.argv.includes('--update');
const requireModule = createRequire(path.join(path.resolve(modulesDir), 'x.js'));
const vsctm = requireModule('vscode-textmate');
const oniguruma = requireModule('vscode-oniguruma');

const grammarPath = path.join(sourceDir, 'editors/vscode/syntaxes/fed.tmLanguage.json');
const snapshotInput = path.join(sourceDir, 'test/editors/Inputs/scopes.fed');
const snapshotPath = path.join(sourceDir, 'test/editors/Inputs/scopes.snapshot');

// What a fedc token kind must be scoped as (a prefix of one of its scopes).
const kindScopes = {
  KW_IMPORT: 'keyword.control.import', KW_IF: 'keyword.control',
  KW_ELSE: 'keyword.control', KW_FOR: 'keyword.control',
  KW_IN: 'keyword.control', KW_WHILE: 'keyword.control',
  KW_RETURN: 'keyword.control', KW_FN: 'storage.type.function',
  KW_STRUCT: 'storage.type.struct', KW_PROCESS: 'storage.type.process',
  KW_CONST: 'storage.type.const', KW_LET: 'storage.type.binding',
  KW_VAR: 'storage.type.binding', KW_FEDERATED: 'storage.modifier.federated',
  KW_TRUE: 'constant.language.boolean', KW_FALSE: 'constant.language.boolean',
  KW_SERVER: 'constant.language.placement',
  KW_CLIENTS: 'constant.language.placement',
  SCALAR_TYPE: 'storage.type.primitive', KW_SEQ: 'storage.type.seq',
  INT: 'constant.numeric.integer', FLOAT: 'constant.numeric.float',
  STRING: 'string.quoted.double', ARROW: 'keyword.operator.arrow',
  DOTDOT: 'keyword.operator.range', AT: 'keyword.operator',
};
// Scopes a plain name must not have.
const notAName = /^(keyword|storage|constant|support|comment|string)\./;

function tableWords(file, macro) {
  const text = fs.readFileSync(path.join(sourceDir, file), 'utf8');
  const re = new RegExp('^' + macro + '\\(\\w+, "(\\w+)"', 'gm');
  return new Set([...text.matchAll(re)].map((m) => m[1]));
}
const intrinsics = tableWords('compiler/sema/Intrinsics.def', 'INTRINSIC');
const builtins = tableWords('compiler/sema/Builtins.def', 'BUILTIN');

async function loadGrammar() {
  const wasm = fs.readFileSync(requireModule.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => scopeName === 'source.fed'
      ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath)
      : null,
  });
  return registry.loadGrammar('source.fed');
}

// Each line's tokens: [{start, end, scopes}] in UTF-16 units.
function tokenize(grammar, lines) {
  let stack = vsctm.INITIAL;
  return lines.map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, scopes: t.scopes }));
  });
}

function fedFiles(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fedFiles(p, out);
    else if (e.name.endsWith('.fed')) out.push(p);
  }
  return out;
}

// fedc's tokens: {line, col (UTF-16, 0-based), length, kind, text}.
function lexerTokens(file, byteLines) {
  let out;
  try {
    out = execFileSync(fedc, ['--emit=tokens', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    return null; // the lexer rejects the file: nothing to compare with
  }
  const tokens = [];
  for (const line of out.toString('utf8').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) '(.*)'$/.exec(line);
    if (!m || m[3] === 'EOF') continue;
    const ln = Number(m[1]) - 1;
    const col = byteLines[ln].subarray(0, Number(m[2]) - 1).toString('utf8').length;
    tokens.push({ line: ln, col, kind: m[3], text: m[4] });
  }
  return tokens;
}

function scopesAt(lineTokens, col) {
  const t = lineTokens.find((x) => x.start <= col && col < x.end);
  return t ? t.scopes : [];
}

function checkFile(grammar, file, problems) {
  const bytes = fs.readFileSync(file);
  const byteLines = [];
  for (let start = 0; start <= bytes.length;) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    byteLines.push(bytes.subarray(start, end));
    start = end + 1;
  }
  const lines = byteLines.map((b) => b.toString('utf8').replace(/\r$/, ''));
  const scoped = tokenize(grammar, lines);
  const tokens = lexerTokens(file, byteLines);
  if (!tokens) return false;
  const where = (t) => `${path.relative(sourceDir, file)}:${t.line + 1}:${t.col + 1}`;
  const covered = lines.map((l) => new Uint8Array(l.length));
  tokens.forEach((t, i) => {
    const scopes = scopesAt(scoped[t.line], t.col);
    const has = (prefix) => scopes.some((s) => s.startsWith(prefix));
    const next = tokens[i + 1];
    let want = kindScopes[t.kind];
    const prev = tokens[i - 1];
    if (t.kind === 'IDENT') {
      if (prev && prev.kind === 'KW_FN') want = 'entity.name.function';
      else if (intrinsics.has(t.text)) want = 'support.function.intrinsic';
      else if (builtins.has(t.text) && next && next.line === t.line &&
               (next.kind === 'LPAREN' || next.kind === 'LT'))
        want = 'support.function.builtin';
      else if (scopes.some((s) => notAName.test(s)))
        problems.push(`${where(t)}: name '${t.text}' scoped ${scopes.join(' ')}`);
    }
    if (want && !has(want))
      problems.push(`${where(t)}: ${t.kind} '${t.text}' wants ${want}, has ${scopes.join(' ')}`);
    const length = t.kind === 'STRING' ? lines[t.line].indexOf('"', t.col + 1) + 1 - t.col
                                       : t.text.length;
    covered[t.line].fill(1, t.col, t.col + Math.max(length, 1));
  });
  // What the lexer skipped: blanks and comments only.
  lines.forEach((l, ln) => {
    for (let c = 0; c < l.length; ++c) {
      if (covered[ln][c] || /\s/.test(l[c])) continue;
      const scopes = scopesAt(scoped[ln], c);
      if (!scopes.some((s) => s.startsWith('comment.'))) {
        problems.push(`${path.relative(sourceDir, file)}:${ln + 1}:${c + 1}: '${l[c]}' outside tokens is not comment (${scopes.join(' ')})`);
        break;
      }
    }
  });
  return true;
}

function snapshot(grammar) {
  const lines = fs.readFileSync(snapshotInput, 'utf8').split('\n');
  const out = [];
  tokenize(grammar, lines).forEach((tokens, ln) => {
    for (const t of tokens) {
      const text = lines[ln].slice(t.start, t.end);
      if (!text.trim()) continue;
      out.push(`${ln + 1}:${t.start + 1} ${JSON.stringify(text)} ${t.scopes.slice(1).join(' ')}`);
    }
  });
  return out.join('\n') + '\n';
}

async function main() {
  const grammar = await loadGrammar();
  const files = ['examples', 'stdlib', 'test', 'bench']
    .flatMap((d) => fedFiles(path.join(sourceDir, d), [])).sort();
  const problems = [];
  let compared = 0;
  for (const f of files) if (checkFile(grammar, f, problems)) ++compared;
  console.log(`tokenized ${files.length} files, ${compared} compared with fedc's lexer`);
  const got = snapshot(grammar);
  if (update) {
    fs.writeFileSync(snapshotPath, got);
    console.log(`wrote ${path.relative(sourceDir, snapshotPath)}`);
  } else if (got !== fs.readFileSync(snapshotPath, 'utf8')) {
    const want = fs.readFileSync(snapshotPath, 'utf8').split('\n');
    const have = got.split('\n');
    const i = have.findIndex((l, k) => l !== want[k]);
    problems.push(`scopes of ${path.relative(sourceDir, snapshotInput)} differ from the snapshot ` +
                  `at entry ${i + 1}:\n  want ${want[i]}\n  have ${have[i]}\n` +
                  `(after an intended change: grammar_test.js ... --update)`);
  }
  if (problems.length) {
    console.error(problems.slice(0, 40).join('\n'));
    console.error(`${problems.length} problems`);
    process.exit(1);
  }
  console.log('grammar: ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
