#!/usr/bin/env python3
"""Drives `fedc lsp` as an editor would and checks every answer.

  initialize -> didOpen a file with a placement error -> publishDiagnostics
  with the command line's message, [Id] and range (and its notes) ->
  didChange fixing it -> empty diagnostics -> hover on a `let` shows its
  type and placement -> definition of called local fns -> completion ->
  malformed JSON-RPC gets error responses and the server keeps serving ->
  shutdown, exit: status 0.

Then: positions in UTF-16 (the default) and UTF-8 (when offered), and the
exit statuses without shutdown (exit: 1, end of input: 1).

usage: lsp_test.py FEDC SOURCE_DIR
"""
import json
import os
import queue
import re
import subprocess
import sys
import threading

FEDC, SRC = sys.argv[1], sys.argv[2]
INPUT = os.path.join(SRC, "test", "lsp", "Inputs", "placement.fed")
URI = "file://" + os.path.abspath(INPUT)
TIMEOUT = 60


def fail(why):
    sys.exit(f"lsp test: {why}")


class Client:
    def __init__(self, *args):
        self.proc = subprocess.Popen([FEDC, "lsp", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.messages = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message):
        body = json.dumps(message).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                   "params": params})
        return self.expect(lambda m: m.get("id") == self.next_id, method)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def expect(self, matches, what):
        while True:
            try:
                m = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                fail(f"no answer to {what} in {TIMEOUT} s")
            if m is None:
                fail(f"the server ended before answering {what}")
            if matches(m):
                return m

    def diagnostics(self, uri):
        return self.expect(
            lambda m: m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri, f"diagnostics of {uri}")["params"]

    def finish(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=TIMEOUT)


