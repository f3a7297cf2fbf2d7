"""From spreadsheet headers and labels to lead columns and option values.

The default mapping accepts the English and French column titles of the Dynamics 365
lead form and every writable lead logical name; a mapping file (YAML) adds or overrides
headers, sets defaults for columns the file lacks, and lists headers to ignore.
Option values are accepted as their number, their English label or their French label,
case- and accent-insensitively.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from d365lab.backlog.csvio import read_text_file
from d365lab.models import enums as e
from d365lab.models.schema import LEAD

#: Writable lead columns an import may fill.
IMPORTABLE_COLUMNS: tuple[str, ...] = (
    "subject", "firstname", "lastname", "companyname", "jobtitle", "emailaddress1",
    "telephone1", "mobilephone", "websiteurl", "leadsourcecode", "leadqualitycode",
    "estimatedamount", "budgetamount", "budgetstatus", "purchasetimeframe", "purchaseprocess",
    "need", "decisionmaker", "description", "estimatedclosedate", "address1_line1",
    "address1_city", "address1_stateorprovince", "address1_postalcode", "address1_country",
    "salutation", "industrycode", "revenue", "numberofemployees", "address1_line2", "address1_line3",
)
#: Columns every import must be able to fill (from a CSV column or a mapping default).
REQUIRED_COLUMNS: tuple[str, ...] = ("lastname", "subject")

#: Spreadsheet titles (English and French) for each lead column; logical names map to themselves.
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "subject": ("Topic", "Subject", "Sujet", "Objet"),
    "firstname": ("First Name", "Prénom"),
    "lastname": ("Last Name", "Nom", "Nom de famille"),
    "companyname": ("Company", "Company Name", "Société", "Entreprise", "Nom de la société"),
    "jobtitle": ("Job Title", "Title", "Fonction", "Poste"),
    "emailaddress1": ("Email", "E-mail", "Email Address", "Courriel", "Adresse e-mail", "Adresse de messagerie"),
    "telephone1": ("Business Phone", "Phone", "Téléphone", "Téléphone professionnel"),
    "mobilephone": ("Mobile Phone", "Mobile", "Téléphone mobile", "Portable"),
    "websiteurl": ("Website", "Site web", "Site Web"),
    "leadsourcecode": ("Lead Source", "Source", "Origine", "Origine du prospect"),
    "leadqualitycode": ("Rating", "Évaluation", "Notation"),
    "estimatedamount": ("Est. Value", "Estimated Value", "Valeur estimée"),
    "budgetamount": ("Budget", "Budget Amount", "Montant du budget"),
    "budgetstatus": ("Budget Status", "Statut du budget"),
    "purchasetimeframe": ("Purchase Timeframe", "Délai d'achat"),
    "purchaseprocess": ("Purchase Process", "Processus d'achat"),
    "need": ("Need", "Besoin"),
    "decisionmaker": ("Decision Maker", "Décideur"),
    "description": ("Description", "Notes"),
    "estimatedclosedate": ("Est. Close Date", "Estimated Close Date", "Date de clôture estimée"),
    "address1_line1": ("Street", "Street 1", "Address", "Address 1", "Rue", "Adresse"),
    "address1_city": ("City", "Ville"),
    "address1_stateorprovince": ("State/Province", "State", "Province", "Région"),
    "address1_postalcode": ("ZIP/Postal Code", "Postal Code", "ZIP", "Code postal"),
    "address1_country": ("Country/Region", "Country", "Pays", "Pays/région"),
    "salutation": ("Salutation", "Civilité"),
    "industrycode": ("Industry", "Secteur d'activité", "Secteur"),
    "revenue": ("Annual Revenue", "Revenue", "Chiffre d'affaires", "Chiffre d'affaires annuel"),
    "numberofemployees": ("No. of Employees", "Number of Employees", "Employees", "Nombre d'employés",
                          "Effectif"),
    "address1_line2": ("Street 2", "Address 2", "Rue 2", "Adresse 2"),
    "address1_line3": ("Street 3", "Address 3", "Rue 3", "Adresse 3"),
}

#: French labels of the option sets an import may set (English labels come from enums.label_of).
FRENCH_LABELS: dict[type[IntEnum], dict[int, tuple[str, ...]]] = {
    e.LeadSource: {
        1: ("Publicité",), 2: ("Recommandation d'un employé", "Recommandation interne"),
        3: ("Recommandation externe",), 4: ("Partenaire",), 5: ("Relations publiques",),
        6: ("Séminaire",), 7: ("Salon professionnel", "Salon"), 8: ("Web", "Internet"),
        9: ("Bouche à oreille",), 10: ("Autre",),
    },
    e.Rating: {1: ("Chaud",), 2: ("Tiède",), 3: ("Froid",)},
    e.BudgetStatus: {0: ("Aucun budget engagé",), 1: ("Achat possible",),
                     2: ("Peut acheter",), 3: ("Va acheter", "Achètera")},
    e.PurchaseTimeframe: {0: ("Immédiat", "Immédiatement"), 1: ("Ce trimestre",),
                          2: ("Trimestre prochain", "Le trimestre prochain"), 3: ("Cette année",),
                          4: ("Inconnu",)},
    e.PurchaseProcess: {0: ("Individuel",), 1: ("Comité",), 2: ("Inconnu",)},
    e.Need: {0: ("Indispensable", "Obligatoire"), 1: ("Souhaitable",), 2: ("Serait un plus", "Utile"),
             3: ("Aucun besoin", "Pas de besoin")},
}


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """Fold a header, label or name for comparison: no accents, lowercase, single spaces.

    >>> normalize("  Délai d'ACHAT ")
    'delai d achat'
    """
    if not text.isascii():
        return _normalize_accented(text)
    folded = text.lower()
    if "  " not in folded and folded.replace(" ", "").isalnum():
        return folded.strip()  # letters, digits and single spaces: most names are
    return _NOT_ALNUM.sub(" ", folded).strip()


@lru_cache(maxsize=4096)
def _normalize_accented(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", folded.lower()).strip()


@cache
def option_lookup(enum_cls: type[IntEnum]) -> dict[str, int]:
    """Every accepted spelling of an option set's values (number, English and French labels)."""
    table: dict[str, int] = {}
    for member in enum_cls:
        table[str(int(member))] = int(member)
        table[normalize(e.label_of(member))] = int(member)
        table[normalize(member.name)] = int(member)
    for value, labels in FRENCH_LABELS.get(enum_cls, {}).items():
        for label in labels:
            table.setdefault(normalize(label), value)
    return table


