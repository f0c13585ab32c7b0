"""Helpers for HTTP API tests."""

from __future__ import annotations

from werkzeug.test import Client

from support.remote_write import HEADERS, encode, write_request


def push(client: Client, series=(), metadata=(), exemplars=()) -> None:
    """remote_write through the connector; fails the test unless it answers 204."""
    response = client.post("/write", data=encode(write_request(series, metadata, exemplars)), headers=HEADERS)
    assert response.status_code == 204, response.get_data(as_text=True)
