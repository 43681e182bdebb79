"""Check traffic against an OpenAPI contract: every request an adapter sends and every response a fake returns.

`Contract(spec_path).hooks()` gives httpx event hooks; give them to the adapter's client in a test and each
exchange is validated by openapi-core (integrations/counterparts/contract.py, which the fakes use server-side too).
What failed is kept in `problems` (a hook must not raise into the adapter's error handling, which would hide it);
a test asserts `contract.problems == []` and that `contract.checked` grew.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from integrations.counterparts.contract import ContractCheck

SPECS = Path(__file__).parent / "specs"


class Contract(ContractCheck):
    def check_exchange(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        url = urlparse(str(request.url))
        self.check(
            (
                request.method,
                f"{url.scheme}://{url.netloc}",
                url.path,
                url.query,
                {k.lower(): v for k, v in request.headers.items()},
                request.content,
            ),
            (response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content),
        )

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.check_exchange]}
