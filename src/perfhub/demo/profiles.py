"""The demo's athletes: varied, plausible profiles with names and zones from several regions.

Pure and deterministic (``numpy.random.default_rng``), like the nights generated for them in
:mod:`perfhub.demo.synthetic`.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import numpy as np

from perfhub.wearables.vendors.registry import LINKABLE_VENDORS

VENDORS: tuple[str, ...] = LINKABLE_VENDORS


@dataclass(frozen=True)
class AthleteProfile:
    name: str
    email_local: str
    tz: str  # IANA zone, e.g. "Europe/Oslo"
    ln_rmssd_mean: float  # individual baseline of ln(rMSSD in ms)
    ln_rmssd_sd: float  # day-to-day SD of ln(rMSSD) ≈ CV of rMSSD
    resting_hr: float  # bpm
    sleep_mean_min: float
    sleep_sd_min: float
    vendor: str  # "oura" | "whoop" | "google"


def check_seed(seed: int) -> int:
    if seed < 0:
        raise ValueError("seed must be >= 0")
    return int(seed)


# --------------------------------------------------------------------------- profiles

# (time zones, first names, last names) — names roughly matched to the region's zones.
_REGION_TEXT: tuple[tuple[str, str, str], ...] = (
    (
        "Europe/Oslo Europe/Stockholm Europe/Copenhagen Europe/Helsinki",
        "Ingrid Sigrid Astrid Nora Maja Lars Erik Magnus Henrik Jonas Aksel Tuva Elin Oskar Siri",
        "Johansen Berg Haugen Lindqvist Nilsson Solberg Dahl Virtanen Løvås Strand Bakken Holm Ekström Moen",
    ),
    (
        "Europe/London Europe/Dublin",
        "Ada Charlotte Emily Grace Olivia James Thomas Oliver Harry Callum Niamh Rhys",
        "Lovelace Brown Walsh Hughes Bennett Clarke Murphy Evans Fletcher Byrne Price",
    ),
    (
        "Europe/Berlin Europe/Vienna Europe/Zurich",
        "Lena Hannah Johanna Felix Lukas Maximilian Jonas Paula Moritz Greta",
        "Müller Schneider Fischer Weber Becker Hoffmann Wagner Krüger Huber Brunner",
    ),
    (
        "Europe/Paris Europe/Brussels",
        "Camille Léa Chloé Manon Hugo Louis Théo Jules Inès Mathis",
        "Martin Bernard Dubois Lefèvre Moreau Laurent Girard Rousseau Peeters",
    ),
    (
        "Europe/Madrid Europe/Rome Europe/Lisbon",
        "Lucía Sofía Martina Giulia Chiara Mateo Pablo Alejandro Lorenzo Matteo Inês Tiago",
        "García Fernández López Martínez Rossi Bianchi Romano Esposito Silva Ferreira Navarro",
    ),
    (
        "America/New_York America/Chicago America/Denver America/Los_Angeles",
        "Emma Ava Madison Hailey Jordan Tyler Ethan Marcus Jasmine Caleb Brooke Dylan Maya Andre",
        "Johnson Williams Miller Davis Robinson Carter Hayes Reyes Brooks Coleman Nguyen Patel",
    ),
    (
        "America/Sao_Paulo America/Bogota America/Mexico_City",
        "Ana Beatriz Valentina Camila Gabriel Rafael Diego Santiago Lucas",
        "Oliveira Santos Souza Rodríguez Gómez Hernández Costa Ramírez",
    ),
    (
        "Africa/Nairobi Africa/Addis_Ababa",
        "Faith Mercy Brigid Eliud Geoffrey Kenenisa Tirunesh Abel Hellen",
        "Kipchoge Chebet Kiprop Wanjiru Bekele Dibaba Tola Obiri Rotich",
    ),
    (
        "Asia/Tokyo",
        "Yui Haruka Aoi Sora Ren Haruto Daiki Yuki Kenta Mei",
        "Sato Suzuki Takahashi Tanaka Watanabe Nakamura Ito Kobayashi Yamamoto",
    ),
    (
        "Asia/Seoul",
        "Minjun Seoyeon Jiwoo Hyunwoo Jisoo Dohyun Yerin Sungmin",
        "Kim Park Choi Jung Kang Yoon Lim Han",
    ),
    (
        "Australia/Sydney Australia/Melbourne Pacific/Auckland",
        "Isla Ruby Matilda Zoe Jack Cooper Riley Lachlan Mia Tane",
        "Smith Wilson Taylor Anderson Thompson Walker Mitchell Ngata Kelly",
    ),
)
_REGIONS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (tuple(zones.split()), tuple(firsts.split()), tuple(lasts.split()))
    for zones, firsts, lasts in _REGION_TEXT
)
# Every zone a demo athlete can live in (tests seed at every hour in each of them).
DEMO_ZONES: tuple[str, ...] = tuple(zone for zones, _, _ in _REGIONS for zone in zones)

_TRANSLIT = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "ß": "ss", "đ": "d", "ł": "l"})


def _email_local(first: str, last: str) -> str:
    def ascii_part(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())

    return f"{ascii_part(first)}.{ascii_part(last)}"


def make_profiles(count: int, seed: int = 7) -> list[AthleteProfile]:
    """``count`` varied, plausible athletes with unique names and e-mail local parts."""
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = np.random.default_rng(check_seed(seed))
    profiles: list[AthleteProfile] = []
    names: set[str] = set()
    locals_: set[str] = set()
    for i in range(count):
        zones, firsts, lasts = _REGIONS[int(rng.integers(len(_REGIONS)))]
        name = ""
        for _ in range(40):
            first = firsts[int(rng.integers(len(firsts)))]
            last = lasts[int(rng.integers(len(lasts)))]
            name = f"{first} {last}"
            if name not in names:
                break
        if name in names:  # region exhausted: still a unique display name
            name = f"{name} {i + 1}"
        names.add(name)
        first, last = name.split(" ", 1)
        local = _email_local(first, last.replace(" ", ""))
        if local in locals_:
            n = 2
            while f"{local}{n}" in locals_:
                n += 1
            local = f"{local}{n}"
        locals_.add(local)

        tz = zones[int(rng.integers(len(zones)))]
        # Baseline rMSSD ~ 25–120 ms (ln 3.22–4.79); endurance athletes skew high.
        ln_mean = float(np.clip(rng.normal(4.05, 0.33), math.log(26.0), math.log(118.0)))
        ln_sd = float(rng.uniform(0.05, 0.11))
        # Higher HRV tends to go with lower resting HR.
        rhr = float(np.clip(51.0 - 9.0 * (ln_mean - 4.05) + rng.normal(0.0, 4.0), 40.0, 62.0))
        if rng.random() < 0.2:  # chronically short sleeper
            sleep_mean = float(rng.uniform(360.0, 405.0))
        else:
            sleep_mean = float(rng.uniform(420.0, 510.0))
        sleep_sd = float(rng.uniform(28.0, 55.0))
        vendor = VENDORS[int(rng.choice(len(VENDORS), p=[0.5, 0.3, 0.2]))]
        profiles.append(
            AthleteProfile(
                name=name,
                email_local=local,
                tz=tz,
                ln_rmssd_mean=round(ln_mean, 4),
                ln_rmssd_sd=round(ln_sd, 4),
                resting_hr=round(rhr, 1),
                sleep_mean_min=round(sleep_mean, 1),
                sleep_sd_min=round(sleep_sd, 1),
                vendor=vendor,
            )
        )
    return profiles
