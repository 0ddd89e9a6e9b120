"""The REST API: a FastAPI face on the public ``kaiten_analytics`` surface.

``kaiten api`` serves :func:`create_app` with uvicorn. Every handler is a plain ``def`` that
calls one ``kaiten.*`` method: the rules, queries and validation live in the library; this
package only maps HTTP to calls and library errors to RFC 9457 problems. Nothing in the
library imports it (it needs the ``api`` extra: FastAPI, uvicorn, Strawberry).
"""

from kaiten_analytics.api.app import create_app

__all__ = ["create_app"]
