"""Turkey's 81 provinces and 7 geographical regions, so that a city written ``ISTANBUL``, ``istanbul`` or
``Sanliurfa`` (a keyboard without Turkish letters) is stored as ``İstanbul`` / ``Şanlıurfa`` and its region is known
even when the file has no region column. Names outside the list are kept, title-cased the Turkish way."""

from __future__ import annotations

import functools

from crm_core.customers.model import tr_lower, tr_title

REGIONS: dict[str, tuple[str, ...]] = {
    "Marmara": (
        "Balıkesir", "Bilecik", "Bursa", "Çanakkale", "Edirne", "İstanbul", "Kırklareli", "Kocaeli", "Sakarya",
        "Tekirdağ", "Yalova",
    ),
    "Ege": ("Afyonkarahisar", "Aydın", "Denizli", "İzmir", "Kütahya", "Manisa", "Muğla", "Uşak"),
    "Akdeniz": ("Adana", "Antalya", "Burdur", "Hatay", "Isparta", "Kahramanmaraş", "Mersin", "Osmaniye"),
    "İç Anadolu": (
        "Aksaray", "Ankara", "Çankırı", "Eskişehir", "Karaman", "Kayseri", "Kırıkkale", "Kırşehir", "Konya",
        "Nevşehir", "Niğde", "Sivas", "Yozgat",
    ),
    "Karadeniz": (
        "Amasya", "Artvin", "Bartın", "Bayburt", "Bolu", "Çorum", "Düzce", "Giresun", "Gümüşhane", "Karabük",
        "Kastamonu", "Ordu", "Rize", "Samsun", "Sinop", "Tokat", "Trabzon", "Zonguldak",
    ),
    "Doğu Anadolu": (
        "Ağrı", "Ardahan", "Bingöl", "Bitlis", "Elazığ", "Erzincan", "Erzurum", "Hakkari", "Iğdır", "Kars",
        "Malatya", "Muş", "Tunceli", "Van",
    ),
    "Güneydoğu Anadolu": (
        "Adıyaman", "Batman", "Diyarbakır", "Gaziantep", "Kilis", "Mardin", "Siirt", "Şanlıurfa", "Şırnak",
    ),
}  # fmt: skip

#: Names people still use for a province.
ALIASES = {
    "Afyon": "Afyonkarahisar",
    "Maraş": "Kahramanmaraş",
    "Urfa": "Şanlıurfa",
    "Antep": "Gaziantep",
    "İçel": "Mersin",
    "Adapazarı": "Sakarya",
    "İzmit": "Kocaeli",
    "Hakkâri": "Hakkari",
}

_FOLD = str.maketrans("çğıöşüâîû", "cgiosuaiu", " -_.'")


def fold(name: str) -> str:
    """A key equal for every way of writing a name: ``"İç Anadolu"``, ``"IC ANADOLU"`` and ``"ic-anadolu"`` match."""
    return tr_lower(name).replace("i̇", "i").translate(_FOLD)


_PROVINCES = {fold(p): p for provinces in REGIONS.values() for p in provinces}
_PROVINCES.update({fold(alias): name for alias, name in ALIASES.items()})
_REGION_OF = {p: region for region, provinces in REGIONS.items() for p in provinces}
_REGIONS = {fold(r): r for r in REGIONS}
_REGIONS.update({fold(r.replace(" Anadolu", "")): r for r in REGIONS if r.endswith(" Anadolu")})


@functools.lru_cache(maxsize=4096)  # an import has a few dozen cities in a million rows
def city(name: str) -> str | None:
    """The province's proper name, or the name title-cased; None for an empty name."""
    name = " ".join(name.split())
    if not name:
        return None
    return _PROVINCES.get(fold(name)) or tr_title(name)


@functools.lru_cache(maxsize=256)
def region(name: str) -> str | None:
    name = " ".join(name.split())
    if not name:
        return None
    return _REGIONS.get(fold(name)) or tr_title(name)


def region_of(city_name: str | None) -> str | None:
    """The region of a province (as :func:`city` writes it); None for other places."""
    return _REGION_OF.get(city_name) if city_name else None
