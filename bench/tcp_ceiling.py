#!/usr/bin/env python3
"""The kernel's own TCP ceiling between two namespaces, for bench/rnc-ceiling.sh.

No relay can beat this: the sender hands a file in tmpfs to the socket
with sendfile(2) (no pipe, no copy through user space), the receiver
discards with recv(MSG_TRUNC) (no copy out of the kernel). Python 3
standard library only; it talks only to the address it is given.

  tcp_ceiling.py recv ADDR PORT            # prints the bytes received
  tcp_ceiling.py send ADDR PORT FILE       # sends FILE, then FIN
"""

import os
import socket
import sys

CHUNK = 1 << 20


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("recv", "send"):
        sys.exit(__doc__)
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "recv":
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(1)
        srv.settimeout(60)
        conn, _ = srv.accept()
        conn.settimeout(120)
        buf = bytearray(CHUNK)
        total = 0
        while True:
            n = conn.recv_into(buf, CHUNK, socket.MSG_TRUNC)
            if n == 0:
                break
            total += n
        print(total)
    else:
        conn = socket.create_connection((addr, port), timeout=60)
        conn.settimeout(None)  # sendfile on a blocking socket
        fd = os.open(sys.argv[4], os.O_RDONLY)
        size = os.fstat(fd).st_size
        off = 0
        while off < size:
            off += os.sendfile(conn.fileno(), fd, off, min(size - off, 1 << 24))
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)


if __name__ == "__main__":
    main()
