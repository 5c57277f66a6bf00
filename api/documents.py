"""`GET /documents/{id}?exp=…&sig=…`: a stored PDF through a short-lived signed link.

The link is the credential: GraphQL hands it only to callers allowed to see the
document (`Pregnancy.handbookDocuments`, `inspectionReports`), it names one document
and stops working after a few minutes, so it can be opened by a browser tab or a
print dialog that carries no session.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.services import Services
from domain.document.service import check_signature, get_document


async def download(request: Request) -> Response:
    services: Services = request.app.state.services
    document_id = int(request.path_params["document_id"])
    refused = check_signature(
        services.settings,
        document_id,
        request.query_params.get("exp", ""),
        request.query_params.get("sig", ""),
    )
    if refused is not None:
        return JSONResponse({"error": refused}, status_code=403)
    async with services.db.reader() as session:
        document = await get_document(session, document_id)
        if document is None:
            return JSONResponse({"error": "文件不存在"}, status_code=404)
        content, media_type, filename = document.content, document.media_type, document.filename
    disposition = f"inline; filename*=UTF-8''{quote(filename)}"
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": disposition,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [Route("/documents/{document_id:int}", download, methods=["GET"])]
