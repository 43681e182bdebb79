"""The municipality's case system through the ZGW Zaken API 1.5.1: one zaak per outflow case, a status per stage,
the case manager as a role (by staff code), and a result when the case ends.

The standard knows no idempotency key, so every write first looks for what an earlier, unanswered attempt may
already have made: the zaak by its identificatie (the case reference), a status by its statustype, the result by
the zaak. The Idempotency-Key header goes along for servers that do honour it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

import jwt
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from config.regions import CaseSystem
from integrations.http import JsonApi, require
from integrations.ports import CounterpartRefused
from integrations.routing import Adapters
from weerthuis.domain.stages import Stage

CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


class ZgwZakenApi(Block):
    """De Zaken API (ZGW 1.5) van het zaaksysteem van de gemeente."""

    _block_type_name = "Weer Thuis zaaksysteem (ZGW Zaken API)"
    _block_type_slug = "weerthuis-zgw-zaken-api"
    _description = "Adres en sleutels van de ZGW Zaken API waarin Weer Thuis een zaak per uitstroomtraject bijhoudt."

    base_url: str = Field(
        title="Adres", description="Basis-URL van de Zaken API, bijv. https://zaken.gemeente.nl/zaken/api/v1"
    )
    client_id: str = Field(title="Client-ID", description="De client_id waarmee het zaaksysteem Weer Thuis kent.")
    secret: SecretStr = Field(title="Geheim", description="Het gedeelde geheim waarmee de JWT (HS256) wordt getekend.")
    user_id: str = Field(default="weerthuis", title="Gebruikers-ID in de JWT")
    user_representation: str = Field(default="Weer Thuis", title="Gebruikersnaam in de JWT")
    timeout_seconds: float = Field(default=10, gt=0, title="Time-out (seconden)")


def zgw_token(client_id: str, secret: str, *, user_id: str, user_representation: str, now: float) -> str:
    """The JWT the ZGW standard prescribes: HS256, issuer and client_id, issued-at, the acting user."""
    claims = {
        "iss": client_id,
        "iat": int(now),
        "client_id": client_id,
        "user_id": user_id,
        "user_representation": user_representation,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class ZgwCaseSystem:
    """The MunicipalCaseSystem port on a ZGW Zaken API; `systems` gives each region's zaaktype and types."""

    def __init__(self, api: JsonApi, systems: Mapping[str, CaseSystem], today: Callable[[], date] = date.today) -> None:
        self.api = api
        self.systems = systems
        self.today = today

    @classmethod
    def from_block(cls, block: ZgwZakenApi, systems: Mapping[str, CaseSystem], **kwargs: Any) -> ZgwCaseSystem:
        secret = block.secret.get_secret_value()

        def headers() -> dict[str, str]:
            token = zgw_token(
                block.client_id,
                secret,
                user_id=block.user_id,
                user_representation=block.user_representation,
                now=time.time(),
            )
            return {"Authorization": f"Bearer {token}", **CRS}

        today = kwargs.pop("today", date.today)
        api = JsonApi("zaaksysteem", block.base_url, timeout=block.timeout_seconds, headers=headers, **kwargs)
        return cls(api, systems, today)

    def close(self) -> None:
        self.api.close()

    def _system(self, region: str) -> CaseSystem:
        try:
            return self.systems[region]
        except KeyError:
            raise CounterpartRefused(f"zaaksysteem: regio {region} heeft geen zaaksysteem ingesteld") from None

    def _find(self, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        page = require(self.api.call("GET", path, params=params), "results", what=f"zaaksysteem: GET {path}")
        results = page["results"]
        if not isinstance(results, list):
            raise CounterpartRefused(f"zaaksysteem: GET {path}: results is geen lijst")
        return results[0] if results else None

    def zaak(self, reference: str, region: str) -> dict[str, Any] | None:
        system = self._system(region)
        return self._find("zaken", {"identificatie": reference, "bronorganisatie": system.bronorganisatie})

    def _zaak_url(self, reference: str, region: str) -> str:
        zaak = self.zaak(reference, region)
        if zaak is None:
            raise CounterpartRefused(f"zaaksysteem: zaak {reference} bestaat niet (nog niet geregistreerd?)")
        return str(require(zaak, "url", what="zaaksysteem: zaak")["url"])

    # The port ---------------------------------------------------------------------------------------------------

    def register_case(self, case: dict[str, Any], *, idempotency_key: str) -> str:
        """The zaak for this case (made once), with the case manager as behandelaar."""
        reference, region = case["reference"], case["region"]
        system = self._system(region)
        zaak = self.zaak(reference, region)
        if zaak is None:
            body = {
                "identificatie": reference,
                "bronorganisatie": system.bronorganisatie,
                "verantwoordelijkeOrganisatie": system.bronorganisatie,
                "zaaktype": system.zaaktype,
                "startdatum": self.today().isoformat(),
                "omschrijving": f"Uitstroom {case.get('institution_type', '')} {reference}".replace("  ", " "),
                "vertrouwelijkheidaanduiding": "vertrouwelijk",
            }
            zaak = self.api.call("POST", "zaken", json=body, idempotency_key=idempotency_key, expect=(201,))
        url = str(require(zaak, "url", what="zaaksysteem: POST zaken")["url"])
        if case.get("case_manager") and system.roltype_trajectbegeleider:
            self._add_role(url, system.roltype_trajectbegeleider, case["case_manager"], f"{idempotency_key}:rol")
        return url

    def _add_role(self, zaak_url: str, roltype: str, staff_code: str, idempotency_key: str) -> str:
        found = self._find(
            "rollen",
            {"zaak": zaak_url, "roltype": roltype, "betrokkeneIdentificatie__medewerker__identificatie": staff_code},
        )
        if found is not None:
            return str(found.get("url"))
        body = {
            "zaak": zaak_url,
            "betrokkeneType": "medewerker",
            "roltype": roltype,
            "roltoelichting": "trajectbegeleider",
            "betrokkeneIdentificatie": {"identificatie": staff_code},
        }
        rol = self.api.call("POST", "rollen", json=body, idempotency_key=idempotency_key, expect=(201,))
        return str(require(rol, "url", what="zaaksysteem: POST rollen")["url"])

    def set_status(self, status: dict[str, Any], *, idempotency_key: str) -> str:
        """The status for the stage the case entered; an end stage also records the result and closes the zaak."""
        reference, region, stage = status["reference"], status["region"], Stage(status["stage"])
        system = self._system(region)
        statustype = system.statustypen.get(stage.value)
        if statustype is None:
            return "geen statustype"  # this municipality does not track this stage
        zaak_url = self._zaak_url(reference, region)
        if stage.is_final:
            self._record_result(zaak_url, system.resultaattypen[stage.value], stage, f"{idempotency_key}:resultaat")
        found = self._find("statussen", {"zaak": zaak_url, "statustype": statustype})
        if found is not None:
            return str(found.get("url"))
        body = {
            "zaak": zaak_url,
            "statustype": statustype,
            "datumStatusGezet": datetime.now(UTC).isoformat(timespec="seconds"),
            "statustoelichting": stage.label,
        }
        made = self.api.call("POST", "statussen", json=body, idempotency_key=idempotency_key, expect=(201,))
        return str(require(made, "url", what="zaaksysteem: POST statussen")["url"])

    def _record_result(self, zaak_url: str, resultaattype: str, stage: Stage, idempotency_key: str) -> None:
        if self._find("resultaten", {"zaak": zaak_url}) is not None:
            return
        body = {"zaak": zaak_url, "resultaattype": resultaattype, "toelichting": stage.label}
        self.api.call("POST", "resultaten", json=body, idempotency_key=idempotency_key, expect=(201,))


def _load_block(name: str) -> ZgwZakenApi:
    return cast(ZgwZakenApi, ZgwZakenApi.load(name, _sync=True))  # type: ignore[call-arg]


class RegionalCaseSystems:
    """The MunicipalCaseSystem port over each region's own zaaksysteem: the block its region file names."""

    def __init__(
        self, systems: Mapping[str, CaseSystem], load_block: Callable[[str], ZgwZakenApi] | None = None
    ) -> None:
        self._for = Adapters(
            "zaaksysteem",
            {region: system.block for region, system in systems.items()},
            load_block or _load_block,
            lambda block: ZgwCaseSystem.from_block(block, systems),
            missing="heeft geen zaaksysteem ingesteld (zaaksysteem in het regiobestand)",
        )

    def register_case(self, case: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(case["region"]).register_case(case, idempotency_key=idempotency_key)

    def set_status(self, status: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(status["region"]).set_status(status, idempotency_key=idempotency_key)

    def close(self) -> None:
        self._for.close()
