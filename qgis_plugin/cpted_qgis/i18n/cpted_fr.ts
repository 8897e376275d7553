<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr_FR" sourcelanguage="en">
<context>
    <name>cpted</name>
    <message>
        <source>Access control</source>
        <translation>Contrôle d'accès</translation>
    </message>
    <message>
        <source>On the walk network: harmonic closeness, betweenness and angular choice (NACH, NAIN) within each radius, the share of through-movement, the entry points of the site (street, footway, steps, gated), the movement predictors (cut edges of the network leading somewhere, long detours, tunnels, steps) and, per place, the number of independent escape routes. The streets must cover at least half of the site.</source>
        <translation>Sur le réseau piéton : proximité harmonique, intermédiarité et choix angulaire (NACH, NAIN) dans chaque rayon, la part du trafic de transit, les points d'entrée du site (rue, cheminement, escaliers, portail), les prédicteurs de mouvement (arêtes de coupure du réseau menant quelque part, longs détours, tunnels, escaliers) et, pour chaque lieu, le nombre d'itinéraires de fuite indépendants. Les rues doivent couvrir au moins la moitié du site.</translation>
    </message>
    <message>
        <source>Access control cells</source>
        <translation>Cellules contrôle d'accès</translation>
    </message>
    <message>
        <source>Street segments with centralities</source>
        <translation>Tronçons de rue et leurs centralités</translation>
    </message>
    <message>
        <source>Entry points</source>
        <translation>Points d'entrée</translation>
    </message>
    <message>
        <source>Movement predictors</source>
        <translation>Prédicteurs de mouvement</translation>
    </message>
    <message>
        <source>Activity and land-use mix</source>
        <translation>Activité et mixité fonctionnelle</translation>
    </message>
    <message>
        <source>Per place: the points of interest reachable along the walk network within each radius, by category, their land-use mix (Hill numbers D0, D1, D2 and normalised entropy), and those open at night (from an opening_hours field). The category field must hold the cpted categories: education, childcare, culture, sport, park, playground, public_service, social, health, security, transit, parking, shop, food_drink, worship, community, office, tourism, waste, residential, commercial, industrial, other.</source>
        <translation>Pour chaque lieu : les équipements et commerces accessibles à pied dans chaque rayon, par catégorie, leur mixité (nombres de Hill D0, D1, D2 et entropie normalisée), et ceux ouverts la nuit (d'après un champ opening_hours). Le champ de catégorie doit contenir les catégories de cpted : education, childcare, culture, sport, park, playground, public_service, social, health, security, transit, parking, shop, food_drink, worship, community, office, tourism, waste, residential, commercial, industrial, other.</translation>
    </message>
    <message>
        <source>Activity cells</source>
        <translation>Cellules activité</translation>
    </message>
    <message>
        <source>Audit site (all principles)</source>
        <translation>Auditer un site (tous les principes)</translation>
    </message>
    <message>
        <source>Scores every place of a site (a grid of cells over its public open space) for the four CPTED principles: natural surveillance, territoriality, access control and maintenance/image, plus activity support; then the CPTED index, the night surveillance score, the drivers of each score and the ranked problem places. Layers in another CRS than the site are reprojected to it. Inputs that are not given make their measures unknown (not zero): the completeness columns and the notes say which. Scores use the 800 m network radius. The HTML report holds the maps, the charts, the completeness table, the method and the sources.</source>
        <translation>Note chaque lieu d'un site (une grille de cellules sur son espace public ouvert) selon les quatre principes de la prévention situationnelle : surveillance naturelle, territorialité, contrôle d'accès et entretien/image, ainsi que le soutien à l'activité ; puis l'indice CPTED, la note de surveillance nocturne, les facteurs de chaque note et les lieux problématiques classés. Les couches dans un autre SCR que le site y sont reprojetées. Les entrées non fournies rendent leurs mesures inconnues (et non nulles) : les colonnes de complétude et les notes indiquent lesquelles. Les notes utilisent le rayon réseau de 800 m. Le rapport HTML contient les cartes, les graphiques, le tableau de complétude, la méthode et les sources.</translation>
    </message>
    <message>
        <source>CPTED cells (scores per place)</source>
        <translation>Cellules CPTED (notes par lieu)</translation>
    </message>
    <message>
        <source>Problem places</source>
        <translation>Lieux problématiques</translation>
    </message>
    <message>
        <source>HTML report</source>
        <translation>Rapport HTML</translation>
    </message>
    <message>
        <source>HTML files (*.html)</source>
        <translation>Fichiers HTML (*.html)</translation>
    </message>
    <message>
        <source>CPTED index of the site (0-100)</source>
        <translation>Indice CPTED du site (0-100)</translation>
    </message>
    <message>
        <source>Why a score is missing</source>
        <translation>Pourquoi une note manque</translation>
    </message>
    <message>
        <source>CPTED audit</source>
        <translation>Audit CPTED</translation>
    </message>
    <message>
        <source>Preparing the site</source>
        <translation>Préparation du site</translation>
    </message>
    <message>
        <source>Streets and footpaths (lines)</source>
        <translation>Rues et cheminements piétons (lignes)</translation>
    </message>
    <message>
        <source>Buildings (polygons)</source>
        <translation>Bâtiments (polygones)</translation>
    </message>
    <message>
        <source>Building entrances (points)</source>
        <translation>Entrées des bâtiments (points)</translation>
    </message>
    <message>
        <source>Barriers: fences, walls, hedges, gates (lines or points)</source>
        <translation>Clôtures : grilles, murs, haies, portails (lignes ou points)</translation>
    </message>
    <message>
        <source>Street lamps (points)</source>
        <translation>Candélabres (points)</translation>
    </message>
    <message>
        <source>Points of interest (shops, services, facilities)</source>
        <translation>Équipements et commerces (points)</translation>
    </message>
    <message>
        <source>Land use and private plots (polygons)</source>
        <translation>Occupation du sol et parcelles privées (polygones)</translation>
    </message>
    <message>
        <source>Disorder reports or walk-audit observations (points)</source>
        <translation>Signalements de désordres ou observations de marche exploratoire (points)</translation>
    </message>
    <message>
        <source>Cell size of the analysis grid (m)</source>
        <translation>Taille des cellules de la grille d'analyse (m)</translation>
    </message>
    <message>
        <source>Context ring around the site (m)</source>
        <translation>Anneau de contexte autour du site (m)</translation>
    </message>
    <message>
        <source>View radius of isovists (m)</source>
        <translation>Rayon de vue des isovistes (m)</translation>
    </message>
    <message>
        <source>Network radii (m, comma-separated; scores use 800)</source>
        <translation>Rayons réseau (m, séparés par des virgules ; les notes utilisent 800)</translation>
    </message>
    <message>
        <source>Weights file (TOML; the defaults when empty)</source>
        <translation>Fichier de pondérations (TOML ; valeurs par défaut si vide)</translation>
    </message>
    <message>
        <source>Writing the outputs</source>
        <translation>Écriture des résultats</translation>
    </message>
    <message>
        <source>Site boundary (polygons, in a metre-based CRS)</source>
        <translation>Périmètre du site (polygones, dans un SCR en mètres)</translation>
    </message>
    <message>
        <source>Site name</source>
        <translation>Nom du site</translation>
    </message>
    <message>
        <source>Canopy height raster (vegetation that blocks sightlines)</source>
        <translation>Raster de hauteur de canopée (végétation qui masque la vue)</translation>
    </message>
    <message>
        <source>Cancelled: no output was written.</source>
        <translation>Annulé : aucun résultat n'a été écrit.</translation>
    </message>
    <message>
        <source>Building height field (metres)</source>
        <translation>Champ de hauteur des bâtiments (mètres)</translation>
    </message>
    <message>
        <source>Building storeys field (when there is no height)</source>
        <translation>Champ du nombre d'étages (à défaut de hauteur)</translation>
    </message>
    <message>
        <source>Barrier kind field (fence, wall, hedge, gate...)</source>
        <translation>Champ du type de clôture (fence, wall, hedge, gate...)</translation>
    </message>
    <message>
        <source>Barrier height field (metres)</source>
        <translation>Champ de hauteur des clôtures (mètres)</translation>
    </message>
    <message>
        <source>Lamp mounting height field (metres)</source>
        <translation>Champ de hauteur de feu des candélabres (mètres)</translation>
    </message>
    <message>
        <source>Point of interest category field</source>
        <translation>Champ de catégorie des équipements</translation>
    </message>
    <message>
        <source>Land use category field</source>
        <translation>Champ de catégorie d'occupation du sol</translation>
    </message>
    <message>
        <source>Land use access field (private, yes...)</source>
        <translation>Champ d'accès de l'occupation du sol (private, yes...)</translation>
    </message>
    <message>
        <source>Report category field</source>
        <translation>Champ de catégorie des signalements</translation>
    </message>
    <message>
        <source>Report date field</source>
        <translation>Champ de date des signalements</translation>
    </message>
    <message>
        <source>Layer '{layer}': {n} features as {kind}.</source>
        <translation>Couche « {layer} » : {n} entités lues comme {kind}.</translation>
    </message>
    <message>
        <source>The site layer '{layer}' has no feature: select or draw the site polygon.</source>
        <translation>La couche du site « {layer} » n'a aucune entité : sélectionnez ou dessinez le polygone du site.</translation>
    </message>
    <message>
        <source>Category map '{item}': write value=category pairs separated by ';', e.g. boulangerie=shop; école=education</source>
        <translation>Table de catégories « {item} » : écrivez des paires valeur=catégorie séparées par « ; », par ex. boulangerie=shop; école=education</translation>
    </message>
    <message>
        <source>Category map: value=category pairs separated by ';' (values not listed become 'other')</source>
        <translation>Table de catégories : paires valeur=catégorie séparées par « ; » (les valeurs absentes deviennent « other »)</translation>
    </message>
    <message>
        <source>Network radii '{text}': write numbers of metres separated by commas, e.g. 400,800,1200</source>
        <translation>Rayons réseau « {text} » : écrivez des nombres de mètres séparés par des virgules, par ex. 400,800,1200</translation>
    </message>
    <message>
        <source>Compare scenarios (existing against proposed)</source>
        <translation>Comparer des scénarios (existant et projet)</translation>
    </message>
    <message>
        <source>Audits the existing design and a proposed design of the same site on the same cells, and maps the change of every score (proposed minus existing). A proposed layer left empty is the existing one; a proposed layer given replaces the existing one (give the whole proposed layer, e.g. the existing buildings plus the new ones). Cells the proposed design builds on are flagged built_over. The changes layer outlines the places whose principle score moved by 5 points or more.</source>
        <translation>Audite l'état existant et un projet du même site sur les mêmes cellules, et cartographie la variation de chaque note (projet moins existant). Une couche de projet laissée vide reprend l'existant ; une couche de projet fournie remplace l'existante (donnez la couche complète du projet, par ex. les bâtiments existants et les nouveaux). Les cellules sur lesquelles le projet construit sont marquées built_over. La couche des changements entoure les lieux dont la note d'un principe a varié de 5 points ou plus.</translation>
    </message>
    <message>
        <source>Score changes per cell</source>
        <translation>Variation des notes par cellule</translation>
    </message>
    <message>
        <source>Places that got better or worse</source>
        <translation>Lieux améliorés ou dégradés</translation>
    </message>
    <message>
        <source>Existing layers surveyed and empty (there is none, e.g. no lamp)</source>
        <translation>Couches existantes relevées et vides (il n&apos;y en a aucun, p. ex. aucun lampadaire)</translation>
    </message>
    <message>
        <source>tick {kind} under &apos;Existing layers surveyed and empty&apos;</source>
        <translation>cochez {kind} sous « Couches existantes relevées et vides »</translation>
    </message>
    <message>
        <source>Proposed: </source>
        <translation>Projet : </translation>
    </message>
    <message>
        <source>Change of the site's CPTED index</source>
        <translation>Variation de l'indice CPTED du site</translation>
    </message>
    <message>
        <source>No proposed layer was given: both designs are the same.</source>
        <translation>Aucune couche de projet fournie : les deux scénarios sont identiques.</translation>
    </message>
    <message>
        <source>Isovists from points</source>
        <translation>Isovistes depuis des points</translation>
    </message>
    <message>
        <source>The exact isovist (the area visible at eye level) of each observer point among the obstacles (building polygons, and opaque lines such as walls), within the view radius, with its measures: isovist_area (m2), isovist_perimeter (m), isovist_compactness (1 for a disc), isovist_occlusivity (m of boundary that is no surface), isovist_min_radial and isovist_max_radial (nearest and farthest visible point, m) and isovist_drift (m from the observer to the centroid). The observer layer's CRS must be metre-based; the obstacles are reprojected to it. An observer inside an obstacle sees nothing.</source>
        <translation>L'isoviste exact (la zone visible à hauteur d'yeux) de chaque point d'observation parmi les obstacles (polygones des bâtiments et lignes opaques comme les murs), dans le rayon de vue, avec ses mesures : isovist_area, l'aire (m2) ; isovist_perimeter, le périmètre (m) ; isovist_compactness, la compacité (1 pour un disque) ; isovist_occlusivity (m de contour qui n'est pas une surface) ; isovist_min_radial et isovist_max_radial, les points visibles le plus proche et le plus lointain (m) ; isovist_drift, la dérive (m de l'observateur au centroïde). Le SCR de la couche des observateurs doit être en mètres ; les obstacles y sont reprojetés. Un observateur à l'intérieur d'un obstacle ne voit rien.</translation>
    </message>
    <message>
        <source>Observer points (in a metre-based CRS)</source>
        <translation>Points d'observation (dans un SCR en mètres)</translation>
    </message>
    <message>
        <source>Obstacles: buildings (polygons) or opaque walls (lines)</source>
        <translation>Obstacles : bâtiments (polygones) ou murs opaques (lignes)</translation>
    </message>
    <message>
        <source>View radius (m)</source>
        <translation>Rayon de vue (m)</translation>
    </message>
    <message>
        <source>Isovists</source>
        <translation>Isovistes</translation>
    </message>
    <message>
        <source>Maintenance and image</source>
        <translation>Entretien et image</translation>
    </message>
    <message>
        <source>Per place: the density of disorder reports and walk-audit observations (older reports weigh less, with a half-life), the waste points nearby (points of interest of category waste), and the maintenance score, which needs reports. Per site: derelict buildings and land, and, with a canopy height raster, how much vegetation blocks sightlines at eye level.</source>
        <translation>Pour chaque lieu : la densité des signalements de désordres et des observations de marches exploratoires (les plus anciens pèsent moins, selon une demi-vie), les points de collecte des déchets proches (équipements de catégorie waste), et la note d'entretien, qui nécessite des signalements. Pour le site : les bâtiments et terrains à l'abandon et, avec un raster de hauteur de canopée, la part de végétation qui masque la vue à hauteur d'yeux.</translation>
    </message>
    <message>
        <source>Maintenance cells</source>
        <translation>Cellules entretien</translation>
    </message>
    <message>
        <source>Natural surveillance</source>
        <translation>Surveillance naturelle</translation>
    </message>
    <message>
        <source>Per place: the isovist (visible area and shape) within the view radius, visual connectivity, eyes on the street (entrances and windows that see the place within 15 m and 43 m), illuminance from the lamps (with building shadows) and its EN 13201 class, and the surveillance score. Also the blind spots, entrapment spots and recesses. Needs buildings (with heights) and, for lighting, lamps.</source>
        <translation>Pour chaque lieu : l'isoviste (aire et forme visibles) dans le rayon de vue, la connectivité visuelle, les yeux sur la rue (entrées et fenêtres qui voient le lieu à moins de 15 m et 43 m), l'éclairement des candélabres (avec l'ombre des bâtiments) et sa classe EN 13201, et la note de surveillance. Aussi les angles morts, les pièges et les recoins. Nécessite les bâtiments (avec leurs hauteurs) et, pour l'éclairage, les candélabres.</translation>
    </message>
    <message>
        <source>Surveillance cells</source>
        <translation>Cellules surveillance</translation>
    </message>
    <message>
        <source>Blind spots, entrapment spots and recesses</source>
        <translation>Angles morts, pièges et recoins</translation>
    </message>
    <message>
        <source>Territoriality</source>
        <translation>Territorialité</translation>
    </message>
    <message>
        <source>Per place: its depth from public streets and whether it is ambiguous space (far from any door or front), and the territoriality score. Per site: how much of the public/private edge is defined by fences, walls or hedges, entrances per 100 m of street, fronted and blank shares, and how many entrances see each other. Private plots come from the land-use layer (access private, or residential of at most 1 ha).</source>
        <translation>Pour chaque lieu : sa profondeur depuis les rues publiques, s'il s'agit d'un espace ambigu (loin de toute porte ou façade), et la note de territorialité. Pour le site : la part de la limite public/privé marquée par des grilles, murs ou haies, les entrées par 100 m de rue, les parts de façades actives et aveugles, et combien d'entrées se voient entre elles. Les parcelles privées viennent de la couche d'occupation du sol (accès privé, ou résidentiel d'au plus 1 ha).</translation>
    </message>
    <message>
        <source>Territoriality cells</source>
        <translation>Cellules territorialité</translation>
    </message>
    <message>
        <source>Boundary pieces of the public/private edge</source>
        <translation>Tronçons de la limite public/privé</translation>
    </message>
    <message>
        <source>Ambiguous space</source>
        <translation>Espaces ambigus</translation>
    </message>
    <message>
        <source>completeness</source>
        <translation>complétude</translation>
    </message>
    <message>
        <source>network</source>
        <translation>réseau</translation>
    </message>
    <message>
        <source>surveillance</source>
        <translation>surveillance</translation>
    </message>
    <message>
        <source>access control</source>
        <translation>contrôle d'accès</translation>
    </message>
    <message>
        <source>activity</source>
        <translation>activité</translation>
    </message>
    <message>
        <source>territoriality</source>
        <translation>territorialité</translation>
    </message>
    <message>
        <source>maintenance</source>
        <translation>entretien</translation>
    </message>
    <message>
        <source>scores</source>
        <translation>notes</translation>
    </message>
    <message>
        <source>Layer '{layer}' has no CRS: set it (Layer &gt; Set CRS), then reproject to a metre-based CRS (e.g. EPSG:2154 Lambert-93).</source>
        <translation>La couche « {layer} » n'a pas de SCR : définissez-le (Couche &gt; Définir le SCR), puis reprojetez-la dans un SCR en mètres (par ex. EPSG:2154 Lambert-93).</translation>
    </message>
    <message>
        <source>Layer '{layer}' is in {crs}, which is not in metres: reproject to a metre-based CRS (e.g. EPSG:2154 Lambert-93 or the local UTM zone) with Vector &gt; Data Management Tools &gt; Reproject Layer.</source>
        <translation>La couche « {layer} » est en {crs}, qui n'est pas en mètres : reprojetez-la dans un SCR en mètres (par ex. EPSG:2154 Lambert-93 ou la zone UTM locale) avec Vecteur &gt; Outils de gestion de données &gt; Reprojeter une couche.</translation>
    </message>
    <message>
        <source>Layer '{layer}' is in {src}: it is reprojected to the site's {dst}.</source>
        <translation>La couche « {layer} » est en {src} : elle est reprojetée dans le SCR du site, {dst}.</translation>
    </message>
    <message>
        <source>Reading '{layer}': {done} of {total} features</source>
        <translation>Lecture de « {layer} » : {done} entités sur {total}</translation>
    </message>
    <message>
        <source>Running: {step}</source>
        <translation>Calcul : {step}</translation>
    </message>
    <message>
        <source>CPTED audit (crime prevention through environmental design)</source>
        <translation>Audit CPTED (prévention situationnelle par l'aménagement)</translation>
    </message>
    <message>
        <source>Debian/Ubuntu: QGIS has loaded Debian's GDAL, PROJ and GEOS, and the pip wheels of shapely, pyproj, pyogrio and rasterio crash inside it: build those four from source with the script of the cpted sources:
      sudo apt-get install --no-install-recommends python3-venv python3-dev build-essential libgdal-dev libgeos-dev libproj-dev proj-bin
      bash qgis_plugin/scripts/qgis_env.sh ~/cpted-qgis
      source ~/cpted-qgis/bin/activate &amp;&amp; qgis
    (about 6 minutes; always start QGIS from that environment).</source>
        <translation>Debian/Ubuntu : QGIS a chargé les GDAL, PROJ et GEOS de Debian, et les wheels pip de shapely, pyproj, pyogrio et rasterio y plantent : compilez ces quatre paquets depuis leurs sources avec le script des sources de cpted :
      sudo apt-get install --no-install-recommends python3-venv python3-dev build-essential libgdal-dev libgeos-dev libproj-dev proj-bin
      bash qgis_plugin/scripts/qgis_env.sh ~/cpted-qgis
      source ~/cpted-qgis/bin/activate &amp;&amp; qgis
    (environ 6 minutes ; lancez toujours QGIS depuis cet environnement).</translation>
    </message>
    <message>
        <source>How to install:</source>
        <translation>Pour l'installer :</translation>
    </message>
    <message>
        <source>Or install the QPIP plugin (Plugins menu, Manage and Install Plugins): it reads this plugin's requirements.txt and asks before installing anything (not on Debian/Ubuntu: it installs wheels). The cpted plugin never runs pip itself.</source>
        <translation>Ou installez l'extension QPIP (menu Extensions, Installer/Gérer les extensions) : elle lit le requirements.txt de cette extension et demande avant d'installer quoi que ce soit (pas sous Debian/Ubuntu : elle installe des wheels). L'extension cpted ne lance jamais pip elle-même.</translation>
    </message>
    <message>
        <source>Then restart QGIS.</source>
        <translation>Puis redémarrez QGIS.</translation>
    </message>
    <message>
        <source>{name} does not import: {error}</source>
        <translation>{name} ne s'importe pas : {error}</translation>
    </message>
    <message>
        <source>{name}: not installed (needed: {wanted})</source>
        <translation>{name} : non installé (requis : {wanted})</translation>
    </message>
    <message>
        <source>{name} {found} is installed; needed: {wanted}</source>
        <translation>{name} {found} est installé ; requis : {wanted}</translation>
    </message>
    <message>
        <source>{name} {found} is a pip wheel with its own GEOS/PROJ/GDAL ({libs}): inside QGIS on Linux it crashes; build it from source</source>
        <translation>{name} {found} est une wheel pip avec ses propres GEOS/PROJ/GDAL ({libs}) : dans QGIS sous Linux elle plante ; compilez-le depuis ses sources</translation>
    </message>
    <message>
        <source>The cpted plugin needs the cpted library and its dependencies in the Python that QGIS runs ({python}). Missing or incompatible:</source>
        <translation>L'extension cpted a besoin de la bibliothèque cpted et de ses dépendances dans le Python de QGIS ({python}). Manquants ou incompatibles :</translation>
    </message>
    <message>
        <source>Windows (QGIS from OSGeo4W or the standalone installer): close QGIS, open the OSGeo4W Shell (Start menu, QGIS folder), run:
      python -m pip install -r {requirements}
    then start QGIS again.</source>
        <translation>Windows (QGIS d'OSGeo4W ou de l'installateur autonome) : fermez QGIS, ouvrez l'OSGeo4W Shell (menu Démarrer, dossier QGIS), lancez :
      python -m pip install -r {requirements}
    puis relancez QGIS.</translation>
    </message>
    <message>
        <source>macOS (the QGIS bundle's own Python): close QGIS, open Terminal, run:
      {python} -m pip install --user -r {requirements}
    then start QGIS again.</source>
        <translation>macOS (le Python de l'application QGIS) : fermez QGIS, ouvrez le Terminal, lancez :
      {python} -m pip install --user -r {requirements}
    puis relancez QGIS.</translation>
    </message>
    <message>
        <source>This computer: </source>
        <translation>Cet ordinateur : </translation>
    </message>
    <message>
        <source>cpted</source>
        <translation>cpted</translation>
    </message>
    <message>
        <source>The cpted library is missing or incompatible: the algorithms cannot run yet.</source>
        <translation>La bibliothèque cpted est absente ou incompatible : les algorithmes ne peuvent pas encore tourner.</translation>
    </message>
    <message>
        <source>&lt;plugin folder&gt;</source>
        <translation>&lt;dossier de l'extension&gt;</translation>
    </message>
</context>
</TS>
