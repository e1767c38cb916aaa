"""The suite's HTTP client, whatever the framework: each framework's ``http_client.py``
subclasses ``Client`` with the one thing that differs, how a request reaches the app."""

from abc import ABC, abstractmethod

PEER = "127.0.0.1"  # the socket peer address every framework's test client reports


class Client(ABC):
    """``get``/``post``/``delete``/``request`` with an optional bearer ``token``;
    responses have ``status_code``, ``headers`` (case-insensitive), ``text`` and ``json()``."""

    def request(self, method, path, *, token=None, json=None, content=None, headers=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self._send(method, path, headers=headers, json=json, content=content)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    @abstractmethod
    def _send(self, method, path, *, headers: dict, json, content):
        """Send ``method path`` to the app as given (``path`` may hold a query or be
        spelled oddly, like ``//auth/me``): ``headers`` as they are, the body from
        ``json`` (encoded, with its content type) or else the bytes of ``content``."""