def position_of(text, needle, occurrence=0, offset=0):
    """The 0-based line and UTF-16 character of `needle` in `text`."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return {"line": line,
            "character": len(text[start:index].encode("utf-16-le")) // 2}


def check(cond, why):
    if not cond:
        fail(why)


def command_line_errors(path):
    r = subprocess.run([FEDC, "-fsyntax-only", path], capture_output=True,
                       text=True, env={**os.environ, "NO_COLOR": "1"})
    return re.findall(r"^.*?:(\d+):(\d+): (error|note): (.*)$", r.stderr, re.M)


def check_placement_error(diags, text):
    check(len(diags) == 1, f"one diagnostic expected: {diags}")
    d = diags[0]
    cli = command_line_errors(INPUT)
    line, col, _, message = cli[0]
    check(d["message"] == message,
          f"message differs from the command line:\n  {d['message']}\n  {message}")
    check(message.endswith("[ClientValueAtServer]") and
          d["code"] == "ClientValueAtServer" and d["severity"] == 1,
          f"id or severity: {d}")
    want = {"start": position_of(text, "trained;"),
            "end": position_of(text, "trained;", offset=len("trained"))}
    check(d["range"] == want, f"range {d['range']}, want {want}")
    check(want["start"] == {"line": int(line) - 1, "character": int(col) - 1},
          f"the command line says {line}:{col}")
    notes = [n["message"] for n in d.get("relatedInformation", [])]
    check(notes == [n[3] for n in cli[1:]], f"notes {notes}, command line {cli[1:]}")
    placed = d["relatedInformation"][0]["location"]
    check(placed["uri"] == URI and
          placed["range"]["start"] == position_of(text, "federated_map("),
          f"the 'placed here' note points at {placed}")


def main_session():
    text = open(INPUT).read()
    c = Client()
    init = c.request("initialize", {"processId": None, "rootUri": None,
                                    "capabilities": {}})
    caps = init["result"]["capabilities"]
    check(caps["positionEncoding"] == "utf-16" and caps["hoverProvider"] and
          caps["definitionProvider"] and caps["textDocumentSync"]["change"] == 1,
          f"capabilities: {caps}")
    c.notify("initialized", {})

    c.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "fed", "version": 1, "text": text}})
    check_placement_error(c.diagnostics(URI)["diagnostics"], text)
    # Hover answers for what was typed, also while the file has errors.
    hover = c.request("textDocument/hover", {"textDocument": {"uri": URI},
                      "position": position_of(text, "trained;")})
    check("let trained: {Model}@CLIENTS" in hover["result"]["contents"]["value"],
          f"hover in a file with errors: {hover}")

    fixed = text.replace("return trained;",
                         "return federated_mean(trained, weight: federated_map(size, data));")
    c.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2},
        "contentChanges": [{"text": fixed}]})
    after = c.diagnostics(URI)
    check(after["diagnostics"] == [] and after["version"] == 2,
          f"after the fix: {after}")

    doc = {"uri": URI}
    for where in (position_of(fixed, "trained ="), position_of(fixed, "let trained")):
        hover = c.request("textDocument/hover", {"textDocument": doc, "position": where})
        value = hover["result"]["contents"]["value"]
        check("let trained: {Model}@CLIENTS" in value and
              "one value per client" in value, f"hover at {where}: {value}")
    hover = c.request("textDocument/hover", {"textDocument": doc,
                      "position": position_of(fixed, "federated_broadcast(", offset=3)})
    check("federated_broadcast(...): Model@CLIENTS\n" in hover["result"]["contents"]["value"],
          f"broadcast: {hover}")

    # A local fn called from a local fn, and one passed to federated_map.
    for call, decl in (("predict(cur", "predict(m:"), ("train, federated", "train(m:"),
                       ("size, data", "size(data:")):
        at = c.request("textDocument/definition", {
            "textDocument": doc, "position": position_of(fixed, call, offset=2)})
        want = {"uri": URI, "range": {"start": position_of(fixed, decl),
                                      "end": position_of(fixed, decl, offset=len(decl.split("(")[0]))}}
        check(at["result"] == want, f"definition of {call}: {at['result']}, want {want}")
    # A local, a struct field, a struct (from a literal and from a type).
    for use, offset, decl in (("cur.w -", 0, "cur = m"), ("m.w *", 2, "w: f32[4]"),
                              ("Model { w: cur", 0, "Model { w: f32"),
                              ("Model@SERVER", 0, "Model { w: f32")):
        at = c.request("textDocument/definition", {
            "textDocument": doc, "position": position_of(fixed, use, offset=offset)})
        check(at["result"] and at["result"]["range"]["start"] == position_of(fixed, decl),
              f"definition at {use}: {at['result']}")
    items = {i["label"]: i for i in c.request("textDocument/completion", {
        "textDocument": doc, "position": {"line": 0, "character": 0}})["result"]["items"]}
    for label in ("federated_map", "federated_secure_sum", "federated_secure_mean",
                  "softmax", "one_hot",
                  "f32", "u8", "let", "CLIENTS", "train", "Model", "grad",
                  "value_and_grad"):
        check(label in items, f"completion lacks {label}")

    malformed(c)

    check(c.request("shutdown", None)["result"] is None, "shutdown")
    after = c.request("textDocument/hover", {"textDocument": doc,
                                              "position": {"line": 0, "character": 0}})
    check(after["error"]["code"] == -32600, f"a request after shutdown: {after}")
    c.notify("exit", None)
    status = c.proc.wait(timeout=TIMEOUT)
    check(status == 0, f"exit after shutdown: status {status}")


def malformed(c):
    def error_for(raw, code, what, id=None):
        c.raw(raw)
        m = c.expect(lambda m: "error" in m, what)
        check(m["error"]["code"] == code and m["id"] == id,
              f"{what}: {m}, want code {code} id {id}")

    def framed(body):
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    error_for(framed(b"{not json"), -32700, "a body that is not JSON")
    error_for(framed(b'"\xff\xfe"'), -32700, "a body that is not UTF-8")
    error_for(framed(b"[]"), -32600, "a batch")
    error_for(framed(b'{"jsonrpc": "2.0", "id": 77}'), -32600, "no method", 77)
    error_for(framed(b'{"jsonrpc": "2.0", "id": {"x": 1}, "method": "shutdown"}'),
              -32600, "an object id")
    error_for(framed(b'{"jsonrpc": "2.0", "id": 78, "method": "no/such"}'),
              -32601, "an unknown method", 78)
    error_for(framed(b'{"jsonrpc": "2.0", "id": 79, "method": "textDocument/hover",'
                     b' "params": {"position": "here"}}'), -32602, "bad params", 79)
    error_for(b"Content-Type: x\r\n\r\n", -32700, "a header without Content-Length")
    error_for(b"Content-Length: ten\r\n\r\n", -32700, "a bad Content-Length")
    # A body over 64 MiB is answered before it is skipped (the next 100
    # MiB sent would be read and dropped; this session sends a real one).
    error_for(b"Content-Length: %d\r\n\r\n" % (100 << 20), -32600, "a huge message")
    c.raw(b" " * (100 << 20))
    # Notifications that make no sense are ignored; the server still answers.
    c.notify("textDocument/didChange", {"textDocument": {"uri": 5}})
    c.notify("textDocument/didOpen", {"textDocument": None})
    c.notify("no/such/notification", [1, 2])
    check(c.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere.fed"},
                                           "position": {"line": 0, "character": 0}})
          ["result"] is None, "hover in a document that is not open")


def encodings():
    # 𝔽 is two UTF-16 units and four UTF-8 bytes; é one unit, two bytes.
    text = "fn f() -> i32 { /* 𝔽é */ return y; }\n"
    for offer, unit in ((None, "utf-16"), (["utf-8", "utf-16"], "utf-8")):
        c = Client("--stdio")
        caps = {"general": {"positionEncodings": offer}} if offer else {}
        got = c.request("initialize", {"capabilities": caps})["result"]["capabilities"]
        check(got["positionEncoding"] == unit, f"offered {offer}: {got}")
        c.notify("textDocument/didOpen", {"textDocument": {
            "uri": "untitled:enc", "languageId": "fed", "version": 1, "text": text}})
        d = c.diagnostics("untitled:enc")["diagnostics"][0]
        prefix = text[:text.index("y;")]
        want = len(prefix.encode("utf-16-le")) // 2 if unit == "utf-16" else len(prefix.encode())
        check(d["range"]["start"] == {"line": 0, "character": want},
              f"{unit}: {d['range']}, want character {want}")
        hover = c.request("textDocument/hover", {"textDocument": {"uri": "untitled:enc"},
                          "position": {"line": 0, "character": want + 9}})
        check(hover["result"] is None or "error" not in hover, "hover after the error")
        c.notify("exit", None)
        check(c.proc.wait(timeout=TIMEOUT) == 1, "exit without shutdown: status 1")
    c = Client()
    check(c.finish() == 1, "end of input without shutdown: status 1")


main_session()
encodings()
print("lsp test: ok")