@lru_cache(maxsize=1024)
def parse_option(column: str, raw: str) -> int:
    """The option value of a lead picklist column given a number or a label; ValueError if unknown.

    Cached: a backlog file repeats the same few labels on every row.
    """
    enum_cls = LEAD.columns[column].options
    assert enum_cls is not None, f"{column} is not an option set"
    found = option_lookup(enum_cls).get(normalize(raw))
    if found is None:
        choices = ", ".join(e.label_of(m) for m in enum_cls)
        raise ValueError(f"{raw!r} is not a value of {column} (expected one of: {choices})")
    return found


class MappingFile(BaseModel):
    """The optional mapping file (YAML).

    ``columns`` maps a CSV header to a lead column, ``defaults`` gives a value (as it would
    appear in the CSV) for lead columns the file lacks or leaves empty, ``ignore`` lists
    CSV headers to skip without a warning. Any other key is refused: a misspelt ``columns``
    (or a rules file passed by mistake) must not silently become "no mapping".
    """

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list)


_MAPPING_KEYS = ", ".join(MappingFile.model_fields)


class MappingError(Exception):
    """The mapping cannot be built (bad mapping file, missing required columns)."""


def load_mapping_file(path: Path) -> MappingFile:
    """Load and validate a mapping file; the lead columns it names must be importable."""
    try:
        data: Any = yaml.safe_load(read_text_file(path)) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise MappingError(f"mapping file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(data, dict):
        raise MappingError(f"mapping file {path}: expected a mapping with the keys {_MAPPING_KEYS}")
    unknown = [str(key) for key in data if key not in MappingFile.model_fields]
    if unknown:
        raise MappingError(f"mapping file {path}: unknown key {', '.join(map(repr, unknown))} "
                           f"(expected {_MAPPING_KEYS})")
    try:
        mapping = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"mapping file {path}: {exc}") from None
    for column in [*mapping.columns.values(), *mapping.defaults]:
        if column not in IMPORTABLE_COLUMNS:
            raise MappingError(f"mapping file {path}: {column!r} is not an importable lead column "
                               f"(one of: {', '.join(IMPORTABLE_COLUMNS)})")
    return mapping


class ColumnMapping:
    """How the headers of one CSV file map onto lead columns."""

    def __init__(self, header: list[str], mapping_file: MappingFile | None = None) -> None:
        mapping_file = mapping_file or MappingFile()
        aliases: dict[str, str] = {}
        for target, titles in DEFAULT_HEADERS.items():
            aliases[normalize(target)] = target
            for title in titles:
                aliases.setdefault(normalize(title), target)
        explicit = {normalize(h): c for h, c in mapping_file.columns.items()}
        ignored = {normalize(h) for h in mapping_file.ignore}
        #: CSV header -> lead column
        self.columns: dict[str, str] = {}
        #: CSV headers nobody maps (reported to the user, then skipped)
        self.unmapped: list[str] = []
        for name in header:
            key = normalize(name)
            column: str | None = explicit.get(key) or (None if key in ignored else aliases.get(key))
            if column is None:
                if key not in ignored:
                    self.unmapped.append(name)
                continue
            if column in self.columns.values():
                raise MappingError(f"two CSV columns map to lead column {column!r} (second: {name!r})")
            self.columns[name] = column
        self.defaults = {column: value.strip() for column, value in mapping_file.defaults.items() if value.strip()}
        #: (position in the header, lead column) of each mapped CSV column
        self._positions = [(header.index(name), column) for name, column in self.columns.items()]
        missing = [c for c in REQUIRED_COLUMNS if c not in self.columns.values() and c not in self.defaults]
        if missing:
            raise MappingError(
                "missing required column(s): " + ", ".join(
                    f"{c} (e.g. {DEFAULT_HEADERS[c][0]!r})" for c in missing)
                + f"; the file has: {', '.join(header)}")

    def apply(self, record: list[str]) -> dict[str, str]:
        """A record's non-empty values (in the order of the header) keyed by lead column, defaults
        filling empty cells."""
        out = {column: value for position, column in self._positions if (value := record[position])}
        for column, value in self.defaults.items():
            out.setdefault(column, value)
        return out
