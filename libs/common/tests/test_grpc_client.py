"""Client channels: every call gets a deadline, even when the caller forgot one."""

import time
from concurrent import futures

import grpc
import pytest

from scenergy.common.grpc_client import make_channel


def test_a_call_without_timeout_still_has_a_deadline():
    server = grpc.server(futures.ThreadPoolExecutor(2))

    def slow(request, context):
        time.sleep(2)
        return request

    handler = grpc.method_handlers_generic_handler("test.Slow", {"Echo": grpc.unary_unary_rpc_method_handler(slow)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        channel = make_channel(f"127.0.0.1:{port}", default_deadline_s=0.3)
        echo = channel.unary_unary("/test.Slow/Echo")
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            echo(b"hi")
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 1.5
        channel.close()
    finally:
        server.stop(0)
