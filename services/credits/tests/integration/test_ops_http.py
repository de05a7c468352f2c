"""The credits HTTP side: health, readiness and metrics."""

from credits.domain import commands
from credits.entrypoints.grpc_server import create_ops_app
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import GENERATION
from scenergy.credits.v1 import credits_pb2 as pb


def test_health_readiness_and_metrics(container, stub, call_metadata, open_client):
    client_id = open_client(funds=10)
    container.service.reserve_hold(commands.ReserveHold(client_id, 3, 60, new_id("key")), GENERATION)
    stub.GetBalance(pb.GetBalanceRequest(client_id=client_id), metadata=call_metadata(GENERATION), timeout=5)
    client = create_ops_app(container).test_client()

    health = client.get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok", "service": "credits"}
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in health.headers["Content-Security-Policy"]

    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok"}

    metrics = client.get("/metrics").get_data(as_text=True)
    assert "credits_active_holds" in metrics
    assert 'grpc_server_handled_total{code="OK",method="/scenergy.credits.v1.CreditsService/GetBalance"}' in metrics
    assert "http_requests_total" in metrics


def test_unknown_paths_get_the_json_error_envelope(container):
    response = create_ops_app(container).test_client().get("/nope", headers={"X-Request-ID": "req-12345678"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.json["request_id"] == "req-12345678"
    assert response.headers["X-Request-ID"] == "req-12345678"
