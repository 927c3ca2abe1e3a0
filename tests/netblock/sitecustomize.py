"""Put this folder on PYTHONPATH of a subprocess to forbid network sockets in it.

Creating an AF_INET/AF_INET6 socket raises OSError, so any code path that would reach
the network fails loudly instead (Unix sockets and pipes still work).
"""
import socket

_real_socket = socket.socket


class _Blocked(_real_socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        fam = socket.AF_INET if family == -1 else family
        if fileno is None and fam in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network blocked by test (socket family {fam})")
        super().__init__(family, type, proto, fileno)


socket.socket = _Blocked
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("network blocked by test"))
