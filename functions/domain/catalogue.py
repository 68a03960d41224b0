"""The central catalogue of regions: every pipeline takes its regions, AZs/cells, time zones,
traffic classes and holiday calendars from here. Adding a region here adds it to every
pipeline whose last wave says "all remaining regions".

AZs are listed by AZ ID (stable across accounts, unlike AZ names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TrafficClass = Literal["low", "high"]


@dataclass(frozen=True, kw_only=True)
class Region:
    name: str
    azs: tuple[str, ...]
    time_zone: str  # IANA name: deployment windows are local business hours
    traffic: TrafficClass
    holiday_country: str  # ISO 3166 code for the `holidays` package
    holiday_subdivision: str | None = None


def _r(
    name: str,
    prefix: str,
    az_numbers: tuple[int, ...],
    time_zone: str,
    traffic: TrafficClass,
    country: str,
    subdivision: str | None = None,
) -> Region:
    return Region(
        name=name,
        azs=tuple(f"{prefix}-az{n}" for n in az_numbers),
        time_zone=time_zone,
        traffic=traffic,
        holiday_country=country,
        holiday_subdivision=subdivision,
    )


REGIONS: tuple[Region, ...] = (
    _r("us-east-1", "use1", (1, 2, 3, 4, 5, 6), "America/New_York", "high", "US", "VA"),
    _r("us-east-2", "use2", (1, 2, 3), "America/New_York", "high", "US", "OH"),
    _r("us-west-1", "usw1", (1, 3), "America/Los_Angeles", "low", "US", "CA"),
    _r("us-west-2", "usw2", (1, 2, 3, 4), "America/Los_Angeles", "high", "US", "OR"),
    _r("ca-central-1", "cac1", (1, 2, 4), "America/Toronto", "low", "CA", "QC"),
    _r("sa-east-1", "sae1", (1, 2, 3), "America/Sao_Paulo", "low", "BR", "SP"),
    _r("eu-west-1", "euw1", (1, 2, 3), "Europe/Dublin", "high", "IE"),
    _r("eu-west-2", "euw2", (1, 2, 3), "Europe/London", "high", "GB"),
    _r("eu-west-3", "euw3", (1, 2, 3), "Europe/Paris", "low", "FR"),
    _r("eu-central-1", "euc1", (1, 2, 3), "Europe/Berlin", "high", "DE", "HE"),
    _r("eu-central-2", "euc2", (1, 2, 3), "Europe/Zurich", "low", "CH", "ZH"),
    _r("eu-north-1", "eun1", (1, 2, 3), "Europe/Stockholm", "low", "SE"),
    _r("eu-south-1", "eus1", (1, 2, 3), "Europe/Rome", "low", "IT"),
    _r("ap-northeast-1", "apne1", (1, 2, 4), "Asia/Tokyo", "high", "JP"),
    _r("ap-northeast-2", "apne2", (1, 2, 3, 4), "Asia/Seoul", "high", "KR"),
    _r("ap-northeast-3", "apne3", (1, 2, 3), "Asia/Tokyo", "low", "JP"),
    _r("ap-southeast-1", "apse1", (1, 2, 3), "Asia/Singapore", "high", "SG"),
    _r("ap-southeast-2", "apse2", (1, 2, 3), "Australia/Sydney", "high", "AU", "NSW"),
    _r("ap-southeast-3", "apse3", (1, 2, 3), "Asia/Jakarta", "low", "ID"),
    _r("ap-south-1", "aps1", (1, 2, 3), "Asia/Kolkata", "high", "IN"),
    _r("ap-east-1", "ape1", (1, 2, 3), "Asia/Hong_Kong", "low", "HK"),
    _r("me-south-1", "mes1", (1, 2, 3), "Asia/Bahrain", "low", "BH"),
    _r("me-central-1", "mec1", (1, 2, 3), "Asia/Dubai", "low", "AE"),
    _r("af-south-1", "afs1", (1, 2, 3), "Africa/Johannesburg", "low", "ZA"),
)

REGIONS_BY_NAME: dict[str, Region] = {region.name: region for region in REGIONS}

#: Company-wide alarms any pipeline may name as blockers (e.g. a large-scale event). They are
#: owned by the operations team and exist in every region.
COMPANY_ALARMS: tuple[str, ...] = ("company-large-scale-event", "company-deployment-freeze")


class Catalogue:
    """A view of a region list; tests and tools can build one over other regions."""

    def __init__(
        self,
        regions: tuple[Region, ...] = REGIONS,
        company_alarms: tuple[str, ...] = COMPANY_ALARMS,
    ) -> None:
        self.regions = regions
        self.by_name = {region.name: region for region in regions}
        self.company_alarms = company_alarms

    def region(self, name: str) -> Region | None:
        return self.by_name.get(name)


DEFAULT_CATALOGUE = Catalogue()
