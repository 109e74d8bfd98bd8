"""Put/Get/DeleteBucketPolicy over the bucket-policy store.

The policy is stored as sent and answered as stored; ``shoal.auth.bucket_policies``
parses, checks and evaluates it (with identity policies, on every S3 request).
"""

from __future__ import annotations

from starlette.responses import Response

from shoal.api.errors import ApiError
from shoal.auth.bucket_policies import BucketPolicyStore
from shoal.errors import MalformedPolicyDocumentError


def answer(store: BucketPolicyStore, method: str, bucket: str, body: bytes) -> Response:
    """The answer to a ``?policy`` request on an existing ``bucket``."""
    if method == "GET":
        policy = store.get(bucket)
        if policy is None:
            raise ApiError("NoSuchBucketPolicy", "The bucket policy does not exist", 404)
        return Response(policy.text, media_type="application/json")
    if method == "PUT":
        try:
            text = body.decode("utf-8")
            store.put(bucket, text)
        except UnicodeDecodeError:
            raise ApiError("MalformedPolicy", "Policies must be UTF-8 JSON") from None
        except MalformedPolicyDocumentError as exc:
            raise ApiError("MalformedPolicy", exc.message) from None
        return Response(status_code=204)
    if method == "DELETE":
        store.delete(bucket)
        return Response(status_code=204)
    raise ApiError("MethodNotAllowed", f"{method} is not allowed on a bucket policy", 405)
