"""A TCP fault proxy for test/Remote (loopback only): forwards 127.0.0.1:PORT
to 127.0.0.1:TARGET and does what CONTROL (a file) says, checked every 20 ms:
`pass` forwards; `stall` stops forwarding in both directions (a link that
loses everything: TCP buffers fill, nothing arrives) until `pass` again;
`reset` closes every open connection with an RST and then forwards new
ones. usage: fault_proxy.py TARGET PORT_FILE CONTROL"""
import os
import select
import socket
import struct
import sys
import threading
import time

target, port_file, control = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mode = "pass"
pairs = []
lock = threading.Lock()


def read_mode():
    try:
        return open(control).read().strip() or "pass"
    except OSError:
        return "pass"


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def pump(a, b):
    try:
        while True:
            if mode == "stall":
                time.sleep(0.02)
                continue
            ready, _, _ = select.select([a, b], [], [], 0.05)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    raise OSError("closed")
                (b if s is a else a).sendall(data)
    except (OSError, ValueError):
        reset(a)
        reset(b)


def watch():
    global mode
    while True:
        m = read_mode()
        if m == "reset":
            with lock:
                for a, b in pairs:
                    reset(a)
                    reset(b)
                pairs.clear()
            open(control, "w").write("pass")
            m = "pass"
        mode = m
        time.sleep(0.02)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
tmp = port_file + ".tmp"
open(tmp, "w").write(f"{listener.getsockname()[1]}\n")
os.rename(tmp, port_file)
threading.Thread(target=watch, daemon=True).start()
while True:
    client, _ = listener.accept()
    try:
        upstream = socket.create_connection(("127.0.0.1", target))
    except OSError:
        reset(client)
        continue
    with lock:
        pairs.append((client, upstream))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
