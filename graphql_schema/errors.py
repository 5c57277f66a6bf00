"""GraphQL errors with stable codes, and masking of the unexpected ones."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain import request

log = logging.getLogger("mhub.graphql")


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


class MaskUnexpectedErrors(SchemaExtension):
    """Replace errors that no code meant to show (bugs, outages) with a request id.

    Errors raised on purpose are GraphQLErrors with a code (permissions, bad input,
    upstream unavailable) or come from parsing and validation; they pass unchanged.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._mask(error) for error in result.errors]

    @staticmethod
    def _mask(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error
        request_id = request.request_id.get() or "-"
        log.error(
            "unexpected error in %s",
            error.path,
            exc_info=original,
            extra={"graphql_path": error.path},
        )
        return GraphQLError(
            f"服务器内部错误，请联系管理员并提供请求编号 {request_id}",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
