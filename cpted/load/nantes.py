"""French sources: IGN BD TOPO buildings and Nantes Métropole facility categories."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["BDTOPO_HEIGHT_FIELDS", "BDTOPO_LEVELS_FIELDS", "NANTES_FIELDS", "nantes_category"]

#: BD TOPO height fields, by BD TOPO version (HAUTEUR in v3, HEIGHT in exports).
BDTOPO_HEIGHT_FIELDS = ("HAUTEUR", "HEIGHT", "hauteur")
#: BD TOPO storey count fields.
BDTOPO_LEVELS_FIELDS = ("NOMBRE_D_ETAGES", "NB_ETAGES", "nombre_d_etages")
#: The Nantes Métropole facility fields, coarsest first.
NANTES_FIELDS = ("LIBTHEME", "LIBCATEGORIE", "LIBTYPE")

_BY_CATEGORY = {
    "Cinéma": "culture", "Ecole Culturelle": "culture", "Monument": "tourism",
    "Musées & Châteaux": "culture", "Médiathèque": "culture", "Salle d'exposition": "culture",
    "Salle de spectacle": "culture",
    "Parc Relais": "parking", "Parc en Enclos": "parking", "Parking Ouvrage": "parking",
    "Voiture partagée": "transit", "Transport en commun": "transit", "Vélo": "transit",
    "Maternelle": "education", "Elémentaire": "education", "Primaire": "education",
    "Collège": "education", "Lycée": "education", "Supérieur": "education",
    "Centre de formation": "education", "Centre de recherche": "education",
    "Armée": "security", "Gendarmerie": "security", "Police": "security", "Pompiers": "security",
    "Justice": "public_service",
    "Social": "social",
    "Plaine de jeux": "sport", "Espace Sportif de Proximité": "sport",
    "Parc": "park", "Environnement": "public_service", "Habitat": "public_service",
    "Service": "public_service",
    "Etudiant": "social", "Personne agée": "social", "Jeunesse": "community",
    "Petite enfance": "childcare", "Vie associative": "community",
}
_BY_THEME = {
    "CULTURE": "culture", "DEPLACEMENT": "transit", "ENSEIGNEMENT": "education",
    "JUSTICE & SECURITE": "security", "SERVICE PUBLIC": "public_service", "SPORTS": "sport",
    "VIE PRATIQUE": "public_service", "VIE SOCIALE": "social",
}


def nantes_category(facilities: pd.DataFrame) -> pd.Series:
    """Map Nantes Métropole facility fields (LIBTHEME / LIBCATEGORIE) to POI categories.

    LIBCATEGORIE decides where it is known, else LIBTHEME; anything else is ``"other"``.

    Examples
    --------
    >>> df = pd.DataFrame({"LIBTHEME": ["SPORTS", "VIE PRATIQUE", "X"],
    ...                    "LIBCATEGORIE": ["Gymnase", "Parc", None]})
    >>> nantes_category(df).tolist()
    ['sport', 'park', 'other']
    """
    by_cat = facilities["LIBCATEGORIE"].map(_BY_CATEGORY)
    by_theme = facilities["LIBTHEME"].map(_BY_THEME)
    return by_cat.fillna(by_theme).fillna("other").rename("category")


def bdtopo_heights(buildings: gpd.GeoDataFrame, field: str) -> pd.Series:
    """BD TOPO heights in metres; zero or negative heights (unknown) become NaN.

    Examples
    --------
    >>> bdtopo_heights(pd.DataFrame({"HAUTEUR": [12.0, 0, None]}), "HAUTEUR").tolist()[:2]
    [12.0, nan]
    """
    h = pd.to_numeric(buildings[field], errors="coerce").astype(float)
    return h.where(h > 0, np.nan)
