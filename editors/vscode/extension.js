// Starts `fedc lsp` for .fed files. Colours, brackets and comments come
// from package.json's contributions and work without this file's
// dependency; the language client needs `npm install` in this folder.
'use strict';
const vscode = require('vscode');

let client;

function activate(context) {
  let LanguageClient;
  try {
    ({ LanguageClient } = require('vscode-languageclient/node'));
  } catch (e) {
    vscode.window.showWarningMessage(
      'fedc: run `npm install` in the extension folder for errors, hover and completion.');
    return;
  }
  const config = vscode.workspace.getConfiguration('fedc');
  const args = ['lsp'];
  for (const dir of config.get('includePaths', [])) args.push('-I', dir);
  client = new LanguageClient(
    'fedc', 'fedc', { command: config.get('path', 'fedc'), args },
    { documentSelector: [{ scheme: 'file', language: 'fed' }] });
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
